"""Pure parts of running several replicas: the Rasa pool's routing and failover, the logs."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from handoff import logs
from handoff.rasa import RasaPool, RasaUnavailable, RasaUnreachable, rendezvous_order

URLS = ["http://rasa-1:5005", "http://rasa-2:5005", "http://rasa-3:5005"]


class ScriptedRasa:
    """A Rasa process that answers, refuses connections, or times out, as told."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.mode = "up"
        self.heard: list[str] = []

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if self.mode == "refused":
            raise RasaUnreachable("connection refused")
        if self.mode == "timeout":
            raise RasaUnavailable("ReadTimeout")
        self.heard.append(sender)
        return [{"text": f"{self.name}: {message}"}]

    async def healthy(self) -> bool:
        return self.mode == "up"

    async def aclose(self) -> None:
        return None


def _pool(down_seconds: float = 60.0) -> tuple[RasaPool, dict[str, ScriptedRasa]]:
    fakes = {u: ScriptedRasa(u) for u in URLS}
    return RasaPool(URLS, down_seconds=down_seconds, clients=list(fakes.values())), fakes


def test_rendezvous_is_stable_per_conversation_and_spreads_them() -> None:
    firsts = [rendezvous_order(f"conv-{i}", URLS)[0] for i in range(300)]
    assert firsts == [rendezvous_order(f"conv-{i}", URLS)[0] for i in range(300)]
    counts = {u: firsts.count(u) for u in URLS}
    assert min(counts.values()) > 60, counts  # ~100 each
    # Losing a process moves only its own conversations.
    without = [rendezvous_order(f"conv-{i}", URLS[:2])[0] for i in range(300)]
    moved = [i for i in range(300) if firsts[i] != without[i]]
    assert all(firsts[i] == URLS[2] for i in moved)


async def test_a_conversation_sticks_to_one_process_then_moves_when_it_is_down() -> None:
    pool, fakes = _pool()
    preferred = rendezvous_order("c1", URLS)
    for _ in range(3):
        replies = await pool.send("c1", "xin chào", {})
        assert replies[0]["text"].startswith(preferred[0])
    fakes[preferred[0]].mode = "refused"
    replies = await pool.send("c1", "còn đó không", {})
    assert replies[0]["text"].startswith(preferred[1])
    # Marked down: the next message goes straight to the second choice.
    fakes[preferred[0]].mode = "up"
    await pool.send("c1", "ok", {})
    assert fakes[preferred[0]].heard == ["c1"] * 3


async def test_a_timeout_is_not_retried_elsewhere() -> None:
    # The slow process may still answer: a second one would give the turn twice.
    pool, fakes = _pool()
    first = rendezvous_order("c2", URLS)[0]
    fakes[first].mode = "timeout"
    with pytest.raises(RasaUnavailable):
        await pool.send("c2", "hello", {})
    assert all(not f.heard for f in fakes.values())


async def test_all_down_raises_and_a_process_that_recovers_is_used_again() -> None:
    pool, fakes = _pool(down_seconds=0.05)
    for fake in fakes.values():
        fake.mode = "refused"
    with pytest.raises(RasaUnreachable):
        await pool.send("c3", "hi", {})
    assert not await pool.healthy()
    for fake in fakes.values():
        fake.mode = "up"
    await asyncio.sleep(0.06)
    replies = await pool.send("c3", "hi", {})
    assert replies[0]["text"].startswith(rendezvous_order("c3", URLS)[0])


def test_json_logs_carry_the_conversation_and_never_a_phone_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("json")
        token = logs.conversation_id.set("web:abc")
        logging.getLogger("handoff.test").warning("khách %s gửi sđt %s", "Lan", "0987654321")
        logs.conversation_id.reset(token)
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert line["conversation_id"] == "web:abc"
    assert line["level"] == "warning" and "Lan" in line["message"]
    assert "0987654321" not in line["message"] and "321" in line["message"]


def test_tokens_and_session_ids_are_cut_from_access_log_lines() -> None:
    line = logs.redact(
        '127.0.0.1:5 - "GET /webhooks/rest/webhook?token=s3cr3t&x=1 HTTP/1.1" 200; '
        '"GET /webhooks/messenger?hub.mode=subscribe&hub.verify_token=vt-9&hub.challenge=7"; '
        '"GET /api/conversations/4f9a2b7c/history HTTP/1.1" 200'
    )
    assert "s3cr3t" not in line and "vt-9" not in line and "4f9a2b7c" not in line
    assert "x=1" in line and "hub.challenge=7" in line and "/history" in line
