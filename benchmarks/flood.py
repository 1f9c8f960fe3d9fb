"""A flood against the hub while real customers chat and wait, on a fresh real stack.

    .venv/bin/python benchmarks/flood.py [--seconds 30] [--rate 100] [--sessions-per-min 500]

Starts the action server, Rasa and the hub (`cskh.stack`, throw-away databases) with the
hub's default rate limits. Every client speaks socket.io as the widget does; addresses are
told apart by `X-Forwarded-For` (uvicorn trusts it from 127.0.0.1, as it would from a proxy):
  - a customer already waiting for a person (queued before the flood);
  - a normal customer chatting (one question every 2 s), whose reply latency is measured;
  - an attacker on one address: one socket sending `--rate` messages/s, and new sessions at
    `--sessions-per-min`, each asking for a person.
Prints what the attacker got through and what it was refused, the chatting customer's reply
p50/p95, and the waiting customer's queue position before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import socketio

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

from hub_load import pct  # noqa: E402

from cskh.stack import Stack, StackConfig  # noqa: E402

QUESTIONS = ["phí ship ra Hà Nội bao nhiêu", "đổi trả hàng trong bao lâu",
             "giao hàng mất mấy ngày", "có trả góp không shop"]


class Client:
    def __init__(self, url: str, ip: str) -> None:
        self.url, self.ip = url, ip
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[float, str, Any]] = asyncio.Queue()
        self.session = ""
        for name in ("session_confirm", "bot_uttered", "hub_ack", "hub_error"):
            self.sio.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Any:
        async def record(data: Any = None) -> None:
            self.events.put_nowait((time.perf_counter(), name, data))

        return record

    async def connect(self) -> bool:
        await self.sio.connect(self.url, headers={"X-Forwarded-For": self.ip},
                               transports=["websocket"], wait_timeout=30)
        await self.sio.emit("session_request", {})
        while True:
            _, name, data = await asyncio.wait_for(self.events.get(), 30)
            if name == "session_confirm":
                self.session = str(data)
                return True
            if name == "hub_error":
                return False

    async def say(self, text: str) -> None:
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.session})

    async def turn(self, text: str) -> float | None:
        """Seconds to the first bot reply, None when refused or silent."""
        while not self.events.empty():
            self.events.get_nowait()
        started = time.perf_counter()
        await self.say(text)
        while True:
            at, name, _ = await asyncio.wait_for(self.events.get(), 30)
            if name == "bot_uttered":
                return at - started
            if name in ("hub_error", "hub_ack"):
                return None

    async def close(self) -> None:
        await self.sio.disconnect()


async def position(url: str, session: str) -> int | None:
    async with httpx.AsyncClient(timeout=30) as http:
        hist = (await http.get(f"{url}/api/conversations/{session}/history")).json()
    return (hist.get("queue") or {}).get("position")


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    waiting = Client(url, "203.0.113.9")
    assert await waiting.connect()
    await waiting.turn("cho tôi gặp nhân viên")
    before = await position(url, waiting.session)

    stop = time.perf_counter() + args.seconds
    counts = {"sent": 0, "refused": 0, "sessions_ok": 0, "sessions_refused": 0}
    attacker = Client(url, "198.51.100.7")
    assert await attacker.connect()

    async def flood_messages() -> None:
        interval = 1.0 / args.rate
        while time.perf_counter() < stop:
            await attacker.say(f"spam {uuid.uuid4().hex[:6]}")
            counts["sent"] += 1
            await asyncio.sleep(interval)

    async def flood_sessions() -> None:
        interval = 60.0 / args.sessions_per_min
        opened: list[Client] = []
        while time.perf_counter() < stop:
            fresh = Client(url, "198.51.100.7")
            try:
                if await fresh.connect():
                    counts["sessions_ok"] += 1
                    await fresh.say("cho tôi gặp nhân viên")
                    opened.append(fresh)
                else:
                    counts["sessions_refused"] += 1
                    await fresh.close()
            except Exception:
                counts["sessions_refused"] += 1
            await asyncio.sleep(interval)
        await asyncio.gather(*(c.close() for c in opened), return_exceptions=True)

    async def normal_customer() -> list[float]:
        me = Client(url, "203.0.113.5")
        assert await me.connect()
        took: list[float] = []
        i = 0
        while time.perf_counter() < stop:
            reply = await me.turn(QUESTIONS[i % len(QUESTIONS)])
            if reply is not None:
                took.append(reply)
            i += 1
            await asyncio.sleep(2.0)
        await me.close()
        return took

    async def count_refusals() -> None:
        while time.perf_counter() < stop + 2:
            try:
                _, name, data = await asyncio.wait_for(attacker.events.get(), 1)
            except TimeoutError:
                continue
            if name == "hub_error" and (data or {}).get("error") == "rate_limited":
                counts["refused"] += 1

    results = await asyncio.gather(
        flood_messages(), flood_sessions(), normal_customer(), count_refusals()
    )
    after = await position(url, waiting.session)
    await attacker.close()
    await waiting.close()
    return {"counts": counts, "normal": results[2], "before": before, "after": after}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=100.0, help="attacker messages/s")
    parser.add_argument("--sessions-per-min", type=float, default=500.0)
    args = parser.parse_args()
    defaults = {  # the hub's own defaults, not the load tests' generous ones
        "CSKH_HUB_RATE_MESSAGES_PER_IP_PER_MINUTE": "120",
        "CSKH_HUB_RATE_SESSIONS_PER_IP_PER_MINUTE": "20",
        "CSKH_HUB_RATE_HANDOFFS_PER_IP_PER_HOUR": "20",
        "CSKH_HUB_RATE_MESSAGES_PER_SESSION_PER_MINUTE": "30",
    }
    with tempfile.TemporaryDirectory(prefix="cskh-flood-") as tmp:
        stack = Stack(StackConfig.isolated(Path(tmp), extra_env=defaults))
        print("starting the stack ...", flush=True)
        stack.start(timeout=300)
        try:
            result = asyncio.run(run(stack.config.hub_url, args))
        finally:
            stack.stop()
    c, normal = result["counts"], result["normal"]
    print(json.dumps(c))
    print(f"attacker: {c['sent']} messages sent in {args.seconds:.0f} s, {c['refused']} refused "
          f"with rate_limited; {c['sessions_ok']} new sessions confirmed, "
          f"{c['sessions_refused']} refused")
    print(f"chatting customer: {len(normal)} replies, p50 {pct(normal, 0.5) * 1000:.0f} ms, "
          f"p95 {pct(normal, 0.95) * 1000:.0f} ms")
    print(f"waiting customer's queue position: {result['before']} before, "
          f"{result['after']} after the flood")
    return 0


if __name__ == "__main__":
    sys.exit(main())
