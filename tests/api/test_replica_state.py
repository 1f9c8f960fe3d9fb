"""What replicas share, against the real Redis and PostgreSQL: presence, locks, migrations."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import psycopg
import pytest
import redis.asyncio as aioredis
from sqlalchemy import create_engine, text

from handoff.core.presence import RedisPresence
from handoff.store import Store, messages
from handoff.store.db import lock_key, migrate
from handoff.store.models import utcnow

from .conftest import PG_ADMIN

REDIS_URL = "redis://127.0.0.1:6379/13"
pytestmark = pytest.mark.postgres


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception:
        pytest.skip("Redis not reachable at " + REDIS_URL)
    yield client
    await client.aclose()


def _pair(client: aioredis.Redis, ttl: float = 30.0) -> tuple[RedisPresence, RedisPresence]:
    prefix = f"test:{uuid.uuid4().hex[:8]}"
    return (
        RedisPresence(client, replica="a", ttl_seconds=ttl, prefix=prefix),
        RedisPresence(client, replica="b", ttl_seconds=ttl, prefix=prefix),
    )


async def test_an_agent_on_replica_a_is_online_for_replica_b(redis_client: aioredis.Redis) -> None:
    a, b = _pair(redis_client)
    assert await b.refresh() == 0
    await a.connected(7)
    assert await b.refresh() == 1 and b.agents_online() == 1
    # A second console on B: closing the one on A is not the agent's last.
    await b.connected(7)
    assert await a.disconnected(7) is False
    assert await b.disconnected(7) is True
    assert await a.refresh() == 0


async def test_auto_away_is_undone_by_a_console_on_another_replica(
    redis_client: aioredis.Redis,
) -> None:
    a, b = _pair(redis_client)
    await a.connected(3)
    assert await a.disconnected(3) is True
    await a.mark_auto_away(3)
    assert await b.connected(3) is True  # B learns the agent was set away automatically
    assert await b.connected(3) is False


async def test_a_dead_replica_stops_counting_after_the_ttl(redis_client: aioredis.Redis) -> None:
    a, b = _pair(redis_client, ttl=0.3)
    await a.connected(1)  # then A "dies": no heartbeat, no disconnect
    assert await b.refresh() == 1
    await asyncio.sleep(0.4)
    assert await b.refresh() == 0


async def test_the_heartbeat_keeps_a_live_replica_counted(redis_client: aioredis.Redis) -> None:
    prefix = f"test:{uuid.uuid4().hex[:8]}"
    a = RedisPresence(redis_client, replica="a", ttl_seconds=0.3, heartbeat_seconds=0.05,
                      prefix=prefix)
    b = RedisPresence(redis_client, replica="b", ttl_seconds=0.3, prefix=prefix)
    await a.start()
    try:
        await a.connected(1)
        await asyncio.sleep(0.6)
        assert await b.refresh() == 1
    finally:
        await a.stop()
    assert await b.refresh() == 0  # a clean stop gives the entries back at once


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    try:
        conn = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=2)
    except Exception:
        pytest.skip("PostgreSQL not reachable at " + PG_ADMIN)
    name = f"cskh_mig_{uuid.uuid4().hex[:8]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_replicas_starting_together_migrate_once(fresh_pg: str) -> None:
    engines = [create_engine(fresh_pg) for _ in range(3)]
    errors: list[BaseException] = []

    def run(engine: object) -> None:
        try:
            migrate(engine)  # type: ignore[arg-type]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with engines[0].connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    assert len(versions) == 1
    for e in engines:
        e.dispose()


def test_a_conversation_key_is_held_by_one_transaction_at_a_time(fresh_pg: str) -> None:
    engine = create_engine(fresh_pg)
    store = Store(engine)
    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with store.write() as s:
            lock_key(s, "inbound:web:khach-1")
            held.set()
            time.sleep(0.3)
            order.append("first done")

    def second() -> None:
        held.wait(5)
        with store.write() as s:
            lock_key(s, "inbound:web:khach-1")
            order.append("second got it")

    def other_key() -> None:
        held.wait(5)
        with store.write() as s:
            lock_key(s, "inbound:web:khach-2")
            order.append("other key")

    threads = [threading.Thread(target=f) for f in (first, second, other_key)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    engine.dispose()
    assert order == ["other key", "first done", "second got it"], order


def test_a_new_message_waits_for_the_sweep_and_answers_the_older_one_first(
    fresh_pg: str,
) -> None:
    """The sweep taking a crash's unanswered message while the customer's next one arrives:
    the next one must still take the older message, so the bot hears them in order."""
    engine = create_engine(fresh_pg)
    migrate(engine)
    store = Store(engine)
    with store.write() as s:
        conv = messages.conversation_for(s, "rest", "khach-crash")
        older = messages.add_inbound(s, conv, "giao hàng mất mấy ngày", {}, "m4", None)
        s.flush()
        conversation_id, older_id = conv.id, older.id
    swept = threading.Event()
    taken: list[list[int]] = []

    def sweep() -> None:
        with store.write() as s:
            taken.append(messages.take_unanswered(s, older_than=utcnow() + timedelta(1)))
            swept.set()
            time.sleep(0.3)  # the sweep's transaction still open when the next message comes

    def next_message() -> None:
        swept.wait(5)
        with store.write() as s:
            rows = messages.take_earlier_unanswered(s, conversation_id, before_id=older_id + 1)
            taken.append([r.id for r in rows])

    threads = [threading.Thread(target=f) for f in (sweep, next_message)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    engine.dispose()
    assert taken == [[older_id], [older_id]], taken
