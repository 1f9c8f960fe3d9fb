"""A stored message is an answered message: what a crash or a failed bot left is answered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text

from handoff.channels.base import InboundMessage
from handoff.core.hub import Hub, run_sync
from handoff.store.models import utcnow

from .support import CannedRasa


def _status(hub: Hub, text_: str) -> list[str]:
    with hub.store.read() as s:
        rows = s.execute(
            text("SELECT answer_status FROM messages WHERE role = 'user' AND text = :t"),
            {"t": text_},
        ).scalars()
        return list(rows)


def _backdate(hub: Hub, seconds: float) -> None:
    with hub.store.write() as s:
        s.execute(
            text("UPDATE messages SET created_at = :t WHERE role = 'user'"),
            {"t": utcnow() - timedelta(seconds=seconds)},
        )


async def test_a_message_stored_before_a_crash_is_answered_by_the_sweep(
    hub: Hub, rasa: CannedRasa
) -> None:
    # The hub dies right after committing the message: nothing asked the bot.
    inbound = InboundMessage(channel="rest", sender_id="crash-1", text="phí ship bao nhiêu")
    got = await run_sync(hub._tx_inbound, inbound, {}, None)
    assert got.to_bot and _status(hub, "phí ship bao nhiêu") == ["received"]
    assert await hub.resume_unanswered() == 0  # too recent: may still be in flight
    _backdate(hub, 120)
    assert await hub.resume_unanswered() == 1
    assert [c["message"] for c in rasa.calls] == ["phí ship bao nhiêu"]
    assert _status(hub, "phí ship bao nhiêu") == ["answered"]
    history = await hub.history(["rest"], "crash-1")
    assert [m.role for m in history.messages] == ["user", "bot"]
    assert await hub.resume_unanswered() == 0  # exactly once


async def _post(client: httpx.AsyncClient, sender: str, message: str, mid: str) -> Any:
    r = await client.post(
        "/webhooks/rest/webhook",
        json={"sender": sender, "message": message, "metadata": {"message_id": mid}},
    )
    assert r.status_code == 200
    return r.json()


async def test_a_redelivery_of_an_unanswered_message_is_answered_not_dropped(
    client: httpx.AsyncClient, hub: Hub, rasa: CannedRasa
) -> None:
    rasa.down = True
    first = await _post(client, "redo-1", "đổi trả trong bao lâu", "m-1")
    assert "sự cố" in first[0]["text"]  # told the bot is down; the message is kept
    assert _status(hub, "đổi trả trong bao lâu") == ["failed"]
    rasa.down = False
    _backdate(hub, 120)
    again = await _post(client, "redo-1", "đổi trả trong bao lâu", "m-1")
    assert again and again[0]["text"] == "Trả lời: đổi trả trong bao lâu"
    assert _status(hub, "đổi trả trong bao lâu") == ["answered"]  # still stored once
    # Answered now: a third delivery is a duplicate and gets nothing.
    assert await _post(client, "redo-1", "đổi trả trong bao lâu", "m-1") == []
    assert sum(c["message"] == "đổi trả trong bao lâu" for c in rasa.calls) == 2


async def test_a_redelivery_while_the_first_is_being_answered_is_dropped(
    client: httpx.AsyncClient, hub: Hub, rasa: CannedRasa
) -> None:
    inbound = InboundMessage(
        channel="rest", sender_id="busy-1", text="còn hàng không", message_id="m-9"
    )
    await run_sync(hub._tx_inbound, inbound, {}, None)  # in flight: stored a moment ago
    assert await _post(client, "busy-1", "còn hàng không", "m-9") == []
    assert not rasa.calls
