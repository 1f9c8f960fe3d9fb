"""Signed widget sessions: issued by the hub, expiring, never shown to agents."""

from __future__ import annotations

from typing import Any

import httpx

from handoff.channels.base import InboundMessage
from handoff.core import sessions
from handoff.core.hub import Hub

from .conftest import agent_client


def test_ids_are_signed_expiring_and_tied_to_the_secret() -> None:
    sid = sessions.issue("k1", ttl_seconds=60, now=1000.0)
    assert len(sid) == sessions.LENGTH and sid.replace("-", "").replace("_", "").isalnum()
    assert sessions.valid("k1", sid, now=1059.0)
    assert not sessions.valid("k1", sid, now=1061.0)  # expired
    assert not sessions.valid("k2", sid, now=1000.0)  # another hub's secret
    tampered = sid[:24] + "ffffffff" + sid[32:]  # a later expiry, same signature
    assert not sessions.valid("k1", tampered, now=1000.0)
    assert not sessions.valid("k1", None) and not sessions.valid("k1", "x" * 54)
    assert sessions.issue("k1", 60) != sessions.issue("k1", 60)


async def test_agents_never_receive_a_web_session_id(
    app: Any, client: httpx.AsyncClient, hub: Hub
) -> None:
    sid = sessions.issue(hub.settings.effective_secret_key, 3600)
    await hub.customer_message(InboundMessage(
        channel="web", sender_id=sid, text="cho tôi gặp người thật"
    ))
    # The customer reads their history with it...
    hist = (await client.get(f"/api/conversations/{sid}/history")).json()
    assert [m["role"] for m in hist["messages"]][:1] == ["user"]
    # ...the console sees only a reference to it.
    lan = await agent_client(app, hub, "lan")
    queue = (await lan.get("/api/console/queue")).text
    cid = (await lan.get("/api/console/queue")).json()["queue"][0]["id"]
    detail = (await lan.get(f"/api/console/conversations/{cid}")).text
    await lan.aclose()
    assert sid not in queue and sid not in detail
    assert sessions.public_ref(sid) in queue
