"""rasa-sdk adapters: read the tracker, call the plain logic, emit messages + `cskh_meta`.

The knowledge base and the order store are loaded once per process. `warm_up()` runs when
the Sanic worker of rasa-sdk imports this module at server start (unless
`CSKH_ACTIONS_PRELOAD=false`), before it accepts requests, so the first customer does not
wait for the index; if that fails (no index built yet) the error is
logged and loading is retried on the next request instead of crashing the server.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import (
    HEDGED_ALTERNATIVES_TEXT,
    HEDGED_FOLLOW_UP_TEXT,
    NOT_HELPFUL_TEXT,
    ArticleRef,
    FaqAnswer,
    SearchesKnowledge,
    answer_article,
    answer_question,
    answers_out_of_scope,
    names_no_topic,
    next_best,
    passages_of_meta,
)
from actions.orders import (
    LATE_ORDER_ASK_CODE_TEXT,
    NO_CODE_TEXT,
    OrderDesk,
    OrderStore,
    OrderTurn,
    asks_about_its_delivery,
    has_no_order_code,
    last4_digits,
    normalize_order_code,
    reports_a_late_order,
)
from actions.products import asks_about_a_product
from actions.settings import get_settings
from actions.telemetry import ACTION_METRICS
from cskh import query_vector
from cskh.text import tokens

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_kb: SearchesKnowledge | None = None
_orders: OrderDesk | None = None

KB_UNAVAILABLE_TEXT = (
    "Dạ hệ thống tra cứu của $shop đang tạm gián đoạn ạ. $Kh vui lòng thử lại sau "
    "ít phút, hoặc nhắn \"gặp nhân viên\" để được hỗ trợ trực tiếp."
)
HUMAN_BUTTON = {"title": "Gặp nhân viên", "payload": "/request_human"}
# The same two answers as utter_ask_helpful (bot/domain.yml), for the hedged answer's buttons.
HELPFUL_BUTTON = {"title": "Có, cảm ơn", "payload": "/feedback_helpful"}
NOT_HELPFUL_BUTTON = {"title": "Chưa giúp được", "payload": "/feedback_not_helpful"}


def _article_button(article: ArticleRef) -> dict[str, str]:
    """A title to click; a section offered on its own is shown and picked by its heading."""
    if article.section:
        picked = json.dumps({"article_id": article.id, "section": article.section},
                            ensure_ascii=False, separators=(",", ":"))
        return {"title": article.section, "payload": f"/choose_article{picked}"}
    return {"title": article.title, "payload": f'/choose_article{{"article_id":"{article.id}"}}'}


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


def get_order_desk() -> OrderDesk:
    """The process-wide order desk: it keeps the per-order count of wrong guesses."""
    global _orders
    if _orders is None:
        settings = get_settings()
        _orders = OrderDesk(
            OrderStore.load(settings.orders_file),
            max_failures=settings.order_max_failures,
            max_lookups=settings.order_max_lookups,
            max_failures_per_order=settings.order_max_failures_per_order,
        )
    return _orders


def set_order_desk(desk: OrderDesk | None) -> None:
    """Inject an order desk (tests)."""
    global _orders
    _orders = desk


def warm_up() -> None:
    try:
        get_order_desk()
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


_FAQ_KINDS = ("faq_answer", "faq_choices")


def _bot_meta(event: dict[str, Any]) -> dict[str, Any]:
    """The cskh_meta of a bot event ({} for any other event or a bot message without one)."""
    if event.get("event") != "bot":
        return {}
    meta = ((event.get("data") or {}).get("custom") or {}).get("cskh_meta") or {}
    return meta if isinstance(meta, dict) else {}


def _faq_meta(event: dict[str, Any]) -> dict[str, Any] | None:
    """The cskh_meta of a bot event that answered from the help center, else None."""
    meta = _bot_meta(event)
    return meta if meta.get("kind") in _FAQ_KINDS else None


def _asked_before(meta: dict[str, Any]) -> str:
    """The question an earlier help-center answer was for, with its own context when it
    was itself a follow-up ("bảo hành máy giặt" + "bao lâu?", then "còn tủ lạnh?")."""
    return " ".join(
        part for part in (str(meta.get("context") or ""), str(meta.get("query") or "")) if part
    ).strip()


# "Chưa đúng" typed this long after an answer is not about it (follow-ups have their own
# window, `follow_up_seconds`, which an operator may turn off without turning this off).
FEEDBACK_WINDOW_SECONDS = 1800.0
# Typed messages that carry no question of their own ("cảm ơn", "ok", "chưa đúng"): the
# question before them is still what the conversation is about.
_NO_NEW_TOPIC = frozenset({"thank", "affirm", "deny", "feedback_helpful", "feedback_not_helpful"})


def _typed_question(event: dict[str, Any]) -> bool:
    """A user event the customer typed (not a button payload) that may ask something new."""
    text = (event.get("text") or "").strip()
    if event.get("event") != "user" or not text or text.startswith("/"):
        return False
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    return intent not in _NO_NEW_TOPIC


def _answer_before(tracker: Tracker, window_seconds: float) -> dict[str, Any] | None:
    """The help-center answer (its cskh_meta) to the question the customer asked before
    their latest message, when it came within `window_seconds`; None when the message before
    was something else (an order code, a new question the bot could not place), there is
    none, or the session restarted. Button clicks and typed "cảm ơn"/"chưa đúng" in between
    do not count as a question."""
    if window_seconds <= 0:
        return None
    events = list(tracker.events)
    # Skip the latest message itself: the last user event.
    for i in range(len(events) - 1, -1, -1):
        if events[i].get("event") == "user":
            events, now = events[:i], events[i].get("timestamp")
            break
    else:
        return None
    for event in reversed(events):
        if event.get("event") == "session_started":
            return None
        meta = _faq_meta(event)
        if meta is not None:
            when = event.get("timestamp")
            if now is not None and when is not None and float(now) - float(when) > window_seconds:
                return None  # a new question after a long pause, not a follow-up
            return meta
        if _typed_question(event):
            return None  # the previous question got no help-center answer
    return None


def _follow_up_context(
    tracker: Tracker, window_seconds: float
) -> tuple[str, list[tuple[str, str]]]:
    """The question the customer's latest message may follow up ("" when there is none),
    and the passages (article id, section) the answer to it sent."""
    meta = _answer_before(tracker, window_seconds)
    if meta is None:
        return "", []
    return _asked_before(meta), passages_of_meta(meta)


def _latest_faq_meta(tracker: Tracker) -> dict[str, Any]:
    """The last help-center answer's meta (the one whose buttons the customer is clicking)."""
    for event in reversed(tracker.events):
        meta = _faq_meta(event)
        if meta is not None:
            return meta
    return {}


def _emit_faq(dispatcher: CollectingDispatcher, answer: FaqAnswer) -> None:
    if answer.kind == "answer":
        dispatcher.utter_message(text=answer.text)
        dispatcher.utter_message(json_message=_meta(answer.meta()))
        if not answer.hedged:
            dispatcher.utter_message(response="utter_ask_helpful")
            return
        # "Is this it?", with the runner-ups as the other choices.
        buttons = [
            HELPFUL_BUTTON,
            *(_article_button(a) for a in answer.alternatives),
            NOT_HELPFUL_BUTTON,
        ]
        text = HEDGED_ALTERNATIVES_TEXT if answer.alternatives else HEDGED_FOLLOW_UP_TEXT
        dispatcher.utter_message(text=text, buttons=buttons)
    elif answer.kind == "choices":
        buttons = [_article_button(a) for a in answer.articles]
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
        config = get_settings().faq_config()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        article_id = next(tracker.get_latest_entity_values("article_id"), None)
        try:
            kb = get_knowledge_base()
        except Exception:
            logger.exception("Knowledge base unavailable")
            dispatcher.utter_message(text=KB_UNAVAILABLE_TEXT, buttons=[HUMAN_BUTTON])
            dispatcher.utter_message(json_message=_meta({"kind": "fallback"}))
            return []
        if _awaits_last4(tracker):
            # "5678" alone is not a question (NLU may call it nlu_fallback or ask_faq): it
            # answers the bot's request for the phone digits.
            return _order_turn(dispatcher, tracker)
        if intent != "choose_article" and _asks_about_the_order_in_hand(tracker):
            # "khi nào giao tới vậy?" right after the bot showed this customer's order: its
            # expected date, not the help center's delivery times (or, the order found and
            # the phone digits still owed, the request for them again).
            return _order_turn(dispatcher, tracker)
        if intent != "choose_article" and _says_it_has_no_code(dispatcher, tracker):
            return []
        started = time.perf_counter()
        if intent == "choose_article" and article_id:
            # The question is the text the customer typed before clicking a title, searched
            # with the context it was answered in.
            context = str(_latest_faq_meta(tracker).get("context") or "")
            section = next(tracker.get_latest_entity_values("section"), None)
            answer = answer_article(
                kb, article_id, _last_customer_text(tracker), config, context or None,
                section=str(section) if section else None,
            )
            events: list[EventType] = [SlotSet("article_id", None)]
        else:
            text = tracker.latest_message.get("text") or ""
            context, shown = _follow_up_context(tracker, config.follow_up_seconds)
            if not context and intent != "out_of_scope" and names_no_topic(text):
                # "làm sao giờ" with no question before it: nothing to search for.
                dispatcher.utter_message(response="utter_ask_what_about")
                dispatcher.utter_message(json_message=_meta({"kind": "clarify"}))
                ACTION_METRICS.runs.inc(action=self.name(), outcome="clarify")
                return []
            answer = answer_question(
                kb, text, config, _known_vectors(kb, tracker), context or None, shown
            )
            events = []
        ACTION_METRICS.search_seconds.observe(time.perf_counter() - started, outcome=answer.kind)
        ACTION_METRICS.runs.inc(action=self.name(), outcome=answer.kind)
        if intent == "out_of_scope" and not answers_out_of_scope(answer, config):
            dispatcher.utter_message(response="utter_out_of_scope")
            return events
        if intent == "nlu_fallback" and answer.kind == "none":
            # Not understood and not in the help center: the "please rephrase" reply,
            # which carries the `fallback` meta the escalation rules count.
            dispatcher.utter_message(response="utter_fallback")
            return events
        if intent != "choose_article" and not answer.confident and asks_about_a_product(
            tracker.latest_message.get("text") or ""
        ):
            # Stock, price, advice: the help center's nearest passage is not the answer;
            # the product page or a person is (actions/products.py).
            dispatcher.utter_message(response="utter_product_question")
            return events
        _emit_faq(dispatcher, answer)
        return events


def _articles_given(tracker: Tracker) -> set[str]:
    """The articles the bot answered with since the customer's last typed question."""
    given: set[str] = set()
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            text = (event.get("text") or "").strip()
            if text and not text.startswith("/"):
                break  # the question the answers were for
        meta = _faq_meta(event)
        if meta is not None and meta.get("kind") == "faq_answer":
            given.update(str(a.get("id")) for a in meta.get("articles") or [])
    return given


class ActionFeedbackNotHelpful(Action):
    """ "Chưa giúp được": offer the next best articles for the same question (or rephrasing,
    or a person). Two in a row hand over to a person; the hub decides that (triage)."""

    def name(self) -> str:
        return "action_feedback_not_helpful"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        config = get_settings().faq_config()
        typed = not (tracker.latest_message.get("text") or "").strip().startswith("/")
        if typed:
            # "chưa đúng ý" typed after an answer is about that answer's question. With no
            # answer before it, NLU misread a question ("mua về không ưng thì trả lại được
            # không" reads like "không đúng ý"): answer it as one.
            before = _answer_before(tracker, FEEDBACK_WINDOW_SECONDS)
            if before is None:
                return ActionAnswerFaq().run(dispatcher, tracker, domain)
            query, context = str(before.get("query") or ""), str(before.get("context") or "")
            given = {str(a.get("id")) for a in before.get("articles") or []}
            answered_meta = before
        else:
            query, given = _last_customer_text(tracker), _articles_given(tracker)
            answered_meta = _latest_faq_meta(tracker)
            context = str(answered_meta.get("context") or "")
        # The article the answer that did not help was taken from, and its sections sent.
        answered, sent = None, [str(x) for x in answered_meta.get("sections") or []]
        if answered_meta.get("kind") == "faq_answer" and answered_meta.get("articles"):
            answered = str(answered_meta["articles"][0].get("id"))
        try:
            kb = get_knowledge_base()
        except Exception:
            logger.exception("Knowledge base unavailable")
            answer = FaqAnswer("none", NOT_HELPFUL_TEXT, "")
        else:
            answer = next_best(kb, query, given, config, context or None, answered, sent)
        buttons = [_article_button(a) for a in answer.articles]
        dispatcher.utter_message(text=answer.text, buttons=[*buttons, HUMAN_BUTTON])
        articles = [a.to_json() for a in answer.articles]
        dispatcher.utter_message(
            json_message=_meta({"kind": "feedback", "helpful": False, "articles": articles})
        )
        ACTION_METRICS.runs.inc(action=self.name(), outcome=answer.kind)
        return []


class ActionOrderStatus(Action):
    def name(self) -> str:
        return "action_order_status"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        return _order_turn(dispatcher, tracker)


def _order_slots(tracker: Tracker) -> tuple[str | None, int, tuple[str, ...]]:
    verified = tracker.get_slot("order_verified")
    failures = int(tracker.get_slot("order_failures") or 0)
    lookups = tuple(str(c) for c in (tracker.get_slot("order_lookups") or ()))
    return (str(verified) if verified else None), failures, lookups


def _awaits_last4(tracker: Tracker) -> bool:
    """The bot asked for the phone digits of a found order and this message gives them."""
    code = tracker.get_slot("order_code")
    verified, _, _ = _order_slots(tracker)
    text = tracker.latest_message.get("text") or ""
    if not code or code == verified or get_order_desk().store.get(str(code)) is None:
        return False
    return last4_digits(text) is not None and normalize_order_code(text) is None \
        and len(text.split()) <= 8


def _asks_about_the_order_in_hand(tracker: Tracker) -> bool:
    """The bot's last answer was about an order, shown to this customer (they proved they own
    it) or found and waiting for the phone digits, and this message asks when or where it is
    (naming no other order). Waiting for the digits, "sao chưa giao vậy, mình đợi 5 ngày
    rồi" got the help center's delivery times; it is asked for the digits again."""
    verified, _, _ = _order_slots(tracker)
    code = tracker.get_slot("order_code")
    text = tracker.latest_message.get("text") or ""
    if not (verified or code) or normalize_order_code(text) or not asks_about_its_delivery(
        " ".join(tokens(text))
    ):
        return False
    # Back from this message (the last user event; Rasa may log others after it).
    events = list(tracker.events)
    latest = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=0)
    for event in reversed(events[:latest]):
        if event.get("event") == "user" and _typed_question(event):
            return False  # another question came between
        meta = _bot_meta(event)
        if meta.get("kind"):
            if meta.get("kind") != "order_status":
                return False
            if meta.get("verified"):
                return meta.get("order_code") == verified
            return bool(meta.get("found")) and meta.get("order_code") == code
    return False


def _says_it_has_no_code(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """"mình không nhớ mã đơn" (naming no code): where the code is, and a person who can find
    the order without it, one tap away. True when that was said."""
    text = tracker.latest_message.get("text") or ""
    if normalize_order_code(text) or not has_no_order_code(" ".join(tokens(text))):
        return False
    dispatcher.utter_message(text=NO_CODE_TEXT, buttons=[HUMAN_BUTTON])
    ACTION_METRICS.runs.inc(action="action_order_status", outcome="no_code")
    return True


def _order_turn(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    # This message's entity first, then the raw text (NLU may miss "ĐH 123456"), then a
    # code given earlier in the conversation ("đơn đó giao chưa?").
    text = tracker.latest_message.get("text") or ""
    code = (
        normalize_order_code(next(tracker.get_latest_entity_values("order_code"), None))
        or normalize_order_code(text)
        or normalize_order_code(tracker.get_slot("order_code"))
    )
    if not code and _says_it_has_no_code(dispatcher, tracker):
        return []
    verified, failures, lookups = _order_slots(tracker)
    last4 = last4_digits(text)
    # A phone number told before the code (a late delivery told with its date and number)
    # answers the question the bot would ask next; it counts as one guess, used once.
    earlier_last4 = tracker.get_slot("order_phone_last4")
    turn: OrderTurn = get_order_desk().turn(
        code, last4 or (str(earlier_last4) if earlier_last4 else None),
        verified_code=verified, failures=failures, lookups=lookups,
    )
    said = turn.text
    if not code and reports_a_late_order(" ".join(tokens(text))):
        said = LATE_ORDER_ASK_CODE_TEXT
    # A late order: the way to a person who can chase the carrier, one tap away.
    dispatcher.utter_message(text=said, buttons=[HUMAN_BUTTON] if turn.late_days else [])
    ACTION_METRICS.runs.inc(action="action_order_status", outcome=_order_outcome(turn))
    if not code:
        return [SlotSet("order_phone_last4", last4)] if last4 else []
    meta = {"kind": "order_status", "order_code": code, "found": turn.found,
            "verified": turn.verified_code == code}
    if turn.late_days:
        meta["late_days"] = turn.late_days
    dispatcher.utter_message(json_message=_meta(meta))
    return [
        SlotSet("order_code", code),
        SlotSet("order_verified", turn.verified_code),
        SlotSet("order_failures", float(turn.failures)),
        SlotSet("order_lookups", list(turn.lookups)),
        SlotSet("order_phone_last4", None),
    ]


def _order_outcome(turn: OrderTurn) -> str:
    if not turn.found:
        return "not_found"
    return "shown" if turn.verified_code == turn.code else "withheld"


def _in_serving_process() -> bool:
    # rasa-sdk imports this module in Sanic's main process (to register actions) and again in
    # the spawned worker that serves requests; only the worker needs the index in memory.
    return os.environ.get("SANIC_WORKER_NAME", "").startswith("Sanic-Server")


if get_settings().preload and _in_serving_process():
    warm_up()
