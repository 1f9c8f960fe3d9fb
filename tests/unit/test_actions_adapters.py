"""rasa-sdk adapters (actions/actions.py): tracker in, messages + cskh_meta out (no servers)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from test_actions_faq import RETURNS, SHIPPING, FakeKB, hit

from actions import actions
from actions.orders import OrderDesk
from cskh import query_vector


@pytest.fixture(autouse=True)
def fake_kb() -> Iterator[FakeKB]:
    kb = FakeKB([hit("phi-giao-hang", 0.7, SHIPPING), hit("doi-tra", 0.3, RETURNS)])
    actions.set_knowledge_base(kb)
    yield kb
    actions.set_knowledge_base(None)


def tracker(text: str, intent: str, entities: list[dict[str, Any]] | None = None,
            earlier: list[str] = (),  # type: ignore[assignment]
            metadata: dict[str, Any] | None = None,
            slots: dict[str, Any] | None = None) -> Tracker:
    events = [{"event": "user", "text": t} for t in earlier]
    events.append({"event": "user", "text": text})
    latest = {"text": text, "intent": {"name": intent}, "entities": entities or [],
              "metadata": metadata or {}}
    return Tracker("u1", slots or {}, latest, events, False, None, {}, "action_listen")


def run(action: Any, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, t, {})
    return dispatcher.messages, events


def metas(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["custom"]["cskh_meta"] for m in messages if m.get("custom")]


def test_confident_answer_then_meta_then_helpful_question() -> None:
    messages, events = run(actions.ActionAnswerFaq(), tracker("phí ship đi tỉnh", "ask_faq"))
    assert "35.000đ" in messages[0]["text"] and "Xem thêm:" in messages[0]["text"]
    assert metas(messages)[0]["kind"] == "faq_answer"
    assert messages[2]["response"] == "utter_ask_helpful"
    assert events == []


def test_hedged_answer_offers_the_runner_up_beside_the_feedback_buttons(
    fake_kb: FakeKB,
) -> None:
    # Farther apart than `hedged_article_margin`: b's passage is not sent, only offered.
    fake_kb.hits = [hit("a", 0.62, SHIPPING), hit("b", 0.57, RETURNS)]
    messages, _ = run(actions.ActionAnswerFaq(), tracker("phí ship đi tỉnh", "ask_faq"))
    assert "35.000đ" in messages[0]["text"] and "7 ngày" not in messages[0]["text"]
    meta = metas(messages)[0]
    assert meta["kind"] == "faq_answer" and meta["confident"] is False
    assert [a["id"] for a in meta["articles"]] == ["a", "b"]
    follow_up = messages[2]
    assert "nội dung khác" in follow_up["text"]
    assert [b["payload"] for b in follow_up["buttons"]] == [
        "/feedback_helpful",
        '/choose_article{"article_id":"b"}',
        "/feedback_not_helpful",
    ]


def test_weak_match_gives_article_buttons_and_a_person(
    fake_kb: FakeKB, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSKH_ACTIONS_HEDGE_SCORE", "0.45")  # a band of title lists only
    actions.get_settings.cache_clear()
    fake_kb.hits = [hit("a", 0.44), hit("b", 0.43)]
    try:
        messages, _ = run(actions.ActionAnswerFaq(), tracker("hỏi chút", "ask_faq"))
    finally:
        actions.get_settings.cache_clear()
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == [
        '/choose_article{"article_id":"a"}',
        '/choose_article{"article_id":"b"}',
        "/request_human",
    ]
    assert metas(messages)[0]["kind"] == "faq_choices"


def test_chosen_article_is_answered_for_the_question_typed_before() -> None:
    t = tracker(
        '/choose_article{"article_id":"doi-tra"}', "choose_article",
        [{"entity": "article_id", "value": "doi-tra"}], earlier=["đổi trả mấy ngày"],
    )
    messages, events = run(actions.ActionAnswerFaq(), t)
    assert "7 ngày" in messages[0]["text"]
    assert metas(messages)[0]["query"] == "đổi trả mấy ngày"
    assert events == [{"event": "slot", "timestamp": None, "name": "article_id", "value": None}]


def slots_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def phone_last4(code: str) -> str:
    order = actions.get_order_desk().store.get(code)
    assert order is not None and order.phone
    return order.phone[-4:]


def test_order_status_from_entity_text_or_slot() -> None:
    entity = [{"entity": "order_code", "value": "dh100003"}]
    messages, events = run(actions.ActionOrderStatus(), tracker("đơn dh100003", "order_status",
                                                                entity))
    assert metas(messages) == [
        {"kind": "order_status", "order_code": "DH100003", "found": True, "verified": False}
    ]
    assert slots_of(events)["order_code"] == "DH100003"
    assert slots_of(events)["order_lookups"] == ["DH100003"]
    # NLU missed the entity: the raw text still carries it.
    messages, _ = run(actions.ActionOrderStatus(), tracker("đơn ĐH 999999 đâu", "order_status"))
    assert metas(messages)[0]["found"] is False
    # No code at all: ask for it, no meta.
    messages, events = run(actions.ActionOrderStatus(), tracker("đơn của tôi đâu", "order_status"))
    assert "mã đơn hàng" in messages[0]["text"] and metas(messages) == [] and events == []


def test_a_phone_number_told_before_the_code_is_used_once_when_it_comes() -> None:
    phone = actions.get_order_desk().store.get("DH100003").phone  # type: ignore[union-attr]
    told = f"tôi đặt từ 7/11 mà giờ chưa thấy, sđt tôi {phone}"
    messages, events = run(actions.ActionOrderStatus(), tracker(told, "order_status"))
    assert "mã đơn hàng" in messages[0]["text"]
    assert messages[0]["text"].startswith("Dạ $em rất tiếc vì đơn hàng")  # it is late
    assert slots_of(events) == {"order_phone_last4": phone[-4:]}
    messages, events = run(
        actions.ActionOrderStatus(),
        tracker("DH100003", "order_status", slots={"order_phone_last4": phone[-4:]}),
    )
    assert "đang được giao" in messages[0]["text"]  # not asked for the digits again
    assert slots_of(events)["order_verified"] == "DH100003"
    assert slots_of(events)["order_phone_last4"] is None  # one guess, not one per code
    # Someone else's number counts as a wrong guess, like typed digits.
    wrong = "0000" if phone[-4:] != "0000" else "1111"
    messages, events = run(
        actions.ActionOrderStatus(),
        tracker("DH100003", "order_status", slots={"order_phone_last4": wrong}),
    )
    assert "đang được giao" not in messages[0]["text"]
    assert slots_of(events)["order_failures"] == 1.0


@pytest.mark.parametrize("intent", ["nlu_fallback", "ask_faq", "give_phone_digits"])
def test_phone_digits_after_the_question_show_the_order(intent: str) -> None:
    action = actions.ActionOrderStatus() if intent == "give_phone_digits" \
        else actions.ActionAnswerFaq()
    asked = {"order_code": "DH100003", "order_lookups": ["DH100003"]}
    messages, events = run(action, tracker(phone_last4("DH100003"), intent, slots=asked))
    assert "đang được giao" in messages[0]["text"]
    assert metas(messages)[0]["verified"] is True
    assert slots_of(events)["order_verified"] == "DH100003"


def _after_the_order_shown(text: str, between: list[dict[str, Any]] = ()) -> Tracker:  # type: ignore[assignment]
    shown = {"kind": "order_status", "order_code": "DH100003", "found": True, "verified": True}
    events = [
        {"event": "user", "text": phone_last4("DH100003")},
        {"event": "bot", "text": "Dạ đơn hàng DH100003 ... đang được giao"},
        {"event": "bot", "text": None, "data": {"custom": {"cskh_meta": shown}}},
        *between,
        {"event": "user", "text": text},
        {"event": "user_featurization", "use_text_for_featurization": False},  # as Rasa logs
    ]
    slots = {"order_code": "DH100003", "order_verified": "DH100003",
             "order_lookups": ["DH100003"]}
    latest = {"text": text, "intent": {"name": "ask_faq"}, "entities": [], "metadata": {}}
    return Tracker("u1", slots, latest, events, False, None, {}, "action_listen")


@pytest.mark.parametrize(
    "text", ["khi nào giao tới vậy", "bao gio nhan dc hang z", "sao lâu thế", "chậm vậy shop"]
)
def test_when_it_arrives_right_after_the_order_shown_is_about_that_order(
    fake_kb: FakeKB, text: str
) -> None:
    messages, _ = run(actions.ActionAnswerFaq(), _after_the_order_shown(text))
    assert "đang được giao" in messages[0]["text"]
    assert metas(messages)[0]["kind"] == "order_status" and fake_kb.queries == []


@pytest.mark.parametrize(("today", "late_days"), [(date(2026, 12, 7), 22), (date(2026, 11, 1), 0)])
def test_a_late_order_is_shown_with_the_way_to_a_person(today: date, late_days: int) -> None:
    desk = actions.get_order_desk()
    actions.set_order_desk(OrderDesk(desk.store, today=lambda: today))
    try:
        asked = {"order_code": "DH100003", "order_lookups": ["DH100003"]}
        messages, _ = run(actions.ActionOrderStatus(),
                          tracker(phone_last4("DH100003"), "give_phone_digits", slots=asked))
    finally:
        actions.set_order_desk(desk)
    assert "đang được giao" in messages[0]["text"]
    assert ("trễ" in messages[0]["text"]) is bool(late_days)
    assert messages[0]["buttons"] == ([actions.HUMAN_BUTTON] if late_days else [])
    assert metas(messages)[0].get("late_days", 0) == late_days


def test_other_questions_after_the_order_shown_are_the_help_centers(fake_kb: FakeKB) -> None:
    # Not about when or where it is: the help center answers.
    messages, _ = run(actions.ActionAnswerFaq(), _after_the_order_shown("phí ship đi tỉnh"))
    assert metas(messages)[0]["kind"] == "faq_answer"
    # A help-center answer came between: "khi nào giao" is a new question, not about the order.
    answered = {"kind": "faq_answer", "articles": [{"id": "phi-giao-hang"}], "query": "phí ship"}
    between = [{"event": "user", "text": "phí ship"},
               {"event": "bot", "text": None, "data": {"custom": {"cskh_meta": answered}}}]
    messages, _ = run(actions.ActionAnswerFaq(),
                      _after_the_order_shown("khi nào giao tới vậy", between))
    assert metas(messages)[0]["kind"] == "faq_answer"


@pytest.mark.parametrize(("action", "intent"), [(actions.ActionAnswerFaq(), "ask_faq"),
                                               (actions.ActionOrderStatus(), "order_status")])
@pytest.mark.parametrize("text", ["mình không nhớ mã đơn", "ko biết mã đơn ở đâu"])
def test_no_code_to_give_gets_where_it_is_and_a_person(
    fake_kb: FakeKB, action: Any, intent: str, text: str
) -> None:
    # Asked for the code, the search answered with the transfer note's syntax, on "mã đơn";
    # the order action would only ask for the code again.
    messages, events = run(action, tracker(text, intent, earlier=["đơn hàng của tôi đâu"]))
    assert "email xác nhận" in messages[0]["text"] and "Gặp nhân viên" in messages[0]["text"]
    assert messages[0]["buttons"] == [actions.HUMAN_BUTTON]
    assert fake_kb.queries == [] and events == []
    # With a code in it, the code is what counts.
    messages, _ = run(action, tracker("không nhớ mã đơn, hình như DH100003", intent))
    assert messages[0]["text"] != actions.NO_CODE_TEXT


def test_wrong_digits_are_counted_in_the_conversation() -> None:
    wrong = "0000" if phone_last4("DH100008") != "0000" else "1111"
    asked = {"order_code": "DH100008", "order_lookups": ["DH100008"], "order_failures": 2.0}
    messages, events = run(actions.ActionAnswerFaq(), tracker(wrong, "nlu_fallback", slots=asked))
    assert "không tra cứu được" in messages[0]["text"]
    assert slots_of(events)["order_failures"] == 3.0 and slots_of(events)["order_verified"] is None


def test_digits_without_a_pending_order_are_a_question(fake_kb: FakeKB) -> None:
    messages, _ = run(actions.ActionAnswerFaq(), tracker("1900 1234", "ask_faq"))
    assert metas(messages)[0]["kind"] == "faq_answer"


def test_the_hubs_query_vector_reaches_the_search_only_from_the_same_model(
    fake_kb: FakeKB,
) -> None:
    vec = np.array([3.0, 4.0])
    mine = query_vector.encode("fake-e5", "phí ship đi tỉnh", vec)
    run(actions.ActionAnswerFaq(),
        tracker("phí ship đi tỉnh", "ask_faq", metadata={query_vector.METADATA_KEY: mine}))
    known = fake_kb.known_vectors[-1]
    assert known is not None and list(known) == ["phí ship đi tỉnh"]
    assert np.allclose(known["phí ship đi tỉnh"], [0.6, 0.8])

    foreign = query_vector.encode("another-model", "phí ship đi tỉnh", vec)
    messages, _ = run(actions.ActionAnswerFaq(), tracker(
        "phí ship đi tỉnh", "ask_faq", metadata={query_vector.METADATA_KEY: foreign}))
    assert fake_kb.known_vectors[-1] is None
    assert "35.000đ" in messages[0]["text"]  # answered all the same, by embedding again


@pytest.mark.parametrize("intent", ["product_question", "ask_faq"])
def test_a_product_question_gets_the_product_reply_unless_the_help_center_is_sure(
    fake_kb: FakeKB, intent: str
) -> None:
    fake_kb.hits = [hit("doi-tra", 0.5, RETURNS)]  # the nearest passage: a hedged guess
    messages, _ = run(actions.ActionAnswerFaq(), tracker("iphone 15 còn hàng không", intent))
    assert [m.get("response") for m in messages] == ["utter_product_question"]
    # The intent alone is not enough: a policy question it took gets its confident answer.
    fake_kb.hits = [hit("phi-giao-hang", 0.7, SHIPPING)]
    messages, _ = run(actions.ActionAnswerFaq(), tracker("phí ship đi tỉnh", "product_question"))
    assert "35.000đ" in messages[0]["text"] and metas(messages)[0]["kind"] == "faq_answer"
    # ... and a product question the help center answers surely is answered from it.
    messages, _ = run(actions.ActionAnswerFaq(), tracker("iphone 15 còn hàng không", intent))
    assert metas(messages)[0]["kind"] == "faq_answer"


def test_unsure_nlu_still_gets_the_help_center_and_else_the_fallback(fake_kb: FakeKB) -> None:
    # NLU unsure, the help center sure: answered like any question.
    messages, _ = run(actions.ActionAnswerFaq(), tracker("phi ship di tinh", "nlu_fallback"))
    assert "35.000đ" in messages[0]["text"] and metas(messages)[0]["kind"] == "faq_answer"
    # Neither: the rephrase reply (its `fallback` meta is in the domain response).
    fake_kb.hits = [hit("a", 0.1)]
    messages, _ = run(actions.ActionAnswerFaq(), tracker("asdfgh qwerty", "nlu_fallback"))
    assert [m.get("response") for m in messages] == ["utter_fallback"]
    # An understood question with nothing relevant keeps the "not found + person" reply.
    messages, _ = run(actions.ActionAnswerFaq(), tracker("bán vé máy bay không", "ask_faq"))
    assert messages[0]["buttons"] == [actions.HUMAN_BUTTON]


def test_a_message_naming_no_topic_is_asked_what_it_is_about(fake_kb: FakeKB) -> None:
    # "làm sao giờ" was answered, confidently, with the support hours ("giờ" is "hours").
    fake_kb.hits = [hit("lien-he", 0.67)]
    messages, _ = run(actions.ActionAnswerFaq(), tracker("làm sao giờ", "ask_faq"))
    assert [m.get("response") for m in messages[:1]] == ["utter_ask_what_about"]
    assert metas(messages) == [{"kind": "clarify"}]
    # A question that names something is searched as ever.
    messages, _ = run(actions.ActionAnswerFaq(), tracker("giờ mở cửa showroom", "ask_faq"))
    assert metas(messages)[0]["kind"] == "faq_answer"


def test_not_helpful_after_an_answer_offers_the_other_articles(fake_kb: FakeKB) -> None:
    fake_kb.hits = [hit("phi-giao-hang", 0.7, SHIPPING), hit("doi-tra", 0.45, RETURNS)]
    answer_meta = {"kind": "faq_answer", "articles": [{"id": "phi-giao-hang"}]}
    answered = {"custom": {"cskh_meta": answer_meta}}
    t = Tracker("u1", {}, {"text": "/feedback_not_helpful",
                           "intent": {"name": "feedback_not_helpful"}, "entities": []},
                [{"event": "user", "text": "phí ship đi tỉnh"},
                 {"event": "bot", "text": "35.000đ", "data": answered},
                 {"event": "user", "text": "/feedback_not_helpful"}],
                False, None, {}, "action_listen")
    messages, _ = run(actions.ActionFeedbackNotHelpful(), t)
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == ['/choose_article{"article_id":"doi-tra"}', "/request_human"]
    assert fake_kb.queries[-1] == "phí ship đi tỉnh"  # the customer's question, searched again
    meta = metas(messages)[0]
    assert meta["kind"] == "feedback" and meta["helpful"] is False
    assert [a["id"] for a in meta["articles"]] == ["doi-tra"]


def test_not_helpful_offers_another_section_of_the_article_and_a_click_answers_it(
    fake_kb: FakeKB,
) -> None:
    fake_kb.hits = [hit("bao-hanh", 0.8, SHIPPING, "Thời gian xử lý"),
                    hit("bao-hanh", 0.75, RETURNS, "Thời hạn bảo hành")]
    question = [{"event": "user", "text": "bảo hành mấy tháng"}]
    answered, _ = run(actions.ActionAnswerFaq(), tracker("bảo hành mấy tháng", "ask_faq"))
    meta = metas(answered)[0]
    assert meta["sections"] == ["Thời gian xử lý"]
    said = [*question, {"event": "bot", "text": answered[0]["text"],
                        "data": {"custom": {"cskh_meta": meta}}}]
    no = Tracker("u1", {}, {"text": "/feedback_not_helpful",
                            "intent": {"name": "feedback_not_helpful"}, "entities": []},
                 [*said, {"event": "user", "text": "/feedback_not_helpful"}],
                 False, None, {}, "action_listen")
    messages, _ = run(actions.ActionFeedbackNotHelpful(), no)
    offered = messages[0]["buttons"][0]
    assert offered["title"] == "Thời hạn bảo hành"
    assert offered["payload"] == (
        '/choose_article{"article_id":"bao-hanh","section":"Thời hạn bảo hành"}'
    )
    # The click, as Rasa parses that payload: both entities.
    click = Tracker("u1", {}, {"text": offered["payload"], "intent": {"name": "choose_article"},
                               "entities": [{"entity": "article_id", "value": "bao-hanh"},
                                            {"entity": "section", "value": "Thời hạn bảo hành"}]},
                    [*said, {"event": "user", "text": offered["payload"]}],
                    False, None, {}, "action_listen")
    messages, _ = run(actions.ActionAnswerFaq(), click)
    answer = messages[0]["text"]
    assert answer.startswith("Thời hạn bảo hành:\n") and "7 ngày" in answer


def _answered(query: str, ts: float, context: str = "", articles: tuple[str, ...] = ("a",),
              sections: tuple[str, ...] = ()) -> dict[str, Any]:
    meta: dict[str, Any] = {"kind": "faq_answer", "query": query,
                            "articles": [{"id": a} for a in articles]}
    if context:
        meta["context"] = context
    if sections:
        meta["sections"] = list(sections)
    return {"event": "bot", "timestamp": ts, "text": None, "data": {"custom": {"cskh_meta": meta}}}


def _said(text: str, ts: float, intent: str = "ask_faq") -> dict[str, Any]:
    return {"event": "user", "timestamp": ts, "text": text,
            "parse_data": {"intent": {"name": intent}}}


def _conversation(events: list[dict[str, Any]]) -> Tracker:
    last = events[-1]
    latest = {"text": last["text"], "intent": last["parse_data"]["intent"], "entities": []}
    return Tracker("u1", {}, latest, events, False, None, {}, "action_listen")


@pytest.mark.parametrize(
    ("between", "expected"),
    [
        ([], "phí ship đi tỉnh"),
        # A click on the answer's buttons or a typed "cảm ơn" asks nothing new.
        ([_said("/feedback_helpful", 110, "feedback_helpful"), _said("cảm ơn", 120, "thank")],
         "phí ship đi tỉnh"),
        # A new question the bot did not answer from the help center (an order code): no context.
        ([_said("DH123456", 110, "order_status"),
          {"event": "bot", "timestamp": 111, "text": "Đơn DH123456...", "data": {}}], None),
        ([{"event": "session_started", "timestamp": 150}], None),
    ],
)
def test_a_question_right_after_an_answer_is_searched_as_its_follow_up(
    fake_kb: FakeKB, between: list[dict[str, Any]], expected: str | None
) -> None:
    events = [_said("phí ship đi tỉnh", 100), _answered("phí ship đi tỉnh", 101),
              *between, _said("bao lâu", 200)]
    messages, _ = run(actions.ActionAnswerFaq(), _conversation(events))
    assert fake_kb.queries[-1] == "bao lâu" and fake_kb.contexts[-1] == expected
    assert metas(messages)[0].get("context") == expected


def test_follow_ups_need_a_recent_answer_and_chain_one_level(fake_kb: FakeKB) -> None:
    late = [_said("phí ship đi tỉnh", 100), _answered("phí ship đi tỉnh", 101),
            _said("bao lâu", 101 + 1801)]  # default window: 30 minutes
    run(actions.ActionAnswerFaq(), _conversation(late))
    assert fake_kb.contexts[-1] is None
    # The answer before was itself a follow-up: its question and context both carry over.
    chained = [_said("bao lâu", 100), _answered("bao lâu", 101, context="phí ship đi tỉnh"),
               _said("còn tủ lạnh", 150)]
    run(actions.ActionAnswerFaq(), _conversation(chained))
    assert fake_kb.contexts[-1] == "phí ship đi tỉnh bao lâu"


def test_a_follow_up_is_not_sent_again_the_section_the_answer_before_sent() -> None:
    kb = FakeKB([hit("lap-dat", 0.70, SHIPPING, "Phí giao"), hit("lap-dat", 0.69, RETURNS,
                                                                    "Thời hạn")],
                alone={"Phí giao": 0.40, "Thời hạn": 0.60})
    actions.set_knowledge_base(kb)
    before = [_said("phí ship đi tỉnh", 100)]
    for sent, expected in ((("Phí giao",), ["Thời hạn"]), (("Khác",), ["Phí giao", "Thời hạn"])):
        events = [*before, _answered("phí ship đi tỉnh", 101, articles=("lap-dat",),
                                     sections=sent), _said("đổi trả trong bao lâu", 150)]
        messages, _ = run(actions.ActionAnswerFaq(), _conversation(events))
        assert metas(messages)[0]["sections"] == expected


def test_the_other_articles_passage_a_hedged_answer_sent_counts_as_shown() -> None:
    answered = _answered("phí ship đi tỉnh", 101, articles=("a", "b"), sections=("Phí",))
    answered["data"]["custom"]["cskh_meta"]["borrowed"] = [{"id": "b", "section": "Đổi trả"}]
    events = [_said("phí ship đi tỉnh", 100), answered, _said("bao lâu vậy", 150)]
    context, shown = actions._follow_up_context(_conversation(events), 1800.0)
    assert context == "phí ship đi tỉnh" and shown == [("a", "Phí"), ("b", "Đổi trả")]


def test_typed_not_helpful_is_about_the_answer_before_or_else_a_question(
    fake_kb: FakeKB,
) -> None:
    fake_kb.hits = [hit("phi-giao-hang", 0.7, SHIPPING), hit("doi-tra", 0.45, RETURNS)]
    after = [_said("phí ship đi tỉnh", 100),
             _answered("phí ship đi tỉnh", 101, articles=("phi-giao-hang",)),
             _said("trả lời sai rồi", 130, "feedback_not_helpful")]
    messages, _ = run(actions.ActionFeedbackNotHelpful(), _conversation(after))
    assert fake_kb.queries[-1] == "phí ship đi tỉnh"  # not "trả lời sai rồi"
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        '/choose_article{"article_id":"doi-tra"}', "/request_human"]
    assert metas(messages)[0]["kind"] == "feedback"
    # Read as "not helpful" with nothing answered before: NLU misread a question.
    first = [_said("mua về không ưng thì trả lại được không", 100, "feedback_not_helpful")]
    messages, _ = run(actions.ActionFeedbackNotHelpful(), _conversation(first))
    assert fake_kb.queries[-1] == "mua về không ưng thì trả lại được không"
    meta = metas(messages)[0]
    assert meta["kind"] == "faq_answer" and meta["query"] == first[0]["text"]


def test_not_helpful_after_a_follow_up_searches_it_in_its_context(fake_kb: FakeKB) -> None:
    fake_kb.hits = [hit("phi-giao-hang", 0.7, SHIPPING), hit("doi-tra", 0.45, RETURNS)]
    events = [_said("phí ship đi tỉnh", 100), _answered("phí ship đi tỉnh", 101),
              _said("bao lâu", 150),
              _answered("bao lâu", 151, context="phí ship đi tỉnh", articles=("phi-giao-hang",)),
              _said("/feedback_not_helpful", 160, "feedback_not_helpful")]
    messages, _ = run(actions.ActionFeedbackNotHelpful(), _conversation(events))
    assert (fake_kb.queries[-1], fake_kb.contexts[-1]) == ("bao lâu", "phí ship đi tỉnh")
    assert [a["id"] for a in metas(messages)[0]["articles"]] == ["doi-tra"]
