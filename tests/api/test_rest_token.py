"""The REST channel names its sender itself, so it is for trusted callers: token, or closed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from handoff.app import create_app
from handoff.settings import HubSettings

from .conftest import make_client
from .support import ALWAYS_OPEN, CannedRasa, KeywordTriage

MESSAGE = {"sender": "don-vi-a", "message": "phí ship bao nhiêu?"}


async def _app(settings: HubSettings) -> AsyncIterator[Any]:
    app = create_app(settings, rasa=CannedRasa(), triage=KeywordTriage())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def token_app(tmp_path: Any) -> AsyncIterator[Any]:
    async for app in _app(HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}",
                                      business_hours=ALWAYS_OPEN, rest_token="s3cret")):
        yield app


async def test_a_set_token_guards_the_webhook_and_rest_history(token_app: Any) -> None:
    async with make_client(token_app) as c:
        r = await c.post("/webhooks/rest/webhook", json=MESSAGE)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        r = await c.post("/webhooks/rest/webhook", json=MESSAGE,
                         headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = await c.post("/webhooks/rest/webhook", json=MESSAGE,
                         headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200 and r.json()[0]["recipient_id"] == "don-vi-a"
        r = await c.post("/webhooks/rest/webhook?token=s3cret", json=MESSAGE)
        assert r.status_code == 200

        # Without the token a REST sender's history looks like an unknown session.
        r = await c.get("/api/conversations/don-vi-a/history")
        assert r.status_code == 200 and r.json()["messages"] == []
        r = await c.get("/api/conversations/don-vi-a/history",
                        headers={"Authorization": "Bearer s3cret"})
        texts = [m["text"] for m in r.json()["messages"]]
        assert texts.count("phí ship bao nhiêu?") == 2


async def test_production_without_a_token_closes_the_rest_channel(tmp_path: Any) -> None:
    settings = HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}", env="production",
                           secret_key="k" * 32)
    async for app in _app(settings):
        async with make_client(app) as c:
            r = await c.post("/webhooks/rest/webhook", json=MESSAGE)
            assert r.status_code == 403 and r.json()["error"] == "rest_disabled"
            assert "CSKH_HUB_REST_TOKEN" in r.json()["detail"]
            # The widget's own endpoints are not affected.
            assert (await c.get("/api/conversations/abc/history")).status_code == 200
