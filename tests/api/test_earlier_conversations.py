"""An agent sees the customer's other conversations, on every channel, once the customer
gives a phone number or e-mail that an earlier conversation also had."""

from __future__ import annotations

from typing import Any

import httpx

from handoff.channels.base import InboundMessage
from handoff.core.hub import Hub

from .conftest import agent_client, say


async def _cid(hub: Hub, channel: str, sender: str) -> str:
    conv = await hub.find_conversation((channel,), sender)
    assert conv is not None
    return conv.id


async def test_the_same_phone_or_email_links_conversations_across_channels(
    app: Any, client: httpx.AsyncClient, hub: Hub
) -> None:
    # Last week, on Zalo: a complaint, handed to a person, with the phone number.
    await hub.customer_message(InboundMessage(
        channel="zalo", sender_id="zalo-user-1", message_id="z1",
        text="Máy giặt giao tới bị móp, sđt mình 0912 345 678"))
    await hub.customer_message(InboundMessage(
        channel="zalo", sender_id="zalo-user-1", message_id="z2", text="gặp nhân viên"))
    # Someone else, another number: never linked.
    await say(client, "other", "số mình 0987 000 111")
    # Today on the website: the same number written differently, then an e-mail.
    await say(client, "web-1", "cho mình hỏi đơn máy giặt, sđt 0912345678")
    await say(client, "web-2", "email mình là Lan.Nguyen@Example.com")
    await say(client, "web-3", "mail: lan.nguyen@example.com, số 0912.345.678")

    lan = await agent_client(app, hub, "lan")
    web3 = await _cid(hub, "rest", "web-3")
    body = (await lan.get(f"/api/console/conversations/{web3}/earlier")).json()
    found = {c["id"]: c for c in body["conversations"]}
    zalo = await _cid(hub, "zalo", "zalo-user-1")
    assert set(found) == {zalo, await _cid(hub, "rest", "web-1"),
                          await _cid(hub, "rest", "web-2")}
    assert found[zalo]["channel"] == "zalo" and found[zalo]["handoffs"] == 1
    assert found[zalo]["matched"] == ["0912345678"]
    assert found[await _cid(hub, "rest", "web-2")]["matched"] == ["lan.nguyen@example.com"]
    assert found[zalo]["last_message"] == "gặp nhân viên"
    # A customer who gave nothing in common has no earlier conversations.
    other = await _cid(hub, "rest", "other")
    assert (await lan.get(f"/api/console/conversations/{other}/earlier")).json() == {
        "conversations": []
    }
    assert (await lan.get("/api/console/conversations/" + "0" * 32 + "/earlier")).status_code == 404
    assert (await client.get(f"/api/console/conversations/{web3}/earlier")).status_code == 401
    await lan.aclose()
