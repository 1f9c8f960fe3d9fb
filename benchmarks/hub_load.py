"""The conversation hub under load, against a freshly started real stack.

    .venv/bin/python benchmarks/hub_load.py [--escalations 30] [--clients 50] [--seconds 60]

Starts the action server, Rasa and the hub with `cskh.stack` (what `make run` runs) on free
localhost ports with a throw-away SQLite hub database and Rasa tracker store, makes an agent
account with `cskh agent add`, logs it in over the JSON API and connects it to the console's
realtime channel exactly as console.js does (socket.io namespace `/console`, session cookie).

(a) Escalation -> agent console. A customer (socket.io, Rasa protocol) asks one FAQ question,
    then sends an angry message. Measured from the `user_uttered` emit to
      push: the `queue` event reaching the agent's console socket (the hub pushes; nobody polls);
      list: the conversation being in `GET /api/console/queue`, which console.js fetches on that
            event (so this is when it can be on the agent's screen);
    and the customer's own wait for the escalation reply. Each one is then claimed and resolved
    by the agent, as in real work, so the queue stays short.
(b) Throughput. N concurrent web conversations (python-socketio AsyncClient each, `user_uttered`
    -> `bot_uttered`), closed loop without think time, questions from the retrieval eval set,
    while the agent stays connected. Reports messages/s handled (customer message in, every
    reply out, `hub_ack`) and the latency to the first bot reply and to the end of the turn.
    A conversation the triage queues for a person is replaced by a new one (so every counted
    message went through Rasa).

Everything is bounded: a fixed number of escalations, a fixed measuring window, timeouts on
every wait. The load generator shares the machine's cores with the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import socketio

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from cskh.stack import Stack, StackConfig  # noqa: E402
from handoff.core.sessions import public_ref  # noqa: E402

QUESTIONS_FILE = REPO_ROOT / "knowledge_base" / "eval" / "questions.jsonl"
FIRST_QUESTION = "phí ship ra Hà Nội bao nhiêu?"
ANGRY = [
    "ĐÃ 2 TUẦN CHƯA THẤY HÀNG, LỪA ĐẢO À??? tôi sẽ báo công an!!!",
    "Shop làm ăn kiểu gì vậy, giao sai hàng mà không ai trả lời, quá bực mình!!!",
    "Tôi chờ cả tuần rồi, dịch vụ tệ hại, lừa đảo khách hàng à???",
]
AGENT = ("bench-agent", "bench-password-1")
WAIT = 60.0


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation; values in seconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {pct(values, 0.5) * 1000:7.0f} ms   p95 {pct(values, 0.95) * 1000:7.0f} ms   "
        f"max {max(values) * 1000:7.0f} ms   (n={len(values)})"
    )


# ---------------------------------------------------------------------------- clients
class Console:
    """A logged-in agent: JSON API (cookie + X-Requested-With) and the `/console` socket."""

    def __init__(self, hub_url: str, cookie_name: str = "cskh_hub_session") -> None:
        self.hub_url = hub_url
        self.cookie_name = cookie_name
        self.http = httpx.AsyncClient(
            base_url=hub_url, headers={"X-Requested-With": "cskh"}, timeout=WAIT
        )
        self.sio = socketio.AsyncClient(reconnection=False)
        self.queue_events: asyncio.Queue[tuple[float, str]] = asyncio.Queue()
        self.messages_seen = 0

        @self.sio.on("conversation", namespace="/console")
        async def on_conversation(data: Any) -> None:
            # One event per change of a card, with the messages that change added.
            conv = data.get("conversation") or {}
            self.messages_seen += len(data.get("messages") or [])
            if conv.get("state") == "queued":
                self.queue_events.put_nowait((time.perf_counter(), str(conv.get("id"))))

    async def login(self, username: str, password: str) -> None:
        r = await self.http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        r.raise_for_status()
        token = r.cookies.get(self.cookie_name)
        assert token, "no session cookie"
        await self.sio.connect(
            self.hub_url,
            namespaces=["/console"],
            headers={"Cookie": f"{self.cookie_name}={token}"},
            transports=["websocket"],
            socketio_path="socket.io",
            wait_timeout=WAIT,
        )

    async def queue(self) -> list[dict[str, Any]]:
        r = await self.http.get("/api/console/queue")
        r.raise_for_status()
        return list(r.json()["queue"])

    async def claim_and_resolve(self, cid: str) -> None:
        for action in ("claim", "resolve"):
            r = await self.http.post(f"/api/console/conversations/{cid}/{action}")
            r.raise_for_status()

    async def close(self) -> None:
        await self.sio.disconnect()
        await self.http.aclose()


class Customer:
    """A web visitor speaking Rasa's socketio protocol, as the widget does."""

    def __init__(self, hub_url: str) -> None:
        self.hub_url = hub_url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.session_id = ""
        self.events: asyncio.Queue[tuple[float, str, Any]] = asyncio.Queue()
        for name in ("session_confirm", "bot_uttered", "hub_message", "hub_ack", "hub_error"):
            self.sio.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Any:
        async def record(data: Any = None) -> None:
            self.events.put_nowait((time.perf_counter(), name, data))

        return record

    async def connect(self) -> None:
        await self.sio.connect(
            self.hub_url, transports=["websocket"], socketio_path="socket.io", wait_timeout=WAIT
        )
        await self.new_session()

    async def new_session(self) -> None:
        await self.sio.emit("session_request", {"session_id": uuid.uuid4().hex})
        _, data = await self.expect("session_confirm")
        self.session_id = str(data)

    async def expect(self, name: str, timeout: float = WAIT) -> tuple[float, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(name)
            at, event, data = await asyncio.wait_for(self.events.get(), remaining)
            if event == name:
                return at, data
            if event == "hub_error":
                raise RuntimeError(f"hub_error: {data}")

    async def turn(self, text: str) -> tuple[float, float | None, str]:
        """Send one message; (seconds to hub_ack, seconds to the first reply or None, state)."""
        while not self.events.empty():
            self.events.get_nowait()
        started = time.perf_counter()
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})
        first: float | None = None
        deadline = time.monotonic() + WAIT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("hub_ack")
            at, event, data = await asyncio.wait_for(self.events.get(), remaining)
            if event == "bot_uttered" and first is None:
                first = at - started
            elif event == "hub_ack":
                return at - started, first, str((data or {}).get("state"))
            elif event == "hub_error":
                raise RuntimeError(f"hub_error: {data}")

    async def close(self) -> None:
        await self.sio.disconnect()


# ------------------------------------------------------------------------ scenarios
async def escalations(hub_url: str, console: Console, count: int) -> dict[str, Any]:
    push: list[float] = []
    listed: list[float] = []
    reply: list[float] = []
    failures = 0
    done: set[str] = set()
    for i in range(count):
        customer = Customer(hub_url)
        await customer.connect()
        try:
            await customer.turn(FIRST_QUESTION)  # history for the summary; not timed
            while not console.queue_events.empty():
                console.queue_events.get_nowait()
            while not customer.events.empty():
                customer.events.get_nowait()
            started = time.perf_counter()
            await customer.sio.emit(
                "user_uttered",
                {"message": ANGRY[i % len(ANGRY)], "session_id": customer.session_id},
            )
            try:
                cid = ""
                while not cid:
                    at, seen = await asyncio.wait_for(console.queue_events.get(), WAIT)
                    if seen not in done:
                        cid = seen
                push.append(at - started)
                # The console draws the card from the event; the queue API must agree.
                items = await console.queue()
                ref = public_ref(customer.session_id)  # agents never see the session id
                mine = [it for it in items if it["external_id"] == ref]
                assert mine and mine[0]["id"] == cid, "pushed id is not the customer's"
                assert "angry" in mine[0]["handoff"]["reasons"], mine[0]["handoff"]
                listed.append(time.perf_counter() - started)
                while True:
                    at, data = await customer.expect("hub_message")
                    if data.get("notice") == "escalated":
                        reply.append(at - started)
                        break
            except (TimeoutError, AssertionError) as exc:
                failures += 1
                print(f"  escalation {i + 1}: not seen in the console ({exc!r})", file=sys.stderr)
                continue
            done.add(cid)  # its claim/resolve events are not a new escalation
            await console.claim_and_resolve(cid)
        finally:
            await customer.close()
    return {"push": push, "list": listed, "reply": reply, "failures": failures}


async def throughput(
    hub_url: str | list[str], console: Console | None, clients: int, seconds: float,
    questions: list[str],
) -> dict[str, Any]:
    """Closed-loop conversations; with several hub URLs (replicas) they are spread evenly."""
    rng = random.Random(7)
    urls = [hub_url] if isinstance(hub_url, str) else hub_url
    customers = [Customer(urls[i % len(urls)]) for i in range(clients)]
    await asyncio.gather(*(c.connect() for c in customers))
    first_reply: list[float] = []
    turn: list[float] = []
    requeued = 0
    errors: list[str] = []
    started = time.perf_counter()
    deadline = started + seconds

    async def loop(customer: Customer) -> None:
        nonlocal requeued
        while time.perf_counter() < deadline:
            try:
                took, first, state = await customer.turn(rng.choice(questions))
            except (TimeoutError, RuntimeError) as exc:
                errors.append(repr(exc))
                return
            turn.append(took)
            if first is not None:
                first_reply.append(first)
            if state != "bot":
                requeued += 1  # triage handed it to a person: continue in a new conversation
                await customer.new_session()

    await asyncio.gather(*(loop(c) for c in customers))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.close() for c in customers), return_exceptions=True)
    return {
        "elapsed": elapsed,
        "messages": len(turn),
        "first_reply": first_reply,
        "turn": turn,
        "requeued": requeued,
        "errors": errors,
    }


def add_agent(stack: Stack) -> None:
    assert stack.config.database_url
    env = {**os.environ, "CSKH_HUB_DATABASE_URL": stack.config.database_url}
    cli = Path(sys.executable).with_name("cskh")
    subprocess.run(
        [str(cli), "agent", "add", AGENT[0], "--name", "Bench Agent", "--password-stdin"],
        input=AGENT[1] + "\n", text=True, env=env, check=True, capture_output=True, timeout=180,
    )


async def run(stack: Stack, args: argparse.Namespace) -> None:
    hub_url = stack.config.hub_url
    questions = [
        json.loads(line)["question"]
        for line in QUESTIONS_FILE.read_text("utf-8").splitlines()
        if line.strip()
    ]
    console = Console(hub_url)
    await console.login(*AGENT)
    try:
        t = time.perf_counter()
        esc = await escalations(hub_url, console, args.escalations)
        esc_seconds = time.perf_counter() - t
        load = await throughput(hub_url, console, args.clients, args.seconds, questions)
    finally:
        await console.close()

    print()
    print(f"(a) escalation -> agent console  ({args.escalations} escalations, "
          f"{esc_seconds:.0f} s, {esc['failures']} not seen)")
    print(f"    push event at the agent socket : {ms(esc['push'])}")
    print(f"    in the console's queue list    : {ms(esc['list'])}")
    print(f"    customer gets escalation reply : {ms(esc['reply'])}")
    rate = load["messages"] / load["elapsed"]
    print(f"(b) {args.clients} concurrent web conversations over socket.io, 1 agent connected, "
          f"{load['elapsed']:.0f} s")
    print(f"    throughput                     : {rate:.1f} messages/s "
          f"({load['messages']} customer messages answered)")
    print(f"    first bot reply                : {ms(load['first_reply'])}")
    print(f"    whole turn (hub_ack)           : {ms(load['turn'])}")
    print(f"    queued by triage (replaced)    : {load['requeued']}   "
          f"errors/timeouts: {len(load['errors'])}")
    if load["errors"]:
        print(f"      first error: {load['errors'][0]}")
    print(f"    console socket received {console.messages_seen} live 'message' events")


def print_reasons(stack: Stack) -> None:
    """Why triage queued conversations during the run (from the hub's own records)."""
    from collections import Counter

    from sqlalchemy import create_engine, text

    assert stack.config.database_url
    engine = create_engine(stack.config.database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT reasons FROM handoffs")).scalars().all()
    engine.dispose()
    counts: Counter[str] = Counter()
    for raw in rows:
        counts.update(json.loads(raw) if isinstance(raw, str) else raw)
    print(f"    handoff reasons over the whole run: {dict(counts.most_common())}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--escalations", type=int, default=30)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0, help="throughput window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cskh-hub-load-") as tmp:
        run_dir = Path(tmp)
        config = StackConfig.isolated(run_dir)
        stack = Stack(config)
        print(f"starting the stack (logs in {run_dir}) ...", flush=True)
        ready = stack.start(timeout=300)
        print(f"stack ready in {ready:.1f} s: hub {config.hub_url}, Rasa {config.rasa_url}",
              flush=True)
        try:
            add_agent(stack)
            asyncio.run(run(stack, args))
            print_reasons(stack)
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
