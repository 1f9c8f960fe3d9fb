"""The supervisor's content gaps report, over the real app and database (SQLite, PostgreSQL).

Customers write to the REST webhook; the hub asks a scripted bot and stores its replies with
their `cskh_meta` (docs/contracts.md), as in production. The report is then read back
through `GET /api/console/content-gaps` and its CSV twin.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from handoff.core.hub import Hub
from handoff.store import content_gaps
from handoff.store.models import utcnow

from .conftest import agent_client, say
from .support import CannedRasa, counting

SHIP = ("phi-van-chuyen", "Phí vận chuyển")
RETURNS = ("chinh-sach-doi-tra", "Chính sách đổi trả hàng")
WARRANTY = ("chinh-sach-bao-hanh", "Chính sách bảo hành")
# What the scripted bot answers confidently, by the customer's exact text.
ANSWERS = {
    "phí ship bao nhiêu": SHIP,
    "đổi trả thế nào": RETURNS,
    "bảo hành bao lâu": WARRANTY,
}
FALLBACK = {
    "co ban tra gop khong",
    "Có bán TRẢ GÓP ko ạ?",
    "shop có bán sỉ không",
    "có ship hỏa tốc trong ngày không",
    "=HYPERLINK(\"http://xau.example\", \"bấm\")",
}
NOTHING_FOUND = {"có bán trả góp không ạ", '/choose_article{"article_id":"khong-con"}'}
WEAK = "thanh toán lỗi"
INSTALMENT = ("tra-gop", "Mua trả góp")
# Answered from the best passage with "is this it?" and another title beside it.
HEDGED = {"trả góp được ko": (INSTALMENT, SHIP)}
# A weak guess: hedged from an article scoring where the bot used to say "nothing relevant".
GUESS = "shop có cho thuê lều không"
# Right after GUESS, searched as its follow-up (the meta carries the question before).
FOLLOW_UP = "thế còn bạt thì sao"
PERSON = "gặp nhân viên"  # tests' KeywordTriage hands these over at once


def _meta(meta: dict[str, Any], sender: str) -> dict[str, Any]:
    return {"recipient_id": sender, "custom": {"cskh_meta": meta}}


def _article(ref: tuple[str, str]) -> dict[str, Any]:
    return {"id": ref[0], "title": ref[1], "url": f"https://saomaishop.vn/ho-tro/{ref[0]}",
            "score": 0.8}


class ScriptedRasa(CannedRasa):
    """Answers like the real bot would, per message: a confident article with the "did this
    help?" buttons, the verdict's reply, a weak match, nothing found or not understood."""

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        self.calls.append({"sender": sender, "message": message, "metadata": metadata})
        if message in ANSWERS:
            ref = ANSWERS[message]
            return [
                {"recipient_id": sender, "text": f"Dạ theo bài {ref[1]} ạ."},
                _meta({"kind": "faq_answer", "confident": True, "articles": [_article(ref)],
                       "query": message}, sender),
                {"recipient_id": sender, "text": "Câu trả lời này có giúp được bạn không?",
                 "buttons": [{"title": "Có, cảm ơn", "payload": "/feedback_helpful"},
                             {"title": "Chưa giúp được", "payload": "/feedback_not_helpful"}]},
            ]
        if message in HEDGED:
            return [
                {"recipient_id": sender, "text": "Dạ shop hỗ trợ trả góp 0% ạ."},
                _meta({"kind": "faq_answer", "confident": False,
                       "articles": [_article(ref) for ref in HEDGED[message]],
                       "query": message}, sender),
            ]
        if message == GUESS:
            return [
                {"recipient_id": sender, "text": "Dạ dữ liệu của bạn được dùng để..."},
                _meta({"kind": "faq_answer", "confident": False, "weak": True,
                       "articles": [_article(("chinh-sach-bao-mat", "Chính sách bảo mật"))],
                       "query": message}, sender),
            ]
        if message == FOLLOW_UP:
            return [
                {"recipient_id": sender, "text": "Dạ dữ liệu của bạn được dùng để..."},
                _meta({"kind": "faq_answer", "confident": False, "weak": True,
                       "articles": [_article(("chinh-sach-bao-mat", "Chính sách bảo mật"))],
                       "query": message, "context": GUESS}, sender),
            ]
        if message in ("/feedback_helpful", "/feedback_not_helpful"):
            helpful = message == "/feedback_helpful"
            return [
                {"recipient_id": sender, "text": "Dạ em cảm ơn ạ." if helpful else "Dạ xin lỗi."},
                _meta({"kind": "feedback", "helpful": helpful, "articles": []}, sender),
            ]
        if message == WEAK:
            return [
                {"recipient_id": sender, "text": "Anh/chị chọn giúp em nhé."},
                _meta({"kind": "faq_choices", "confident": False,
                       "articles": [_article(("loi-thanh-toan", "Lỗi thanh toán"))],
                       "query": message}, sender),
            ]
        if message in NOTHING_FOUND:
            return [
                {"recipient_id": sender, "text": "Dạ em chưa tìm thấy thông tin phù hợp."},
                _meta({"kind": "faq_choices", "confident": False, "articles": [],
                       "query": message}, sender),
            ]
        if message in FALLBACK:
            return [
                {"recipient_id": sender, "text": "Dạ xin lỗi, em chưa hiểu rõ ý anh/chị."},
                _meta({"kind": "fallback"}, sender),
            ]
        return [{"recipient_id": sender, "text": "Dạ vâng ạ."}]


@pytest.fixture
def rasa() -> ScriptedRasa:
    return ScriptedRasa()


async def talk(client: httpx.AsyncClient, sender: str, *messages: str) -> None:
    for message in messages:
        await say(client, sender, message)


def chit_chat(n: int) -> list[str]:
    return [f"ừm để em xem lại {i}" for i in range(n)]


async def report(console: httpx.AsyncClient, days: int | None = None) -> dict[str, Any]:
    r = await console.get("/api/console/content-gaps", params={"days": days} if days else {})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def counts(body: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
    return {
        a["article_id"]: (a["answers"], a["helpful"], a["not_helpful"], a["handoffs_after"])
        for a in body["articles"]
    }


async def test_per_article_answers_verdicts_and_handoffs(
    app: Any, client: httpx.AsyncClient, hub: Hub
) -> None:
    boss = await agent_client(app, hub, "boss", "supervisor")
    ship, returns, warranty = (q for q in ANSWERS)
    await talk(client, "yes", ship, "/feedback_helpful")
    # Pressing "yes" again on the same answer is still one verdict.
    await talk(client, "yes-twice", ship, "/feedback_helpful", "/feedback_helpful")
    await talk(client, "no-then-person", ship, "/feedback_not_helpful", PERSON)
    # The verdict and the handoff after a second article are that article's.
    await talk(client, "moved-on", ship, returns, "/feedback_not_helpful", PERSON)
    # A verdict after the customer asked something else is not about the answer.
    await talk(client, "late-verdict", ship, "cảm ơn shop", "/feedback_helpful")
    within = content_gaps.HANDOFF_WITHIN_TURNS
    await talk(client, "person-in-time", ship, *chit_chat(within - 1), PERSON)
    await talk(client, "person-too-late", ship, *chit_chat(within), PERSON)
    # A question the bot could not answer closes the earlier answer: the handoff after it
    # is about that question.
    await talk(client, "unanswered-then-person", ship, "có ship hỏa tốc trong ngày không", PERSON)
    for n in range(3):
        await talk(client, f"warranty-{n}", warranty, "/feedback_helpful")
    await talk(client, "weak", WEAK, "/feedback_not_helpful")

    body = await report(boss)

    assert counts(body) == {
        SHIP[0]: (8, 2, 1, 2),
        RETURNS[0]: (1, 0, 1, 1),
        WARRANTY[0]: (3, 3, 0, 0),
    }
    # Most "not helpful" + handoffs first, whatever the number of answers.
    assert [a["article_id"] for a in body["articles"]] == [SHIP[0], RETURNS[0], WARRANTY[0]]
    first = body["articles"][0]
    assert (first["title"], first["url"]) == (SHIP[1], f"https://saomaishop.vn/ho-tro/{SHIP[0]}")
    # 5 handoffs in all; 3 came soon enough after an answer, before anything else.
    with hub.store.read() as s:
        assert s.scalar(text("SELECT count(*) FROM handoffs")) == 5
    assert body["days"] == content_gaps.DEFAULT_DAYS and body["partial"] is False
    await boss.aclose()


async def test_hedged_answers_are_counted_apart_with_their_verdicts_and_handoffs(
    app: Any, client: httpx.AsyncClient, hub: Hub
) -> None:
    """Most answers are hedged since the bot answers down to a score of 0.30: the article
    they came from gets them, its verdicts and handoffs; the title offered beside it none."""
    boss = await agent_client(app, hub, "boss", "supervisor")
    hedged = next(iter(HEDGED))
    await talk(client, "h-no", hedged, "/feedback_not_helpful", PERSON)
    await talk(client, "h-yes", hedged, "/feedback_helpful")
    await talk(client, "h-then-sure", hedged, "phí ship bao nhiêu", "/feedback_helpful")
    body = await report(boss)
    by_id = {a["article_id"]: a for a in body["articles"]}
    got = by_id[INSTALMENT[0]]
    assert (got["answers"], got["hedged_answers"], got["helpful"], got["not_helpful"],
            got["handoffs_after"]) == (0, 3, 1, 1, 1)
    assert (by_id[SHIP[0]]["answers"], by_id[SHIP[0]]["hedged_answers"]) == (1, 0)
    assert by_id[SHIP[0]]["helpful"] == 1
    # It needs work (a "no" and a handoff): first.
    assert body["articles"][0]["article_id"] == INSTALMENT[0]
    articles = read_csv(await boss.get("/api/console/content-gaps.csv"))
    assert articles[0][-1] == "Trả lời chưa chắc chắn"
    assert [r[-1] for r in articles[1:]] == [str(a["hedged_answers"]) for a in body["articles"]]
    await boss.aclose()


async def test_a_weak_guess_is_a_question_without_an_article_not_an_answer(
    app: Any, client: httpx.AsyncClient, hub: Hub
) -> None:
    boss = await agent_client(app, hub, "boss", "supervisor")
    await talk(client, "guess-1", GUESS, "/feedback_not_helpful")
    await talk(client, "guess-2", GUESS)
    body = await report(boss)
    assert "chinh-sach-bao-mat" not in {a["article_id"] for a in body["articles"]}
    assert [(g["example"], g["count"], g["conversations"]) for g in body["questions"]] == [
        (GUESS, 2, 2)
    ]
    await boss.aclose()


async def test_an_unanswered_follow_up_is_shown_with_the_question_it_followed(
    app: Any, client: httpx.AsyncClient, hub: Hub
) -> None:
    boss = await agent_client(app, hub, "boss", "supervisor")
    await talk(client, "follow-1", FOLLOW_UP)
    body = await report(boss)
    assert [g["example"] for g in body["questions"]] == [f"{GUESS} → {FOLLOW_UP}"]
    await boss.aclose()


async def test_unanswered_questions_are_grouped_by_wording(
    app: Any, client: httpx.AsyncClient, hub: Hub
) -> None:
    boss = await agent_client(app, hub, "boss", "supervisor")
    await talk(client, "u1", "co ban tra gop khong", "đổi trả thế nào", "co ban tra gop khong")
    await talk(client, "u2", "có bán trả góp không ạ")
    await talk(client, "u3", "Có bán TRẢ GÓP ko ạ?")
    await talk(client, "u4", "shop có bán sỉ không")
    # A pressed button the bot found nothing for is not a customer's question.
    await talk(client, "u5", '/choose_article{"article_id":"khong-con"}')
    await talk(client, "u6", WEAK)  # a weak match offered articles: answered, in a way

    groups = (await report(boss))["questions"]

    installments = groups[0]
    assert (installments["count"], installments["conversations"]) == (4, 3)
    assert installments["example"] == "co ban tra gop khong"  # asked twice
    assert sorted(installments["variants"]) == ["Có bán TRẢ GÓP ko ạ?", "có bán trả góp không ạ"]
    assert installments["last_asked_at"]
    rest = [(g["count"], g["example"], g["variants"]) for g in groups[1:]]
    assert rest == [(1, "shop có bán sỉ không", [])]
    await boss.aclose()


def test_grouping_joins_alike_wordings_and_keeps_topics_apart() -> None:
    now = utcnow()

    def asked(*texts: str) -> list[content_gaps.Asked]:
        return [content_gaps.Asked(t, f"c{i}", now) for i, t in enumerate(texts)]

    groups = content_gaps.group_questions(asked(
        "giao hàng ra Đà Nẵng mấy ngày",
        "giao hang ra da nang may ngay vay shop",
        "ship ra đà nẵng mất mấy ngày",
        "có xuất hóa đơn đỏ không",
        "có xuất hoá đơn đỏ ko",
        # Alike only in the question's frame ("có ... không"): two topics.
        "có bán sỉ không",
        "có bán trả góp không",
        "👍",
    ))
    assert [
        (g.count, {g.example, *g.variants}) for g in groups
    ] == [
        (3, {"giao hàng ra Đà Nẵng mấy ngày", "giao hang ra da nang may ngay vay shop",
             "ship ra đà nẵng mất mấy ngày"}),
        (2, {"có xuất hóa đơn đỏ không", "có xuất hoá đơn đỏ ko"}),
        (1, {"có bán sỉ không"}),
        (1, {"có bán trả góp không"}),
    ]  # the emoji says nothing to group


def test_grouping_compares_only_leaders_that_can_match_yet_finds_the_same_groups() -> None:
    """Prefix filtering skips leaders sharing none of a question's rarest words; the groups
    must be those of comparing every question with every leader."""
    vocabulary = "giao hang don tra gop ban si hoa do ship phi doi size ao mau co khong".split()
    now = utcnow()

    def every_leader(asked: list[content_gaps.Asked]) -> list[tuple[int, str]]:
        by_words = Counter(content_gaps.words(a.text) for a in asked)
        order = sorted(by_words, key=lambda k: (-by_words[k], sorted(k)))
        leaders: list[frozenset[str]] = []
        sizes: list[int] = []
        for key in order:
            scores = [content_gaps.jaccard(key, leader) for leader in leaders]
            best = max(range(len(leaders)), key=lambda g: (scores[g], -g), default=None)
            if best is None or scores[best] < content_gaps.SIMILARITY:
                leaders.append(key)
                sizes.append(0)
                best = len(leaders) - 1
            sizes[best] += by_words[key]
        return sorted(sizes)

    for seed in range(200):
        rng = random.Random(seed)
        asked = [
            content_gaps.Asked(" ".join(rng.sample(vocabulary, rng.randint(1, 6))), "c", now)
            for _ in range(rng.randint(1, 60))
        ]
        fast = sorted(g.count for g in content_gaps.group_questions(asked))
        assert fast == every_leader(asked), seed


async def test_the_window(app: Any, client: httpx.AsyncClient, hub: Hub) -> None:
    boss = await agent_client(app, hub, "boss", "supervisor")
    await talk(client, "old", "co ban tra gop khong")
    await talk(client, "old", "phí ship bao nhiêu", "/feedback_not_helpful", PERSON)
    await talk(client, "new", "phí ship bao nhiêu", "/feedback_helpful")
    ten_days_ago = utcnow() - timedelta(days=10)
    with hub.store.write() as s:
        old = s.scalar(text("SELECT id FROM conversations WHERE external_id = 'old'"))
        for table, column in (("messages", "created_at"), ("handoffs", "queued_at")):
            s.execute(
                text(f"UPDATE {table} SET {column} = :t WHERE conversation_id = :c"),
                {"t": ten_days_ago, "c": old},
            )

    week = await report(boss, days=7)
    month = await report(boss, days=30)

    assert counts(week) == {SHIP[0]: (1, 1, 0, 0)}
    assert week["questions"] == []
    assert counts(month) == {SHIP[0]: (2, 1, 1, 1)}
    assert [g["example"] for g in month["questions"]] == ["co ban tra gop khong"]
    assert week["days"] == 7 and week["since"] > month["since"]
    for bad in ("0", "366", "mot-thang"):
        r = await boss.get("/api/console/content-gaps", params={"days": bad})
        assert r.status_code == 422 and r.json()["error"] == "invalid_request", r.text
    await boss.aclose()


async def test_only_the_newest_messages_are_read_and_the_report_says_so(
    app: Any, client: httpx.AsyncClient, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    boss = await agent_client(app, hub, "boss", "supervisor")
    await talk(client, "first", "đổi trả thế nào")
    await talk(client, "second", "phí ship bao nhiêu")
    assert (await report(boss))["partial"] is False
    with hub.store.read() as s:
        stored = s.scalar(text("SELECT count(*) FROM messages WHERE conversation_id IN "
                               "(SELECT id FROM conversations WHERE external_id = 'second')"))
    monkeypatch.setattr(content_gaps, "SCAN_MESSAGES", stored)

    body = await report(boss)

    assert body["partial"] is True
    assert counts(body) == {SHIP[0]: (1, 0, 0, 0)}
    assert body["scanned_messages"] <= stored
    await boss.aclose()




async def test_the_number_of_queries_does_not_grow_with_the_conversations(
    app: Any, client: httpx.AsyncClient, hub: Hub
) -> None:
    await app.state.delivery.stop()  # its polling is not the report's cost
    boss = await agent_client(app, hub, "boss", "supervisor")
    await talk(client, "k0", "phí ship bao nhiêu", "/feedback_not_helpful", PERSON)
    with counting(hub) as small:
        await report(boss)
    for n in range(1, 15):
        await talk(client, f"k{n}", "phí ship bao nhiêu", "/feedback_not_helpful", PERSON)
        await talk(client, f"q{n}", f"có bán sỉ mẫu số {n} không", "shop có bán sỉ không")
    with counting(hub) as large:
        body = await report(boss)
    assert counts(body) == {SHIP[0]: (15, 0, 15, 15)}
    assert len(large) == len(small), "\n".join(["small:", *small, "large:", *large])
    await boss.aclose()


async def test_supervisors_only(app: Any, client: httpx.AsyncClient, hub: Hub) -> None:
    lan = await agent_client(app, hub, "lan")
    for path in ("/api/console/content-gaps", "/api/console/content-gaps.csv"):
        anonymous = await client.get(path)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.json()["error"] == "unauthorized"
        agent = await lan.get(path)
        assert agent.status_code == 403, agent.text
        assert agent.json()["error"] == "supervisor_only"
    await lan.aclose()


def read_csv(r: httpx.Response) -> list[list[str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel then reads it as UTF-8
    return list(csv.reader(io.StringIO(r.content[3:].decode("utf-8"), newline="")))


async def test_csv_export(app: Any, client: httpx.AsyncClient, hub: Hub) -> None:
    boss = await agent_client(app, hub, "boss", "supervisor")
    await talk(client, "a", "phí ship bao nhiêu", "/feedback_not_helpful", PERSON)
    await talk(client, "b", "đổi trả thế nào", "/feedback_helpful")
    await talk(client, "c", "co ban tra gop khong")
    await talk(client, "d", "có bán trả góp không ạ", '=HYPERLINK("http://xau.example", "bấm")')
    body = await report(boss)

    articles = read_csv(await boss.get("/api/console/content-gaps.csv"))
    assert articles[0][:3] == ["Mã bài viết", "Tiêu đề", "Số lần trả lời"]
    rows = [[r[0], r[1], *map(int, r[2:6])] for r in articles[1:]]
    assert rows == [
        [a["article_id"], a["title"], a["answers"], a["helpful"], a["not_helpful"],
         a["handoffs_after"]]
        for a in body["articles"]
    ]
    assert rows[0] == [SHIP[0], SHIP[1], 1, 0, 1, 1]

    questions = read_csv(
        await boss.get("/api/console/content-gaps.csv", params={"table": "questions", "days": 7})
    )
    assert questions[0][:3] == ["Số lần hỏi", "Số hội thoại", "Câu hỏi ví dụ"]
    assert [(int(q[0]), q[2].removeprefix("'")) for q in questions[1:]] == [
        (g["count"], g["example"]) for g in body["questions"]
    ]
    # Asked once each: the wording with accents is the example.
    assert questions[1][:4] == ["2", "2", "có bán trả góp không ạ", "co ban tra gop khong"]
    # A customer's text that a spreadsheet would run as a formula is written as text.
    assert any(q[2].startswith("'=HYPERLINK") for q in questions[1:]), questions
    assert not any(cell.startswith("=") for q in questions for cell in q)

    r = await boss.get("/api/console/content-gaps.csv", params={"table": "khac"})
    assert r.status_code == 422, r.text
    await boss.aclose()
