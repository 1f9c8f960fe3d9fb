"""A console's first paint costs the same number of SQL statements with 200 queued
conversations as with 2: cards are loaded in batches, never one query per conversation."""

from __future__ import annotations

from typing import Any

import httpx

from handoff.channels.base import InboundMessage
from handoff.core.hub import Hub

from .conftest import agent_client
from .support import counting

FIRST_PAINT = [
    "/api/auth/me",
    "/api/console/agents",
    "/api/console/canned",
    "/api/console/queue",
    "/api/console/mine",
]




async def fill_queue(hub: Hub, start: int, stop: int) -> None:
    for i in range(start, stop):
        # "gặp nhân viên" escalates (tests' KeywordTriage); an angry one gets priority.
        text = "gặp nhân viên" if i % 3 else "tệ quá, gặp nhân viên"
        await hub.customer_message(InboundMessage(channel="rest", sender_id=f"k{i}", text=text))


async def paint(console: httpx.AsyncClient, hub: Hub) -> tuple[list[str], dict[str, Any]]:
    with counting(hub) as statements:
        bodies = {}
        for path in FIRST_PAINT:
            r = await console.get(path)
            assert r.status_code == 200, r.text
            bodies[path] = r.json()
    return statements, bodies


async def test_first_paint_does_not_grow_with_the_queue(app: Any, hub: Hub) -> None:
    # The delivery worker polls the same database; its rounds are not the console's cost.
    await app.state.delivery.stop()
    console = await agent_client(app, hub, "boss", role="supervisor")
    await fill_queue(hub, 0, 3)
    # One conversation assigned, so the "mine" list has a card with an agent and a handoff.
    queue = (await console.get("/api/console/queue")).json()["queue"]
    assert (await console.post(f"/api/console/conversations/{queue[0]['id']}/claim")).is_success

    small, bodies = await paint(console, hub)
    assert len(bodies["/api/console/queue"]["queue"]) == 2
    assert len(bodies["/api/console/mine"]["conversations"]) == 1

    await fill_queue(hub, 3, 201)
    large, bodies = await paint(console, hub)
    cards = bodies["/api/console/queue"]["queue"]
    assert len(cards) == 200
    # Every card is complete: summary, last message, position in service order.
    assert all(c["handoff"]["summary"] and c["last_message"] for c in cards)
    assert [c["position"] for c in cards] == list(range(1, 201))
    assert len(large) == len(small), "\n".join(["with 2:", *small, "with 200:", *large])
    await console.aclose()
