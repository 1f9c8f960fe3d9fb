"""rasa-sdk adapters: read the tracker, call the plain logic, emit messages + `cskh_meta`.

The knowledge base and the order store are loaded once per process. `warm_up()` runs when
the Sanic worker of rasa-sdk imports this module at server start (unless
`CSKH_ACTIONS_PRELOAD=false`), before it accepts requests, so the first customer does not
wait for the index; if that fails (no index built yet) the error is
logged and loading is retried on the next request instead of crashing the server.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import FaqAnswer, FaqConfig, SearchesKnowledge, answer_article, answer_question
from actions.orders import OrderStore, normalize_order_code, order_status_reply
from actions.settings import ActionSettings, get_settings
from actions.telemetry import ACTION_METRICS
from cskh import query_vector

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_kb: SearchesKnowledge | None = None
_orders: OrderStore | None = None

KB_UNAVAILABLE_TEXT = (
    "Dạ hệ thống tra cứu của Sao Mai Shop đang tạm gián đoạn ạ. Anh/chị vui lòng thử lại sau "
    "ít phút, hoặc nhắn \"gặp nhân viên\" để được hỗ trợ trực tiếp."
)
HUMAN_BUTTON = {"title": "Gặp nhân viên", "payload": "/request_human"}


def _faq_config(settings: ActionSettings) -> FaqConfig:
    return FaqConfig(
        confident_score=settings.confident_score,
        confident_score_no_diacritics=settings.confident_score_no_diacritics,
        min_relevant_score=settings.min_relevant_score,
        ambiguity_margin=settings.ambiguity_margin,
        max_answer_chars=settings.max_answer_chars,
        max_choices=settings.max_choices,
    )


def get_knowledge_base() -> SearchesKnowledge:
    """The process-wide knowledge base, loaded on first use (thread-safe)."""
    global _kb
    kb = _kb
    if kb is None:
        with _lock:
            kb = _kb
            if kb is None:
                # Imported here: the index (and the embedder's model) load only when needed.
                from knowledge_base.embedders import load_embedder
                from knowledge_base.search import KnowledgeBase

                settings = get_settings()
                embedder = load_embedder(settings.embedder) if settings.embedder else None
                kb = _kb = KnowledgeBase.load(settings.index_dir, embedder=embedder)
                logger.info("Knowledge base loaded from %s", settings.index_dir)
    return kb


def set_knowledge_base(kb: SearchesKnowledge | None) -> None:
    """Inject a knowledge base (tests, or an embedding host process)."""
    global _kb
    _kb = kb


def get_order_store() -> OrderStore:
    global _orders
    if _orders is None:
        _orders = OrderStore.load(get_settings().orders_file)
    return _orders


def warm_up() -> None:
    try:
        get_order_store()
        kb = get_knowledge_base()
        kb.search("phí giao hàng", top_k=1)  # first query pays one-off embedder set-up costs
    except Exception:
        logger.exception("Could not preload the knowledge base; will retry on first use")


def _meta(payload: dict[str, Any]) -> dict[str, Any]:
    return {"cskh_meta": payload}


def _known_vectors(kb: SearchesKnowledge, tracker: Tracker) -> dict[str, Any] | None:
    """The hub's e5 vector of this message, when it came from the index's own embedder."""
    payload = (tracker.latest_message.get("metadata") or {}).get(query_vector.METADATA_KEY)
    embedder = getattr(kb, "embedder", None)
    if payload is None or embedder is None:
        return None
    decoded = query_vector.decode(payload, str(embedder.name), int(embedder.dim))
    if decoded is None:
        logger.warning("ignoring a malformed or foreign %s", query_vector.METADATA_KEY)
        return None
    text, vector = decoded
    return {text: vector}


def _last_customer_text(tracker: Tracker) -> str:
    """The customer's latest typed text (button payloads like "/choose_article{...}" skipped)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            text = (event.get("text") or "").strip()
            if text and not text.startswith("/"):
                return text
    return ""


def _emit_faq(dispatcher: CollectingDispatcher, answer: FaqAnswer) -> None:
    if answer.kind == "answer":
        dispatcher.utter_message(text=answer.text)
        dispatcher.utter_message(json_message=_meta(answer.meta()))
        dispatcher.utter_message(response="utter_ask_helpful")
    elif answer.kind == "choices":
        buttons = [
            {"title": a.title, "payload": f'/choose_article{{"article_id":"{a.id}"}}'}
            for a in answer.articles
        ]
        dispatcher.utter_message(text=answer.text, buttons=[*buttons, HUMAN_BUTTON])
        dispatcher.utter_message(json_message=_meta(answer.meta()))
    else:
        dispatcher.utter_message(text=answer.text, buttons=[HUMAN_BUTTON])
        dispatcher.utter_message(json_message=_meta(answer.meta()))


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        config = _faq_config(get_settings())
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        article_id = next(tracker.get_latest_entity_values("article_id"), None)
        try:
            kb = get_knowledge_base()
        except Exception:
            logger.exception("Knowledge base unavailable")
            dispatcher.utter_message(text=KB_UNAVAILABLE_TEXT, buttons=[HUMAN_BUTTON])
            dispatcher.utter_message(json_message=_meta({"kind": "fallback"}))
            return []
        started = time.perf_counter()
        if intent == "choose_article" and article_id:
            # The question is the text the customer typed before clicking a title.
            answer = answer_article(kb, article_id, _last_customer_text(tracker), config)
            events: list[EventType] = [SlotSet("article_id", None)]
        else:
            answer = answer_question(
                kb, tracker.latest_message.get("text") or "", config, _known_vectors(kb, tracker)
            )
            events = []
        ACTION_METRICS.search_seconds.observe(time.perf_counter() - started, outcome=answer.kind)
        ACTION_METRICS.runs.inc(action=self.name(), outcome=answer.kind)
        if intent == "nlu_fallback" and answer.kind == "none":
            # Not understood and not in the help center: the "please rephrase" reply,
            # which carries the `fallback` meta the escalation rules count.
            dispatcher.utter_message(response="utter_fallback")
            return events
        _emit_faq(dispatcher, answer)
        return events


class ActionOrderStatus(Action):
    def name(self) -> str:
        return "action_order_status"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # This message's entity first, then the raw text (NLU may miss "ĐH 123456"), then a
        # code given earlier in the conversation ("đơn đó giao chưa?").
        code = (
            normalize_order_code(next(tracker.get_latest_entity_values("order_code"), None))
            or normalize_order_code(tracker.latest_message.get("text"))
            or normalize_order_code(tracker.get_slot("order_code"))
        )
        text, found = order_status_reply(get_order_store(), code)
        dispatcher.utter_message(text=text)
        if code:
            meta = {"kind": "order_status", "order_code": code, "found": found}
            dispatcher.utter_message(json_message=_meta(meta))
            return [SlotSet("order_code", code)]
        return []


def _in_serving_process() -> bool:
    # rasa-sdk imports this module in Sanic's main process (to register actions) and again in
    # the spawned worker that serves requests; only the worker needs the index in memory.
    return os.environ.get("SANIC_WORKER_NAME", "").startswith("Sanic-Server")


if get_settings().preload and _in_serving_process():
    warm_up()
