"""The handoff summary (triage.summary.summarize)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from triage.sentiment import Sentiment
from triage.summary import format_wait, parse_ts, summarize, trim

NEU = {"label": "neutral", "angry": False, "score": 0.0}
NEG = {"label": "negative", "angry": False, "score": -0.6}
ANGRY = {"label": "negative", "angry": True, "score": -0.95}


def transcript() -> list[dict[str, Any]]:
    return [
        {"role": "user", "text": "chào shop", "ts": 1700000000, "sentiment": NEU},
        {"role": "user", "text": "Đơn DH123456 của mình đặt tuần trước sao chưa giao ạ? "
         "sđt 0912 345 678", "ts": 1700000010, "sentiment": NEU},
        {"role": "bot", "text": "Thời gian giao hàng...", "ts": 1700000011, "meta": {
            "kind": "faq_answer", "confident": True, "query": "chua giao",
            "articles": [{"id": "thoi-gian-giao-hang", "title": "Thời gian giao hàng",
                          "url": "/a", "score": 0.8},
                         {"id": "phi", "title": "Phí vận chuyển", "url": "/b", "score": 0.5}]}},
        {"role": "user", "text": "/feedback_not_helpful", "ts": 1700000020},
        {"role": "bot", "text": "Xin lỗi...", "ts": 1700000021,
         "meta": {"kind": "feedback", "helpful": False}},
        {"role": "user", "text": "Mình bị trừ 1.200.000đ hai lần qua MoMo rồi mà tai nghe vẫn "
         "chưa thấy đâu, chán thật", "ts": 1700000030, "sentiment": NEG},
        {"role": "bot", "text": "", "ts": 1700000031, "meta": {
            "kind": "faq_choices", "confident": False, "query": "tru tien",
            "articles": [{"id": "loi", "title": "Lỗi thanh toán", "url": "/c", "score": 0.4}]}},
        {"role": "user", "text": "LỪA ĐẢO À??? cho gặp nhân viên ngay!!!", "ts": 1700000040,
         "sentiment": ANGRY},
        {"role": "user", "text": "LỪA ĐẢO À??? cho gặp nhân viên ngay!!!", "ts": 1700000041,
         "sentiment": ANGRY},
    ]


def test_summary_has_everything_an_agent_needs() -> None:
    s = summarize(transcript(), ["angry", "requested"], "zalo", 125)
    lines = s.text.splitlines()
    assert len(lines) <= 8
    text = s.text
    # The customer's words: first substantive, most negative, longest; no repeats/greeting.
    assert "Đơn DH123456 của mình" in text and "LỪA ĐẢO" in text and "tai nghe" in text
    assert text.count("LỪA ĐẢO") == 1 and "chào shop" not in text
    assert "/feedback" not in lines[0]
    assert "mã đơn DH123456" in text and "SĐT 0912345678" in text
    assert "1.200.000đ" in text and "tai nghe" in lines[1]
    assert "thanh toán: MoMo" in lines[1]  # where the double charge is chased
    assert "Cảm xúc: trung tính → tiêu cực → giận dữ" in text
    assert "«Thời gian giao hàng» (không giúp được)" in text
    assert "«Phí vận chuyển»" not in text  # a runner-up, not shown to the customer
    assert "«Lỗi thanh toán» (gợi ý, độ tin cậy thấp)" in text
    assert "Lý do chuyển: khách đang rất bức xúc; khách yêu cầu gặp nhân viên" in text
    assert lines[-1] == "Kênh: Zalo OA · đã chờ 2 phút 5 giây"
    assert s.reasons == ["angry", "requested"]
    assert s.facts["order_codes"] == ["DH123456"]
    assert s.facts["phones"] == ["0912345678"]
    assert s.facts["amounts"] == [1_200_000]
    assert s.facts["payment_methods"] == ["MoMo"]
    assert s.sentiment["trajectory"] == ["neutral", "negative", "angry"]
    assert s.sentiment["latest"] == {"label": "negative", "angry": True, "score": -0.95}
    assert set(s.to_dict()) == {"text", "reasons", "facts", "sentiment", "issue"}
    # The card's one line: the most upset turn, not the first or the last.
    assert s.issue == "LỪA ĐẢO À??? cho gặp nhân viên ngay!!!"


def test_issue_without_upset_turns_is_the_first_question_and_is_short() -> None:
    long_question = "Cho mình hỏi " + "về phí ship ra huyện đảo " * 10
    turns = [
        {"role": "user", "text": "chào shop", "sentiment": NEU},
        {"role": "user", "text": long_question, "sentiment": NEU},
        {"role": "user", "text": "cho tôi gặp nhân viên", "sentiment": NEU},
    ]
    issue = summarize(turns, ["requested"], "web", 5).issue
    assert issue.startswith("Cho mình hỏi về phí ship") and issue.endswith("…")
    assert len(issue) <= 90
    assert summarize([{"role": "user", "text": "ok"}], [], None, None).issue == ""


def test_summary_is_deterministic() -> None:
    a = summarize(transcript(), ["angry"], "web", 10).to_dict()
    b = summarize(transcript(), ["angry"], "web", 10).to_dict()
    assert a == b


def test_intents_from_meta() -> None:
    turns = [
        {"role": "user", "text": "đơn DH111111 đâu", "ts": 1, "intent": "order_status"},
        {"role": "bot", "text": "", "ts": 2,
         "meta": {"kind": "order_status", "order_code": "DH222222", "found": True}},
        {"role": "bot", "text": "", "ts": 3,
         "meta": {"cskh_meta": {"kind": "handoff_request", "reason": "complaint"}}},
        {"role": "user", "text": "cảm ơn", "ts": 4, "intent": "thank"},
    ]
    s = summarize(turns, ["requested"], "messenger", None)
    assert "Ý định: tra cứu đơn hàng, khiếu nại" in s.text
    assert s.facts["order_codes"] == ["DH111111", "DH222222"]
    assert "Kênh: Facebook Messenger" in s.text and "chờ" not in s.text


def test_a_late_order_the_bot_looked_up_is_marked_late_for_the_agent() -> None:
    turns = [
        {"role": "user", "text": "đơn DH100003 đâu rồi", "ts": 1, "intent": "order_status"},
        {"role": "bot", "text": "", "ts": 2, "meta": {
            "kind": "order_status", "order_code": "DH100003", "found": True, "verified": True,
            "late_days": 22}},
        {"role": "user", "text": "gặp nhân viên", "ts": 3, "intent": "request_human"},
    ]
    s = summarize(turns, ["requested"], "web", None)
    assert "mã đơn DH100003 (trễ 22 ngày so với dự kiến)" in s.text, s.text
    assert s.facts["order_codes"] == ["DH100003"]


class FakeModel:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def predict(self, texts: Sequence[str]) -> list[Sentiment]:
        self.calls.append(list(texts))
        return [Sentiment("negative", "!!!" in t, -0.9 if "!!!" in t else -0.3) for t in texts]


def test_turns_without_sentiment_are_scored_by_the_model() -> None:
    turns = [
        {"role": "user", "text": "hàng chưa về", "ts": 1},
        {"role": "user", "text": "/feedback_not_helpful", "ts": 2},
        {"role": "user", "text": "bực quá!!!", "ts": 3, "sentiment": None},
    ]
    model = FakeModel()
    s = summarize(turns, [], None, None, model=model)
    assert model.calls == [["hàng chưa về", "bực quá!!!"]]  # one batch, payloads skipped
    assert s.sentiment["trajectory"] == ["negative", "angry"]
    assert s.reasons == [] and "Lý do" not in s.text


def test_empty_transcript() -> None:
    s = summarize([], [], None, None)
    assert s.text == "Khách chưa nêu vấn đề cụ thể."
    assert s.sentiment["trajectory"] == []


def test_helpers() -> None:
    assert format_wait(45) == "45 giây"
    assert format_wait(120) == "2 phút"
    assert format_wait(3725) == "1 giờ 2 phút"
    long = "rất " * 60
    assert len(trim(long)) <= 141 and trim(long).endswith("…")
    assert parse_ts(1700000000000) == 1700000000.0
    assert parse_ts("2026-01-01T00:00:00Z") == parse_ts("2026-01-01T07:00:00+07:00")
    assert parse_ts("soon") is None


def test_another_shops_order_code_and_the_dates_reach_the_agent() -> None:
    turns = [{"role": "user", "sentiment": NEG,
              "text": "em đã trả hàng hôm 20/11 mà tới giờ chưa thấy hoàn tiền, đơn 88812345"}]
    s = summarize(turns, ["complex"], "web", None)
    assert "Thông tin: mã đơn 88812345 · ngày: 20/11" in s.text
    assert s.facts["order_codes"] == ["88812345"] and s.facts["dates"] == ["20/11"]
