"""The shop's persona reaches everything the customer reads: the bot's own replies (Rasa
sends templates), the hub's notices, the escalation reply, the agents' canned replies and
the widget's greeting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from handoff.app import create_app
from handoff.core.hub import Hub
from handoff.settings import HubSettings

from .conftest import agent_client, make_client, say
from .support import ALWAYS_OPEN, CannedRasa, KeywordTriage


class TemplateRasa(CannedRasa):
    """Answers as the real bot does: a template in the persona's placeholders."""

    async def send(self, sender: str, message: str, metadata: dict[str, Any]) -> Any:
        self.calls.append({"sender": sender, "message": message, "metadata": metadata})
        return [{"recipient_id": sender, "text": "Dạ $shop chào $kh, $em giúp gì được ạ?",
                 "buttons": [{"title": "$Kh hỏi tiếp", "payload": "/ask_faq"}]}]


@pytest.fixture
async def flower_shop(database_url: str) -> AsyncIterator[Any]:
    settings = HubSettings(database_url=database_url, business_hours=ALWAYS_OPEN,
                           shop_name="Tiệm Hoa Mai", bot_self="mình", bot_customer="bạn")
    app = create_app(settings, rasa=TemplateRasa(), triage=KeywordTriage())
    async with app.router.lifespan_context(app):
        yield app


async def test_one_voice_everywhere(flower_shop: Any) -> None:
    hub: Hub = flower_shop.state.hub
    async with make_client(flower_shop) as c:
        out = await say(c, "kh1", "xin chào")
        assert out[0]["text"] == "Dạ Tiệm Hoa Mai chào bạn, mình giúp gì được ạ?"
        assert out[0]["buttons"][0]["title"] == "Bạn hỏi tiếp"
        out = await say(c, "kh1", "gặp nhân viên")  # KeywordTriage: requested
        queue_notice = out[-1]["text"]
        assert queue_notice.startswith("Bạn đang ở vị trí số 1"), queue_notice
        greeting = (await c.get("/api/widget/topics")).json()["welcome"]
        assert greeting == "Dạ Tiệm Hoa Mai xin chào bạn! Mình có thể giúp gì cho bạn ạ?"
        hist = (await c.get("/api/conversations/kh1/history")).json()
    # Stored rendered: agents and every later reader see what the customer saw.
    assert all("$" not in m["text"] for m in hist["messages"])
    lan = await agent_client(flower_shop, hub, "lan")
    canned = (await lan.get("/api/console/canned")).json()["replies"]
    await lan.aclose()
    assert canned and all("$" not in r and " em " not in f" {r} " for r in canned)
    assert any("Tiệm Hoa Mai" in r for r in canned)
