"""The durable outbox: messages for push channels are written with the change that caused
them and delivered by the worker: in order, retried with backoff, never twice, resumed by a
new process, and a permanent failure is shown to the agent with its reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from handoff.app import create_app
from handoff.channels.base import DeliveryError, InboundMessage, OutboundMessage
from handoff.core.hub import Hub
from handoff.settings import HubSettings
from handoff.store.models import OutboxEntry, utcnow

from .conftest import agent_client
from .support import CannedRasa, KeywordTriage


class FakePush:
    """A push channel (like Messenger or Zalo) whose platform can fail on demand."""

    name = "fake"
    replies_inline = False

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.fail_next = 0  # transient failures before the platform answers again
        self.permanent: str | None = None

    async def deliver(self, message: OutboundMessage) -> None:
        if self.permanent:
            raise DeliveryError(self.permanent, permanent=True)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise DeliveryError("HTTP 503 from the platform")
        self.sent.append(message)


def fast(settings: HubSettings, **extra: Any) -> HubSettings:
    return settings.model_copy(
        update={
            "outbox_backoff_seconds": 0.05,
            "outbox_backoff_max_seconds": 0.2,
            "outbox_poll_seconds": 0.05,
            **extra,
        }
    )


def factory(channel: FakePush) -> Callable[..., FakePush]:
    return lambda sio, get_hub: channel


@pytest.fixture
async def push_app(settings: HubSettings) -> AsyncIterator[tuple[Any, FakePush]]:
    channel = FakePush()
    app = create_app(
        fast(settings), rasa=CannedRasa(), triage=KeywordTriage(), channels=[factory(channel)]
    )
    async with app.router.lifespan_context(app):
        yield app, channel


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def inbound(text: str, mid: str, sender: str = "u-1") -> InboundMessage:
    return InboundMessage(channel="fake", sender_id=sender, text=text, message_id=mid)


def outbox_rows(hub: Hub) -> list[OutboxEntry]:
    with hub.store.read() as s:
        return list(s.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


async def test_bot_replies_go_through_the_outbox_once_in_order(
    push_app: tuple[Any, FakePush],
) -> None:
    app, channel = push_app
    hub: Hub = app.state.hub
    result = await hub.customer_message(inbound("đổi trả thế nào", "m1"))
    # Nothing is answered inline on a push channel: the outbox has it.
    assert result.replies and all(r.text for r in result.replies)
    await until(lambda: len(channel.sent) == 1)
    assert channel.sent[0].recipient_id == "u-1"
    assert channel.sent[0].text == "Trả lời: đổi trả thế nào"
    payloads = [b.payload for b in channel.sent[0].buttons]
    assert payloads == ["/feedback_helpful", "/feedback_not_helpful"]
    # A redelivery of the same platform message is not answered again.
    again = await hub.customer_message(inbound("đổi trả thế nào", "m1"))
    assert again.duplicate
    await asyncio.sleep(0.3)
    assert len(channel.sent) == 1
    assert [r.status for r in outbox_rows(hub)] == ["sent"]


async def test_transient_failures_are_retried_and_delivered_once(
    push_app: tuple[Any, FakePush],
) -> None:
    app, channel = push_app
    hub: Hub = app.state.hub
    channel.fail_next = 3  # an outage: three sends fail, then the platform is back
    await hub.customer_message(inbound("gặp nhân viên", "m1"))  # escalation: two notices
    await until(lambda: len(channel.sent) == 2)
    await asyncio.sleep(0.3)
    texts = [m.text for m in channel.sent]
    assert len(texts) == 2 and texts[1].startswith("Anh/chị đang ở vị trí số 1")
    rows = outbox_rows(hub)
    assert [r.status for r in rows] == ["sent", "sent"]
    assert rows[0].attempts == 4  # three failures + the send that went through


async def test_a_permanent_failure_is_shown_to_the_agent(
    push_app: tuple[Any, FakePush],
) -> None:
    app, channel = push_app
    hub: Hub = app.state.hub
    await hub.customer_message(inbound("gặp nhân viên", "m1"))
    await until(lambda: len(channel.sent) == 2)
    conv = await hub.find_conversation(("fake",), "u-1")
    assert conv is not None
    lan = await agent_client(app, hub, "lan")
    assert (await lan.post(f"/api/console/conversations/{conv.id}/claim")).status_code == 200
    await until(lambda: len(channel.sent) == 3)  # "Nhân viên Lan đã tham gia…"

    channel.permanent = "user unavailable (outside the reply window)"
    r = await lan.post(f"/api/console/conversations/{conv.id}/reply", json={"text": "Chào bạn"})
    assert r.status_code == 200
    body = r.json()
    assert body["message"]["delivery"]["status"] == "pending"
    assert body["conversation"]["state"] == "assigned"
    mid = body["message"]["id"]

    async def delivery() -> dict[str, Any]:
        detail = (await lan.get(f"/api/console/conversations/{conv.id}")).json()
        return next(m for m in detail["messages"] if m["id"] == mid)["delivery"]

    for _ in range(200):
        if (await delivery())["status"] == "failed":
            break
        await asyncio.sleep(0.02)
    final = await delivery()
    assert final["status"] == "failed"
    assert final["error"] == "user unavailable (outside the reply window)"
    assert len(channel.sent) == 3  # never sent
    await lan.aclose()


async def test_a_new_process_resumes_undelivered_messages(settings: HubSettings) -> None:
    down = FakePush()
    down.fail_next = 10**6  # the platform is down for the whole life of the first process
    first = create_app(
        fast(settings, outbox_max_attempts=10**6),
        rasa=CannedRasa(),
        triage=KeywordTriage(),
        channels=[factory(down)],
    )
    async with first.router.lifespan_context(first):
        hub: Hub = first.state.hub
        await hub.customer_message(inbound("câu hỏi 1", "m1"))
        await hub.customer_message(inbound("câu hỏi 2", "m2"))
        await asyncio.sleep(0.3)
        assert not down.sent
    # A row left "sending" by a process that died mid-send is taken again once its lease
    # runs out; pending rows are simply due.
    with hub.store.write() as s:
        rows = list(s.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))
        assert len(rows) == 2 and all(r.status in ("pending", "sending") for r in rows)
        rows[0].status = "sending"
        for row in rows:
            if row.status == "sending":
                row.locked_until = utcnow() - timedelta(seconds=1)

    up = FakePush()
    second = create_app(
        fast(settings),
        rasa=CannedRasa(),
        triage=KeywordTriage(),
        channels=[factory(up)],
    )
    async with second.router.lifespan_context(second):
        await until(lambda: len(up.sent) == 2)
        await asyncio.sleep(0.3)
        hub2: Hub = second.state.hub
        assert [m.text for m in up.sent] == ["Trả lời: câu hỏi 1", "Trả lời: câu hỏi 2"]
        assert [r.status for r in outbox_rows(hub2)] == ["sent", "sent"]
