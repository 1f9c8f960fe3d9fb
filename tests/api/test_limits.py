"""One body cap for every route, before authentication; text keeps emoji sequences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from handoff.core.hub import Hub

from .conftest import say


async def test_an_oversized_body_is_refused_before_anything_reads_it(
    client: httpx.AsyncClient,
) -> None:
    huge = b"x" * (2 * 1024 * 1024)
    for path in ("/api/auth/login", "/api/console/conversations/x/reply",
                 "/webhooks/rest/webhook"):
        r = await client.post(path, content=huge, headers={"content-type": "application/json"})
        assert r.status_code == 413, (path, r.status_code)
        assert r.json()["error"] == "body_too_large"


async def test_a_streamed_body_is_cut_at_the_cap(client: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 64 x 16 KiB = 1 MiB, no Content-Length
            sent += 1
            yield b"y" * 16 * 1024

    r = await client.post("/api/auth/login", content=chunks())
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"


async def test_webhooks_of_the_platforms_have_their_larger_cap(app: Any) -> None:
    from handoff.api.body_limit import BodySizeLimit

    limit = BodySizeLimit(app, limit=64 * 1024, webhook_limit=1024 * 1024)
    assert limit.limit_for("/webhooks/messenger") == 1024 * 1024
    assert limit.limit_for("/webhooks/zalo") == 1024 * 1024
    assert limit.limit_for("/webhooks/rest/webhook") == 64 * 1024


async def test_emoji_sequences_keep_their_joiners(client: httpx.AsyncClient, hub: Hub) -> None:
    family, facepalm = "👨\u200d👩\u200d👧", "🤦\u200d♀️"
    await say(client, "emoji-1", f"{family} {facepalm} \u200bok")
    hist = (await client.get("/api/conversations/emoji-1/history")).json()
    texts = [m["text"] for m in hist["messages"] if m["role"] == "user"]
    assert texts == [f"{family} {facepalm} ok"]
