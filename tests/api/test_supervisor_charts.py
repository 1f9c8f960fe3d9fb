"""Supervisor stats feed the console charts: handoff reasons, CSAT, containment."""

from __future__ import annotations

from typing import Any

import httpx

from handoff.core.hub import Hub

from .conftest import agent_client, say


def _dump(view: Any) -> Any:
    return view.model_dump() if view is not None else None


async def test_stats_reasons_csat_distribution_and_containment(
    app: Any, client: httpx.AsyncClient, hub: Hub
) -> None:
    boss = await agent_client(app, hub, "boss", "supervisor")
    empty = (await boss.get("/api/console/stats")).json()["last_24h"]
    assert empty["reasons"] == {}
    assert empty["csat_distribution"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
    assert (empty["conversations"], empty["contained"], empty["containment_rate"]) == (0, 0, None)
    for sender in ("b1", "b2", "b3", "b4"):  # answered by the bot alone
        await say(client, sender, "phí ship bao nhiêu")

    lan = await agent_client(app, hub, "lan")
    for sender, text, score in (
        ("r1", "gặp nhân viên", "5"),
        ("r2", "tức quá", "2"),
        ("r3", "gặp nhân viên", "5"),
    ):
        await say(client, sender, text)
        conv = _dump(await hub.find_conversation(("rest",), sender))
        assert conv is not None
        assert (await lan.post(f"/api/console/conversations/{conv['id']}/claim")).status_code == 200
        r = await lan.post(f"/api/console/conversations/{conv['id']}/resolve", json={"note": ""})
        assert r.status_code == 200
        await say(client, sender, score)
    await say(client, "r4", "gặp nhân viên")  # still queued: counted as a handoff reason

    day = (await boss.get("/api/console/stats")).json()["last_24h"]
    assert day["reasons"] == {"requested": 3, "angry": 1}
    assert list(day["reasons"]) == ["requested", "angry"]  # most frequent first
    assert day["csat_distribution"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 2}
    assert day["csat_count"] == 3
    # 8 conversations with a customer message; 4 reached a person (one still queued).
    assert (day["conversations"], day["contained"], day["containment_rate"]) == (8, 4, 0.5)
    metrics = (await boss.get("/metrics")).text.splitlines()
    assert "cskh_hub_containment_rate_24h 0.5" in metrics
    assert "cskh_hub_conversations_24h 8" in metrics
    await boss.aclose()
    await lan.aclose()
