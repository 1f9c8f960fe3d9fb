"""The Messenger channel against a fake Graph API over real HTTP: webhook verification and
signatures, every event kind Meta documents, delivery through the outbox with Meta's reply
windows, splitting, quick replies, outages and errors. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cskh.persona import DEFAULT as DEFAULT_PERSONA
from handoff.app import create_app
from handoff.channels import messenger
from handoff.channels.base import Attachment, DeliveryError, OutboundMessage
from handoff.core import copy_vi
from handoff.core.hub import Hub
from handoff.core.views import Button, CustomerMessage
from handoff.settings import HubSettings
from handoff.store.models import Conversation, OutboxEntry, utcnow
from tests.fakes.graph import (
    INVALID_TOKEN,
    NO_MATCHING_USER,
    OUTSIDE_WINDOW,
    RATE_LIMITED,
    TEMPORARY,
    USER_UNAVAILABLE,
    FakeGraph,
    GraphError,
)

from .conftest import agent_client, make_client
from .support import CannedRasa, KeywordTriage

APP_SECRET = "messenger-app-secret"
VERIFY_TOKEN = "verify-token-123"
PAGE_TOKEN = "EAAG-page-token"
PAGE_ID = "104857600000001"
PSID = "6543210987654321"  # page-scoped ids are long digit strings
WEBHOOK = "/webhooks/messenger"

# ~4500 characters of sentences, a paragraph break in the middle.
LONG_ANSWER = (
    " ".join(f"Câu {i:02d}: chính sách đổi trả áp dụng trong ba mươi ngày." for i in range(40))
    + "\n\n"
    + " ".join(f"Mục {i:02d}: hoàn tiền qua ví điện tử trong năm ngày làm việc." for i in range(40))
)
MANY_BUTTONS = [
    {"title": f"Lựa chọn số {i} có tiêu đề rất dài", "payload": f'/choose{{"n":{i}}}'}
    for i in range(1, 16)
]


class ScriptedRasa(CannedRasa):
    """CannedRasa plus scripted answers (`/long`, `/many_buttons`); `hold` keeps the bot
    from answering until it is set (to see the webhook answer before the bot does)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold: asyncio.Event | None = None

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        canned = await super().send(sender, message, metadata)
        if self.hold is not None:
            await self.hold.wait()
        if message == "/long":
            buttons = [{"title": "Có", "payload": "/feedback_helpful"}]
            return [{"recipient_id": sender, "text": LONG_ANSWER, "buttons": buttons}]
        if message == "/many_buttons":
            return [{"recipient_id": sender, "text": "Bạn chọn nhé", "buttons": MANY_BUTTONS}]
        return canned


# ================================================================== fixtures, helpers
@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(page_token=PAGE_TOKEN) as fake:
        yield fake


def with_messenger(settings: HubSettings, graph: FakeGraph, **extra: Any) -> HubSettings:
    return settings.model_copy(
        update={
            "messenger_app_secret": APP_SECRET,
            "messenger_verify_token": VERIFY_TOKEN,
            "messenger_page_access_token": PAGE_TOKEN,
            "messenger_graph_url": graph.url,
            "outbox_backoff_seconds": 0.05,
            "outbox_backoff_max_seconds": 0.2,
            "outbox_poll_seconds": 0.05,
            **extra,
        }
    )


@pytest.fixture
def bot() -> ScriptedRasa:
    return ScriptedRasa()


@pytest.fixture
async def fb_app(settings: HubSettings, graph: FakeGraph, bot: ScriptedRasa) -> AsyncIterator[Any]:
    app = create_app(with_messenger(settings, graph), rasa=bot, triage=KeywordTriage())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def fb(fb_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(fb_app) as c:
        yield c


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(*events: dict[str, Any]) -> dict[str, Any]:
    """A webhook POST body as Meta sends it: one entry per event."""
    now = int(time.time() * 1000)
    return {
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": now, "messaging": [e]} for e in events],
    }


def event(sender: str | int = PSID, **kind: Any) -> dict[str, Any]:
    return {
        "sender": {"id": sender},
        "recipient": {"id": PAGE_ID},
        "timestamp": int(time.time() * 1000),
        **kind,
    }


def text_event(text: str, mid: str, sender: str = PSID, **extra: Any) -> dict[str, Any]:
    return event(sender, message={"mid": mid, "text": text, **extra})


async def post(
    client: httpx.AsyncClient, payload: Any, *, signature: str | None = "auto"
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "auto":
        headers["X-Hub-Signature-256"] = sign(body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return await client.post(WEBHOOK, content=body, headers=headers)


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def outbox_rows(hub: Hub) -> list[OutboxEntry]:
    with hub.store.read() as s:
        return list(s.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


async def settle(hub: Hub) -> None:
    """Every stored message answered and every outbox row sent or failed."""
    await hub.drain()
    await until(lambda: all(r.status in ("sent", "failed") for r in outbox_rows(hub)))


async def conversation_id(hub: Hub, psid: str = PSID) -> str:
    conv = await hub.find_conversation(("messenger",), psid)
    assert conv is not None
    return conv.id


def set_last_customer_at(hub: Hub, cid: str, when: datetime) -> None:
    with hub.store.write() as s:
        conv = s.get(Conversation, cid)
        assert conv is not None
        conv.last_customer_at = when


def channel_of(app: Any) -> messenger.MessengerChannel:
    channel = app.state.hub.channels["messenger"]
    assert isinstance(channel, messenger.MessengerChannel)
    return channel


# ============================================================ plain functions (no app)
def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"object":"page","entry":[]}'
    assert messenger.signature_ok(body, sign(body), APP_SECRET)
    assert not messenger.signature_ok(body, sign(body, "other-secret"), APP_SECRET)
    assert not messenger.signature_ok(body + b" ", sign(body), APP_SECRET)
    assert not messenger.signature_ok(body, None, APP_SECRET)
    assert not messenger.signature_ok(body, "", APP_SECRET)
    sha1 = "sha1=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert not messenger.signature_ok(body, sha1, APP_SECRET)  # the old header is not enough
    assert not messenger.signature_ok(body, sign(body)[len("sha256=") :], APP_SECRET)


def test_verification_challenge() -> None:
    good = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    assert messenger.verification_challenge(good, VERIFY_TOKEN) == "1158201444"
    assert messenger.verification_challenge({**good, "hub.verify_token": "x"}, VERIFY_TOKEN) is None
    assert (
        messenger.verification_challenge({**good, "hub.mode": "unsubscribe"}, VERIFY_TOKEN) is None
    )
    no_token = {k: v for k, v in good.items() if k != "hub.verify_token"}
    assert messenger.verification_challenge(no_token, VERIFY_TOKEN) is None


def test_parse_keeps_ids_as_strings_and_skips_what_is_not_a_customer_message() -> None:
    data = delivery(
        event(1234567890123456789, message={"mid": "m_1", "text": "  xin chào  "}),
        event(message={"mid": "m_echo", "text": "bot said", "is_echo": True, "app_id": 1}),
        event(read={"watermark": 1458668856253}),
        event(delivery={"mids": ["m_1"], "watermark": 1458668856253}),
        event(reaction={"mid": "m_1", "action": "react", "reaction": "love", "emoji": "❤"}),
        event(message={"mid": "m_unsupported", "is_unsupported": True}),
        {"sender": {}, "message": {"mid": "m_nobody", "text": "hi"}},  # malformed: skipped
    )
    found = messenger.parse_events(data, 5000)
    assert len(found) == 1
    assert found[0].sender_id == "1234567890123456789"
    assert found[0].text == "xin chào"
    assert found[0].message_id == "m_1"
    assert found[0].metadata == {"page_id": PAGE_ID}
    assert messenger.parse_events({"object": "instagram", "entry": data["entry"]}, 5000) == []


def test_parse_buttons_give_the_payload_to_the_bot_and_the_title_to_agents() -> None:
    quick = messenger.parse_event(
        text_event("Có", "m_q", quick_reply={"payload": "/feedback_helpful"}), 5000
    )
    assert quick is not None
    assert (quick.text, quick.payload, quick.bot_text) == (
        "Có",
        "/feedback_helpful",
        "/feedback_helpful",
    )
    postback = messenger.parse_event(
        event(postback={"mid": "m_p", "title": "Bắt đầu", "payload": "/greet"}), 5000
    )
    assert postback is not None
    assert (postback.text, postback.bot_text, postback.message_id) == ("Bắt đầu", "/greet", "m_p")
    old = messenger.parse_event(
        {**event(postback={"title": "A", "payload": "/a"}), "timestamp": 42}, 5000
    )
    assert old is not None and old.message_id == "postback:42"  # still de-duplicated


def test_parse_attachments() -> None:
    img = "https://scontent.xx.fbcdn.net/v/image.png"
    raw = [
        {"type": "image", "payload": {"url": img}},
        {"type": "sticker", "payload": {"url": "https://x/s.png", "sticker_id": 369239263222822}},
        {"type": "image", "payload": {"url": "https://x/s.png", "sticker_id": 369239263222822}},
        {"type": "image", "payload": {"url": "https://x/old.png", "sticker_id": 126361874215276}},
        {"type": "file", "payload": {"url": "https://x/hoa-don.pdf"}},
        {"type": "audio", "payload": {"url": "https://x/a.mp4"}},
        {"type": "video", "payload": {"url": "https://x/v.mp4"}},
        {
            "type": "location",
            "title": "Vị trí của tôi",
            "payload": {"coordinates": {"lat": 10.7769, "long": 106.7009}},
        },
        {
            "type": "fallback",
            "title": "Đơn hàng",
            "url": "https://shop.example/don/1",
            "payload": None,
        },
    ]
    assert messenger.parse_attachments(raw) == [
        Attachment("image", img),
        Attachment("sticker", "https://x/s.png", "👍"),  # its image twin is dropped
        Attachment("sticker", "https://x/old.png", "126361874215276"),
        Attachment("file", "https://x/hoa-don.pdf"),
        Attachment("audio", "https://x/a.mp4"),
        Attachment("video", "https://x/v.mp4"),
        Attachment("location", "https://maps.google.com/?q=10.7769,106.7009", "Vị trí của tôi"),
        Attachment("link", "https://shop.example/don/1", "Đơn hàng"),
    ]


def test_split_text_at_sentence_and_word_boundaries() -> None:
    parts = messenger.split_text(LONG_ANSWER)
    assert len(parts) == 3
    assert all(0 < len(p) <= 2000 for p in parts)
    assert all(p.endswith(".") for p in parts)  # cut after a sentence, never mid-word
    assert "".join("".join(parts).split()) == "".join(LONG_ANSWER.split())  # all, in order
    first = ("Một câu ngắn. " * 100).strip()
    second = ("Câu thứ hai. " * 100).strip()
    assert messenger.split_text(first + "\n\n" + second) == [first, second]  # the paragraph
    words = ("từ " * 1500).strip()  # no sentence: cut between words
    assert all(len(p) <= 2000 and not p.endswith(" ") for p in messenger.split_text(words))
    assert " ".join(messenger.split_text(words)) == words
    assert messenger.split_text("x" * 4100) == ["x" * 2000, "x" * 2000, "x" * 100]
    assert messenger.split_text("ngắn") == ["ngắn"]
    assert messenger.split_text("") == []


def test_quick_replies_are_trimmed() -> None:
    buttons = [Button(**b) for b in MANY_BUTTONS]
    replies = messenger.quick_replies(buttons)
    assert len(replies) == 13
    assert all(r["content_type"] == "text" and len(r["title"]) <= 20 for r in replies)
    assert replies[0]["title"] == "Lựa chọn số 1 có ti…"
    assert [r["payload"] for r in replies] == [b["payload"] for b in MANY_BUTTONS[:13]]


@pytest.mark.parametrize(
    ("error", "permanent", "says"),
    [
        (TEMPORARY, False, "tạm thời"),
        (RATE_LIMITED, False, "giới hạn tốc độ"),
        (GraphError(400, 4, "Application request limit reached"), False, "giới hạn"),
        (GraphError(400, 1200, "Temporary send message failure"), False, "tạm thời"),
        (GraphError(503, 99999, "Service unavailable"), False, "tạm thời"),
        (OUTSIDE_WINDOW, True, "ngoài khung thời gian"),
        (USER_UNAVAILABLE, True, "không nhận được"),
        (NO_MATCHING_USER, True, "người nhận"),
        (INVALID_TOKEN, True, "CSKH_HUB_MESSENGER_PAGE_ACCESS_TOKEN"),
        (GraphError(403, 200, "(#200) Permissions error"), True, "quyền"),
        (GraphError(400, 12345, "Something else"), True, "từ chối"),
    ],
)
def test_graph_errors_are_transient_or_permanent(
    error: GraphError, permanent: bool, says: str
) -> None:
    exc = messenger.graph_error(error.status, json.dumps(error.body()).encode())
    assert exc.permanent is permanent
    assert says in exc.reason
    assert f"mã {error.code}" in exc.reason and error.message[:30] in exc.reason
    garbage = messenger.graph_error(502, b"<html>Bad Gateway</html>")
    assert not garbage.permanent and "HTTP 502" in garbage.reason


def test_build_is_off_until_all_three_secrets_are_set() -> None:
    full = HubSettings(
        messenger_app_secret="a", messenger_verify_token="b", messenger_page_access_token="c"
    )
    for missing in (
        "messenger_app_secret",
        "messenger_verify_token",
        "messenger_page_access_token",
    ):
        assert messenger.build(full.model_copy(update={missing: None}), None, lambda: None) is None  # type: ignore[arg-type,return-value]


async def test_reply_windows_and_messaging_types() -> None:
    settings = HubSettings(
        messenger_app_secret="a", messenger_verify_token="b", messenger_page_access_token="c"
    )
    channel = messenger.build(settings, None, lambda: None)  # type: ignore[arg-type,return-value]
    assert channel is not None
    try:
        now = datetime.now(UTC)

        def out(role: str, hours_ago: float) -> OutboundMessage:
            msg = CustomerMessage(id=1, role=role, text="x")
            return OutboundMessage(PSID, msg, last_customer_at=now - timedelta(hours=hours_ago))

        assert channel.envelope(out("bot", 23), now)["messaging_type"] == "RESPONSE"
        assert channel.envelope(out("agent", 23), now)["messaging_type"] == "RESPONSE"
        tagged = channel.envelope(out("agent", 48), now)
        assert (tagged["messaging_type"], tagged["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
        for role, hours in (("bot", 25), ("system", 25), ("agent", 8 * 24)):
            with pytest.raises(DeliveryError) as info:
                channel.envelope(out(role, hours), now)
            assert info.value.permanent
            assert info.value.reason.startswith("Không gửi được qua Messenger")
        last = now - timedelta(hours=1)
        assert channel.reply_window(last, False) == last + timedelta(hours=24)
        assert channel.reply_window(last, True) == last + timedelta(days=7)
        naive = last.replace(tzinfo=None)
        assert channel.reply_window(naive, True) == last + timedelta(days=7)
    finally:
        await channel.aclose()


# ========================================================================= webhook
async def test_verification_get(fb: httpx.AsyncClient) -> None:
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "CHALLENGE_ACCEPTED",
    }
    r = await fb.get(WEBHOOK, params=params)
    assert r.status_code == 200
    assert r.text == "CHALLENGE_ACCEPTED"
    assert r.headers["content-type"].startswith("text/plain")
    bad = await fb.get(WEBHOOK, params={**params, "hub.verify_token": "wrong"})
    assert bad.status_code == 403
    assert "CHALLENGE_ACCEPTED" not in bad.text
    assert (await fb.get(WEBHOOK, params={**params, "hub.mode": "x"})).status_code == 403
    assert (await fb.get(WEBHOOK)).status_code == 403


async def test_a_signed_message_is_acknowledged_at_once_and_answered_through_the_send_api(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph, bot: ScriptedRasa
) -> None:
    bot.hold = asyncio.Event()  # the bot is slow: the webhook must not wait for it
    r = await post(fb, delivery(text_event("đổi trả thế nào", "m_1")))
    assert r.status_code == 200
    hub: Hub = fb_app.state.hub
    # Stored before the 200: the conversation and the message exist, nothing is sent yet.
    cid = await conversation_id(hub)
    detail = await hub.conversation_detail(cid)
    assert [m.text for m in detail.messages] == ["đổi trả thế nào"]
    await until(lambda: len(bot.calls) == 1)
    assert graph.requests == []
    bot.hold.set()
    await until(lambda: len(graph.sent) == 1)
    sent = graph.sent[0]
    assert sent.path == "/v21.0/me/messages"
    assert sent.query == {"access_token": PAGE_TOKEN}
    assert sent.json == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {
            "text": "Trả lời: đổi trả thế nào",
            "quick_replies": [
                {"content_type": "text", "title": "Có", "payload": "/feedback_helpful"},
                {"content_type": "text", "title": "Không", "payload": "/feedback_not_helpful"},
            ],
        },
    }
    assert bot.calls[0]["message"] == "đổi trả thế nào"
    assert bot.calls[0]["metadata"]["channel"] == "messenger"
    await settle(hub)
    assert [r.status for r in outbox_rows(hub)] == ["sent"]


async def test_every_event_of_every_entry_is_handled_in_order(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph, bot: ScriptedRasa
) -> None:
    body = delivery(text_event("câu 1", "m_1"), text_event("câu 2", "m_2"))
    body["entry"][0]["messaging"].append(text_event("câu 3", "m_3", sender="777"))
    assert (await post(fb, body)).status_code == 200
    await settle(fb_app.state.hub)
    assert graph.texts(PSID) == ["Trả lời: câu 1", "Trả lời: câu 2"]
    assert graph.texts("777") == ["Trả lời: câu 3"]
    assert sorted(c["message"] for c in bot.calls) == ["câu 1", "câu 2", "câu 3"]


async def test_forged_or_missing_signature_is_refused_and_nothing_stored(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph, bot: ScriptedRasa
) -> None:
    payload = delivery(text_event("xin chào", "m_1"))
    body = json.dumps(payload).encode()
    for signature in (None, sign(body, "not-the-secret"), "sha256=", "sha1=abc", sign(body + b"x")):
        r = await post(fb, body, signature=signature)
        assert r.status_code == 403, signature
        assert r.json()["error"] == "messenger_bad_signature"
    await fb_app.state.hub.drain()
    assert await fb_app.state.hub.find_conversation(("messenger",), PSID) is None
    assert bot.calls == [] and graph.requests == []


async def test_malformed_bodies_and_other_events(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph, bot: ScriptedRasa
) -> None:
    assert (await post(fb, b"{not json")).status_code == 400
    assert (await post(fb, b"\xff\xfe")).status_code == 400
    assert (await post(fb, b"[1, 2]")).status_code == 400
    others = delivery(
        event(read={"watermark": 1}),
        event(delivery={"mids": ["m_x"], "watermark": 1}),
        event(reaction={"mid": "m_x", "action": "react", "reaction": "like", "emoji": "👍"}),
        event(message={"mid": "m_echo", "text": "từ Trang", "is_echo": True, "app_id": 1}),
    )
    others["entry"].append({"id": PAGE_ID, "time": 1, "messaging": "not a list"})
    r = await post(fb, others)
    assert r.status_code == 200
    await fb_app.state.hub.drain()
    assert await fb_app.state.hub.find_conversation(("messenger",), PSID) is None
    assert bot.calls == [] and graph.requests == []


async def test_a_redelivered_message_is_answered_once(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph, bot: ScriptedRasa
) -> None:
    body = delivery(text_event("phí ship bao nhiêu", "m_dup"))
    assert (await post(fb, body)).status_code == 200
    assert (await post(fb, body)).status_code == 200
    hub: Hub = fb_app.state.hub
    await settle(hub)
    assert graph.texts() == ["Trả lời: phí ship bao nhiêu"]
    assert len(bot.calls) == 1
    detail = await hub.conversation_detail(await conversation_id(hub))
    assert [m.role for m in detail.messages] == ["user", "bot"]


async def test_postback_and_quick_reply_reach_the_bot_as_their_payload(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph, bot: ScriptedRasa
) -> None:
    postback = event(postback={"mid": "m_pb", "title": "Bắt đầu", "payload": "/greet"})
    quick = text_event("Có", "m_qr", quick_reply={"payload": "/feedback_helpful"})
    assert (await post(fb, delivery(postback))).status_code == 200
    assert (await post(fb, delivery(quick))).status_code == 200
    hub: Hub = fb_app.state.hub
    await settle(hub)
    assert [c["message"] for c in bot.calls] == ["/greet", "/feedback_helpful"]
    detail = await hub.conversation_detail(await conversation_id(hub))
    said = [m.text for m in detail.messages if m.role == "user"]
    assert said == ["Bắt đầu", "Có"]  # agents read the words, not the payloads
    assert len(graph.sent) == 2


async def test_an_attachment_is_stored_for_agents_and_acknowledged(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph, bot: ScriptedRasa
) -> None:
    photo = "https://scontent.xx.fbcdn.net/v/t1.15752-9/anh-loi.jpg"
    image = event(
        message={"mid": "m_img", "attachments": [{"type": "image", "payload": {"url": photo}}]}
    )
    sticker = event(
        message={
            "mid": "m_st",
            "attachments": [
                {
                    "type": "sticker",
                    "payload": {"url": "https://x/like.png", "sticker_id": 369239263222822},
                }
            ],
        }
    )
    assert (await post(fb, delivery(image, sticker))).status_code == 200
    hub: Hub = fb_app.state.hub
    await settle(hub)
    cid = await conversation_id(hub)
    lan = await agent_client(fb_app, hub, "lan")
    r = await lan.get(f"/api/console/conversations/{cid}")
    await lan.aclose()
    assert r.status_code == 200
    users = [m for m in r.json()["messages"] if m["role"] == "user"]
    assert [m["attachments"] for m in users] == [
        [{"kind": "image", "url": photo, "name": None}],
        [{"kind": "sticker", "url": "https://x/like.png", "name": "👍"}],
    ]
    assert bot.calls == []  # nothing for the bot to read
    assert graph.texts() == [DEFAULT_PERSONA.render(copy_vi.ATTACHMENT_RECEIVED)] * 2


async def test_a_long_answer_is_sent_in_ordered_parts_with_the_buttons_on_the_last(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph
) -> None:
    assert (await post(fb, delivery(text_event("/long", "m_long")))).status_code == 200
    await settle(fb_app.state.hub)
    sent = graph.sent
    assert len(sent) == 3
    assert all(len(r.text or "") <= 2000 for r in sent)
    assert "".join("".join(r.text or "" for r in sent).split()) == "".join(LONG_ANSWER.split())
    assert [bool(r.quick_replies) for r in sent] == [False, False, True]
    assert sent[-1].quick_replies == [
        {"content_type": "text", "title": "Có", "payload": "/feedback_helpful"}
    ]
    assert {r.messaging_type for r in sent} == {"RESPONSE"}
    assert [r.status for r in outbox_rows(fb_app.state.hub)] == ["sent"]


async def test_a_failed_part_is_retried_without_resending_the_parts_before_it(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph
) -> None:
    graph.fail_next(2, TEMPORARY, skip=1)  # part 1 goes, part 2 fails twice, then all goes
    assert (await post(fb, delivery(text_event("/long", "m_long")))).status_code == 200
    await settle(fb_app.state.hub)
    assert len(graph.failed) == 2
    assert len(graph.sent) == 3  # each part once
    texts = "".join(r.text or "" for r in graph.sent)
    assert "".join(texts.split()) == "".join(LONG_ANSWER.split())
    rows = outbox_rows(fb_app.state.hub)
    assert [(r.status, r.attempts) for r in rows] == [("sent", 3)]


async def test_more_than_13_buttons_and_long_titles_are_trimmed(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph
) -> None:
    assert (await post(fb, delivery(text_event("/many_buttons", "m_b")))).status_code == 200
    await settle(fb_app.state.hub)
    assert len(graph.sent) == 1  # the fake refuses what Meta refuses: it was accepted
    replies = graph.sent[0].quick_replies
    assert len(replies) == 13
    assert all(len(r["title"]) <= 20 for r in replies)
    assert [r["payload"] for r in replies] == [b["payload"] for b in MANY_BUTTONS[:13]]


async def test_an_outage_delays_delivery_and_nothing_is_sent_twice(
    settings: HubSettings, graph: FakeGraph
) -> None:
    app = create_app(
        with_messenger(settings, graph, outbox_max_attempts=1000),
        rasa=ScriptedRasa(),
        triage=KeywordTriage(),
    )
    async with app.router.lifespan_context(app), make_client(app) as fb:
        graph.down()
        for n in (1, 2):
            r = await post(fb, delivery(text_event(f"câu hỏi {n}", f"m_{n}")))
            assert r.status_code == 200
        await until(lambda: len(graph.failed) >= 4)
        assert graph.sent == []
        assert all(r.status == 500 for r in graph.failed)
        graph.up()
        hub: Hub = app.state.hub
        await settle(hub)
        assert graph.texts() == ["Trả lời: câu hỏi 1", "Trả lời: câu hỏi 2"]
        rows = outbox_rows(hub)
        assert [r.status for r in rows] == ["sent", "sent"]
        assert rows[0].attempts >= 4


async def test_graph_errors_retry_or_fail_visibly(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph
) -> None:
    hub: Hub = fb_app.state.hub
    graph.fail_next(2, RATE_LIMITED)  # transient: retried, then delivered
    assert (await post(fb, delivery(text_event("câu 1", "m_1")))).status_code == 200
    await settle(hub)
    assert graph.texts() == ["Trả lời: câu 1"]
    graph.fail_recipient(PSID, USER_UNAVAILABLE)  # permanent: not retried, reason shown
    assert (await post(fb, delivery(text_event("câu 2", "m_2")))).status_code == 200
    await settle(hub)
    rows = outbox_rows(hub)
    assert [r.status for r in rows] == ["sent", "failed"]
    assert rows[1].attempts == 1
    detail = await hub.conversation_detail(await conversation_id(hub))
    failed = detail.messages[-1].delivery
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and "mã 551" in failed.error
    assert PAGE_TOKEN not in failed.error


async def test_reply_windows_human_agent_tag_and_refusals(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph
) -> None:
    hub: Hub = fb_app.state.hub
    assert (await post(fb, delivery(text_event("gặp nhân viên", "m_1")))).status_code == 200
    await settle(hub)
    cid = await conversation_id(hub)
    lan = await agent_client(fb_app, hub, "lan")
    assert (await lan.post(f"/api/console/conversations/{cid}/claim")).status_code == 200
    await settle(hub)
    assert len(graph.sent) == 3  # escalation reply, queue notice, "Lan joined"
    assert {r.messaging_type for r in graph.sent} == {"RESPONSE"}

    # Two days later a person may still answer, with the HUMAN_AGENT tag.
    set_last_customer_at(hub, cid, utcnow() - timedelta(days=2))
    r = await lan.post(f"/api/console/conversations/{cid}/reply", json={"text": "Chào bạn"})
    assert r.status_code == 200
    await settle(hub)
    assert len(graph.sent) == 4
    tagged = graph.sent[-1]
    assert (tagged.text, tagged.messaging_type, tagged.tag) == (
        "Chào bạn",
        "MESSAGE_TAG",
        "HUMAN_AGENT",
    )

    # Eight days later Meta would refuse even a person: the core says so before storing.
    set_last_customer_at(hub, cid, utcnow() - timedelta(days=8))
    r = await lan.post(f"/api/console/conversations/{cid}/reply", json={"text": "Còn đó không?"})
    assert r.status_code == 409
    assert r.json()["error"] == "outside_reply_window"

    # After 24 h the notice of the agent's own action ("Lan left") still goes, as the
    # person's message it is (HUMAN_AGENT); the bot's CSAT question fails for good, with a
    # reason the agent reads, and never reaches Meta.
    set_last_customer_at(hub, cid, utcnow() - timedelta(days=2))
    assert (await lan.post(f"/api/console/conversations/{cid}/resolve")).status_code == 200
    await settle(hub)
    assert len(graph.sent) == 5
    left = graph.sent[-1]
    assert (left.messaging_type, left.tag) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert left.text is not None and "đã rời cuộc trò chuyện" in left.text
    detail = (await lan.get(f"/api/console/conversations/{cid}")).json()
    await lan.aclose()
    last_two = detail["messages"][-2:]
    assert [m["role"] for m in last_two] == ["system", "bot"]
    assert last_two[0]["delivery"]["status"] == "sent"
    csat = last_two[1]["delivery"]
    assert csat["status"] == "failed"
    assert csat["error"].startswith("Không gửi được qua Messenger")
    assert "24 giờ" in csat["error"]


async def test_a_refused_window_from_meta_is_permanent(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph
) -> None:
    graph.fail_recipient(PSID, OUTSIDE_WINDOW)  # Meta's own clock disagrees with ours
    assert (await post(fb, delivery(text_event("câu 1", "m_1")))).status_code == 200
    hub: Hub = fb_app.state.hub
    await settle(hub)
    rows = outbox_rows(hub)
    assert [(r.status, r.attempts) for r in rows] == [("failed", 1)]
    assert rows[0].last_error is not None and "2018278" in rows[0].last_error


async def test_an_unreachable_graph_is_retried(settings: HubSettings) -> None:
    graph = FakeGraph(page_token=PAGE_TOKEN)
    url = graph.url
    graph.stop()  # nothing listens on that port now
    app = create_app(
        with_messenger(settings, graph, messenger_graph_url=url, outbox_max_attempts=1000),
        rasa=ScriptedRasa(),
        triage=KeywordTriage(),
    )
    async with app.router.lifespan_context(app), make_client(app) as fb:
        assert (await post(fb, delivery(text_event("câu 1", "m_1")))).status_code == 200
        hub: Hub = app.state.hub
        await until(lambda: any(r.attempts >= 2 for r in outbox_rows(hub)))
        row = outbox_rows(hub)[0]
        assert row.status in ("pending", "sending")
        assert row.last_error is not None and "Không kết nối được tới Messenger" in row.last_error
        assert PAGE_TOKEN not in row.last_error


async def test_the_channel_is_off_without_its_secrets(client: httpx.AsyncClient) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}
    assert (await client.get(WEBHOOK, params=params)).status_code == 404
    assert (await post(client, delivery(text_event("xin chào", "m_1")))).status_code == 404


async def test_the_page_token_stays_out_of_the_logs(
    fb_app: Any, fb: httpx.AsyncClient, graph: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="httpx")
    assert (await post(fb, delivery(text_event("câu 1", "m_1")))).status_code == 200
    await settle(fb_app.state.hub)
    assert len(graph.sent) == 1
    assert any("/me/messages" in r.getMessage() for r in caplog.records)
    assert all(PAGE_TOKEN not in r.getMessage() for r in caplog.records)


def test_the_fake_graph_refuses_what_meta_refuses() -> None:
    """The fake's checks are what make "accepted by the fake" mean something above."""
    with FakeGraph(page_token=PAGE_TOKEN) as fake, httpx.Client(base_url=fake.url) as http:

        def send(body: dict[str, Any], token: str = PAGE_TOKEN) -> httpx.Response:
            return http.post("/me/messages", params={"access_token": token}, json=body)

        ok = {"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": "a"}}
        r = send(ok)
        assert r.status_code == 200
        assert r.json()["recipient_id"] == PSID and r.json()["message_id"].startswith("m_")
        assert send(ok, token="stolen").json()["error"]["code"] == 190
        refused = [
            {**ok, "messaging_type": "MESSAGE_TAG"},  # a tag is required
            {**ok, "messaging_type": None},
            {**ok, "message": {"text": "x" * 2001}},
            {
                **ok,
                "message": {
                    "text": "a",
                    "quick_replies": [{"content_type": "text", "title": "t", "payload": "p"}] * 14,
                },
            },
            {
                **ok,
                "message": {
                    "text": "a",
                    "quick_replies": [{"content_type": "text", "title": "t" * 21, "payload": "p"}],
                },
            },
            {**ok, "recipient": {}},
        ]
        for body in refused:
            r = send(body)
            assert r.status_code == 400, body
            assert r.json()["error"]["code"] == 100 and r.json()["error"]["fbtrace_id"]
        fake.fail_next(1, USER_UNAVAILABLE)
        error = send(ok).json()["error"]
        assert (error["code"], error["error_subcode"]) == (551, 1545041)
        fake.down()
        assert send(ok).status_code == 500
        fake.up()
        assert send(ok).status_code == 200
        assert (
            len(fake.wait_for(2, timeout=1)) == 2
        )  # blocking wait (for tests outside an event loop)
        with pytest.raises(TimeoutError):
            fake.wait_for(3, timeout=0.05)
        assert len(fake.requests) == 2 + 1 + len(refused) + 2
        assert all(r.query == {"access_token": PAGE_TOKEN} for r in fake.sent)
