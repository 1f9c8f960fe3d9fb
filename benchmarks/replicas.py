"""One hub against two replicas, on this machine's real PostgreSQL and Redis.

    .venv/bin/python benchmarks/replicas.py [--clients 20] [--seconds 30] [--escalations 8]

Starts, one after the other, with `cskh.stack` on free ports and throw-away databases:
  one   1 hub (PostgreSQL, no Redis), 1 Rasa (PostgreSQL tracker store), 1 action server;
  redis the same with the hub on Redis (socket.io manager + presence): what fan-out costs;
  two   2 hubs (PostgreSQL + Redis), 2 Rasa (shared tracker store, Redis lock store), 1
        action server: the topology of docker-compose.yml and tests/e2e/test_replicas.py.
For each: sequential reply latency (one visitor, socket.io), throughput with N concurrent
visitors (spread over the hubs), and escalation -> agent console push latency (for `two`,
the visitor on hub A and the agent's console on hub B). Then the cost of the per-conversation
advisory lock: PostgreSQL write transactions with and without `pg_advisory_xact_lock`.
All processes share the machine's two cores with the load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import redis

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

from hub_load import (  # noqa: E402
    AGENT,
    QUESTIONS_FILE,
    Console,
    Customer,
    add_agent,
    escalations,
    ms,
    pct,
    throughput,
)

from cskh.stack import Stack, StackConfig, free_port  # noqa: E402

PG_ADMIN = os.environ.get("CSKH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG = PG_ADMIN.rsplit("/", 1)[0]
REDIS = "redis://127.0.0.1:6379"
HUB_REDIS_DB, LOCK_REDIS_DB = 14, 15


@contextlib.contextmanager
def databases(*names: str) -> Iterator[None]:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def topology(kind: str, run_dir: Path) -> Iterator[list[Stack]]:
    tag = f"cskh_bench_{kind}_{uuid.uuid4().hex[:6]}"
    with databases(tag, f"{tag}_tracker"):
        for db in (HUB_REDIS_DB, LOCK_REDIS_DB):
            redis.Redis.from_url(f"{REDIS}/{db}").flushdb()
        hubs = 2 if kind == "two" else 1
        rasa_ports = [free_port() for _ in range(hubs)]
        env = {"CSKH_HUB_RASA_URLS": ",".join(f"http://127.0.0.1:{p}" for p in rasa_ports)}
        if kind != "one":
            env["CSKH_HUB_REDIS_URL"] = f"{REDIS}/{HUB_REDIS_DB}"
        actions_port = free_port()
        common: dict[str, Any] = {
            "database_url": f"{PG}/{tag}".replace("postgresql://", "postgresql+psycopg://"),
            "tracker_store": "postgresql",
            "tracker_url": f"{PG}/{tag}_tracker",
            "lock_store_url": f"{REDIS}/{LOCK_REDIS_DB}" if hubs > 1 else None,
            "actions_port": actions_port,
            "extra_env": env,
        }
        stacks = [Stack(StackConfig.isolated(
            run_dir / f"{kind}-0", rasa_port=rasa_ports[0], **common
        ))]
        if hubs > 1:
            stacks.append(Stack(StackConfig.isolated(
                run_dir / f"{kind}-1", rasa_port=rasa_ports[1], services=("rasa", "hub"),
                actions_url_override=f"http://127.0.0.1:{actions_port}", **common,
            )))
        try:
            for stack in stacks:
                stack.start(timeout=300)
            add_agent(stacks[0])
            yield stacks
        finally:
            for stack in reversed(stacks):
                stack.stop()


async def sequential(hub_url: str, questions: list[str], n: int) -> list[float]:
    customer = Customer(hub_url)
    await customer.connect()
    took: list[float] = []
    try:
        for i in range(n):
            _, first, state = await customer.turn(questions[i % len(questions)])
            if first is not None:
                took.append(first)
            if state != "bot":
                await customer.new_session()
    finally:
        await customer.close()
    return took


async def measure(stacks: list[Stack], args: argparse.Namespace) -> dict[str, Any]:
    questions = [
        json.loads(line)["question"]
        for line in QUESTIONS_FILE.read_text("utf-8").splitlines()
        if line.strip()
    ]
    urls = [s.config.hub_url for s in stacks]
    seq = await sequential(urls[0], questions, args.sequential)
    load = await throughput(urls, None, args.clients, args.seconds, questions)
    # The agent's console on the last hub; visitors escalate on the first.
    console = Console(urls[-1])
    await console.login(*AGENT)
    try:
        esc = await escalations(urls[0], console, args.escalations)
    finally:
        await console.close()
    return {"seq": seq, "load": load, "esc": esc}


def lock_cost(n: int) -> tuple[float, float]:
    """Median ms of a small write transaction without and with the advisory lock."""
    tag = f"cskh_bench_lock_{uuid.uuid4().hex[:6]}"
    with databases(tag), psycopg.connect(f"{PG}/{tag}") as conn:
        conn.execute("CREATE TABLE t (id serial primary key, v text)")
        conn.commit()
        runs: dict[bool, list[float]] = {False: [], True: []}
        for i in range(n):
            for locked in (False, True):
                started = time.perf_counter()
                if locked:
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"c{i}",)
                    )
                conn.execute("INSERT INTO t (v) VALUES (%s)", (str(i),))
                conn.commit()
                runs[locked].append(time.perf_counter() - started)
        return statistics.median(runs[False]) * 1000, statistics.median(runs[True]) * 1000


def report(kind: str, result: dict[str, Any], clients: int) -> None:
    load, esc = result["load"], result["esc"]
    rate = load["messages"] / load["elapsed"]
    print(f"  [{kind}] sequential first reply : {ms(result['seq'])}")
    print(f"  [{kind}] {clients} visitors         : {rate:.1f} messages/s, first reply "
          f"{ms(load['first_reply'])}, errors {len(load['errors'])}")
    print(f"  [{kind}] escalation push to console: {ms(esc['push'])}, "
          f"{esc['failures']} not seen")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sequential", type=int, default=40)
    parser.add_argument("--escalations", type=int, default=8)
    parser.add_argument("--lock-transactions", type=int, default=500)
    parser.add_argument("--only", choices=("one", "redis", "two"), action="append")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="cskh-replicas-") as tmp:
        for kind in args.only or ("one", "redis", "two"):
            print(f"starting topology '{kind}' ...", flush=True)
            with topology(kind, Path(tmp)) as stacks:
                results[kind] = asyncio.run(measure(stacks, args))
            report(kind, results[kind], args.clients)
    plain, locked = lock_cost(args.lock_transactions)
    print()
    print("summary (this machine, 2 cores shared by every process and the load generator)")
    for kind, result in results.items():
        load = result["load"]
        print(f"  {kind:<6} seq p50 {pct(result['seq'], 0.5) * 1000:6.1f} ms   "
              f"{load['messages'] / load['elapsed']:5.1f} msg/s with {args.clients} visitors   "
              f"p95 {pct(load['first_reply'], 0.95) * 1000:6.0f} ms   "
              f"console push p50 {pct(result['esc']['push'], 0.5) * 1000:5.0f} ms")
    if "one" in results and "redis" in results:
        extra = (pct(results["redis"]["seq"], 0.5) - pct(results["one"]["seq"], 0.5)) * 1000
        print(f"  Redis fan-out adds {extra:+.1f} ms to the sequential p50 reply")
    print(f"  advisory lock: write transaction p50 {plain:.2f} ms -> {locked:.2f} ms "
          f"({locked - plain:+.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
