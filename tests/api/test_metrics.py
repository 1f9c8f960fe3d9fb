"""GET /metrics: Prometheus text, read with a bearer token or a supervisor's login."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from handoff.app import create_app
from handoff.core.hub import Hub
from handoff.settings import HubSettings

from .conftest import agent_client, say
from .support import CannedRasa, KeywordTriage

TOKEN = "prometheus-scrape-token"


@pytest.fixture
async def app(settings: HubSettings, rasa: CannedRasa) -> AsyncIterator[Any]:
    application = create_app(
        settings.model_copy(update={"metrics_token": TOKEN}), rasa=rasa, triage=KeywordTriage()
    )
    async with application.router.lifespan_context(application):
        yield application


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    assert match, f"{series} not in\n{text}"
    return float(match.group(1))


async def test_scraped_with_the_token_only(app: Any, client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "# TYPE cskh_hub_reply_seconds histogram" in ok.text


async def test_messages_latency_handoffs_and_waits_are_counted(
    app: Any, client: httpx.AsyncClient, hub: Hub
) -> None:
    scrape = {"Authorization": f"Bearer {TOKEN}"}
    await say(client, "m1", "phí ship bao nhiêu")
    await say(client, "m1", "cho tôi gặp người thật")
    text = (await client.get("/metrics", headers=scrape)).text
    assert _value(text, 'cskh_hub_messages_total{channel="rest",direction="in"}') == 2
    # Two bot replies, the handoff notice and the queue notice went out.
    assert _value(text, 'cskh_hub_messages_total{channel="rest",direction="out"}') >= 3
    assert _value(text, 'cskh_hub_reply_seconds_count{channel="rest"}') == 2
    assert _value(text, 'cskh_hub_handoffs_total{reason="requested"}') == 1
    assert _value(text, 'cskh_hub_conversations{state="queued"}') == 1

    boss = await agent_client(app, hub, "boss", role="supervisor")
    cid = (await boss.get("/api/console/queue")).json()["queue"][0]["id"]
    assert (await boss.post(f"/api/console/conversations/{cid}/claim")).status_code == 200
    text = (await boss.get("/metrics")).text  # a supervisor's login reads them too
    assert _value(text, "cskh_hub_queue_wait_seconds_count") == 1
    assert _value(text, 'cskh_hub_conversations{state="assigned"}') == 1
    await boss.aclose()
    lan = await agent_client(app, hub, "lan")
    assert (await lan.get("/metrics")).status_code == 403
    await lan.aclose()
