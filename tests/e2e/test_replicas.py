"""Two hub replicas and two Rasa processes on the machine's real PostgreSQL and Redis.

The production topology of docker-compose.yml without Docker: hub A and hub B share one
PostgreSQL database and Redis (socket.io fan-out, presence); Rasa 1 and Rasa 2 share a
PostgreSQL tracker store and the Redis lock store; one action server. A visitor on A and an
agent on B work together; agents on both replicas race for a claim; a hub and a Rasa are
killed with SIGKILL mid-conversation.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from hub_e2e import Account, cskh_agent_add, login, new_page, send, shot, wait_online

from cskh.stack import Stack, StackConfig, free_port
from handoff.rasa import rendezvous_order

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

# The server's admin connection (as tests/api/conftest.py); databases are made beside it.
PG_ADMIN = os.environ.get("CSKH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG = PG_ADMIN.rsplit("/", 1)[0]
REDIS = "redis://127.0.0.1:6379"
# Redis databases of this test: hub fan-out + presence, Rasa's lock store.
HUB_REDIS_DB, LOCK_REDIS_DB = 11, 12
QUESTION = "phi ship ra ha noi bao nhieu"
# The console refetches its lists once a minute; an event seen within this long (ms) came
# live, through Redis from the other replica.
LIVE = 20_000


@dataclass
class Replicas:
    a: Stack
    b: Stack
    database_url: str
    tracker_url: str
    rasa_urls: list[str]
    lan: Account
    boss: Account

    def hub(self, name: str) -> Stack:
        return self.a if name == "a" else self.b


def _create_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    hub_db, tracker_db = f"cskh_rep_{os.getpid()}", f"cskh_rep_{os.getpid()}_tracker"
    for name in (hub_db, tracker_db):
        _create_database(name)
    for db in (HUB_REDIS_DB, LOCK_REDIS_DB):
        redis.Redis.from_url(f"{REDIS}/{db}").flushdb()
    run_dir: Path = tmp_path_factory.mktemp("replicas")
    rasa_ports = (free_port(), free_port())
    hub_ports = (free_port(), free_port())
    actions_port = free_port()
    rasa_urls = [f"http://127.0.0.1:{p}" for p in rasa_ports]
    database_url = f"{PG}/{hub_db}".replace("postgresql://", "postgresql+psycopg://", 1)
    tracker_url = f"{PG}/{tracker_db}"
    env = {
        "CSKH_HUB_REDIS_URL": f"{REDIS}/{HUB_REDIS_DB}",
        "CSKH_HUB_RASA_URLS": ",".join(rasa_urls),
        "CSKH_HUB_PRESENCE_HEARTBEAT_SECONDS": "1",
        "CSKH_HUB_PRESENCE_TTL_SECONDS": "4",
        "CSKH_HUB_RASA_DOWN_SECONDS": "60",
        "CSKH_HUB_LOG_FORMAT": "json",
    }
    common: dict[str, Any] = {
        "database_url": database_url,
        "tracker_store": "postgresql",
        "tracker_url": tracker_url,
        "lock_store_url": f"{REDIS}/{LOCK_REDIS_DB}",
        "actions_port": actions_port,
        "extra_env": env,
    }
    a = Stack(StackConfig.isolated(
        run_dir / "a", hub_port=hub_ports[0], rasa_port=rasa_ports[0], **common
    ))
    b = Stack(StackConfig.isolated(
        run_dir / "b", hub_port=hub_ports[1], rasa_port=rasa_ports[1],
        services=("rasa", "hub"), actions_url_override=f"http://127.0.0.1:{actions_port}",
        **common,
    ))
    try:
        a.start(timeout=300)
        b.start(timeout=300)
        lan = Account("lan", "mat-khau-lan-1", "Nguyễn Lan", "agent")
        boss = Account("boss", "mat-khau-boss-1", "Trần Minh", "supervisor")
        cskh_agent_add(a, lan)
        cskh_agent_add(b, boss)
        yield Replicas(a, b, database_url, tracker_url, rasa_urls, lan, boss)
    finally:
        b.stop()
        a.stop()
        for name in (hub_db, tracker_db):
            _drop_database(name)


def _sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        return list(conn.execute(query, params).fetchall())


def _conversation_id(rep: Replicas, channel: str, external_id: str) -> str:
    rows = _sql(
        rep.database_url,
        "SELECT id FROM conversations WHERE channel = %s AND external_id = %s",
        channel, external_id,
    )
    assert len(rows) == 1, rows
    return str(rows[0][0])


def _agent_client(stack: Stack, account: Account) -> httpx.Client:
    client = httpx.Client(
        base_url=stack.config.hub_url, timeout=60, headers={"X-Requested-With": "cskh"}
    )
    r = client.post(
        "/api/auth/login", json={"username": account.username, "password": account.password}
    )
    assert r.status_code == 200, r.text
    return client


def _rest(stack: Stack, sender: str, message: str) -> list[dict[str, Any]]:
    r = httpx.post(
        f"{stack.config.hub_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": message},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    replies = r.json()
    assert isinstance(replies, list)
    return replies


def _ensure_running(stack: Stack, name: str) -> None:
    proc = stack.service(name).process
    if proc is None or proc.poll() is not None:
        stack.restart(name, timeout=300)


def test_visitor_on_one_replica_agent_on_the_other_and_a_replica_killed(
    replicas: Replicas, browser: Any
) -> None:
    rep = replicas
    hub_a, hub_b = rep.a.config.hub_url, rep.b.config.hub_url
    customer_ctx, customer, errors = new_page(browser, 480, 860)
    agent_ctx, agent, _ = new_page(browser, 1400, 900)
    later_ctx = None
    try:
        login(agent, hub_b, rep.lan.username, rep.lan.password)

        # Presence is shared: replica A counts the agent whose only console is on B.
        with contextlib.closing(_agent_client(rep.a, rep.boss)) as boss_on_a:
            deadline = time.monotonic() + 15
            while boss_on_a.get("/api/console/queue").json()["agents_online"] < 1:
                assert time.monotonic() < deadline, "A never saw the agent connected to B"
                time.sleep(0.5)

        customer.goto(hub_a + "/")
        wait_online(customer)
        send(customer, QUESTION)
        customer.get_by_test_id("cskh-msg-bot").filter(has_text="20.000đ").first.wait_for()
        send(customer, "cho tôi gặp nhân viên")
        customer.get_by_test_id("cskh-status").filter(has_text="Đang chờ nhân viên").wait_for()

        # The escalation written by A reaches the console on B live (Redis fan-out).
        item = agent.get_by_test_id("queue-item").filter(has_text="gặp nhân viên")
        item.wait_for(timeout=LIVE)
        item.get_by_test_id("claim").click()
        agent.get_by_test_id("conv-state").filter(has_text="Nguyễn Lan").wait_for()
        customer.get_by_test_id("cskh-notice").filter(has_text="Nguyễn Lan").wait_for(
            timeout=LIVE
        )

        agent.get_by_test_id("reply-text").fill("Chào bạn, mình là Lan ở máy B")
        agent.get_by_test_id("reply-send").click()
        customer.get_by_test_id("cskh-msg-agent").filter(has_text="máy B").wait_for(
            timeout=LIVE
        )

        # While the agent owns the chat the bot stays silent, whichever replica hears it.
        bots = customer.get_by_test_id("cskh-msg-bot").count()
        send(customer, "đơn DH123456 của tôi đâu rồi")
        agent.get_by_test_id("msg-user").filter(has_text="DH123456").wait_for(timeout=LIVE)
        time.sleep(2)  # a bot answer, if any, would have come by now
        assert customer.get_by_test_id("cskh-msg-bot").count() == bots
        shot(agent, "replicas_console_on_b")

        # Hub A dies mid-conversation (SIGKILL: no shutdown hook runs).
        session = customer.evaluate(f"localStorage.getItem('cskh_session_id:{hub_a}')")
        assert session
        hub_a_proc = rep.a.service("hub").process
        assert hub_a_proc is not None
        os.kill(hub_a_proc.pid, signal.SIGKILL)
        hub_a_proc.wait(timeout=10)
        agent.get_by_test_id("reply-text").fill("Đơn của bạn đang giao, mai tới nhé")
        agent.get_by_test_id("reply-send").click()
        agent.get_by_test_id("msg-agent").filter(has_text="mai tới").wait_for()
        customer_ctx.close()

        # The visitor comes back through B (the proxy sends them to a live replica).
        later_ctx, later, later_errors = new_page(browser, 480, 860)
        later.add_init_script(
            f"localStorage.setItem('cskh_session_id:{hub_b}', {session!r})"
        )
        later.goto(hub_b + "/")
        # Its state comes back with it (the widget says "trực tuyến" only in bot mode, and at
        # most for an instant before the history arrives).
        later.get_by_test_id("cskh-status").filter(has_text="Đang trò chuyện").wait_for()
        later.get_by_test_id("cskh-msg-agent").filter(has_text="mai tới").wait_for()
        texts = later.get_by_test_id("cskh-msg-user").all_inner_texts()
        texts += later.get_by_test_id("cskh-msg-agent").all_inner_texts()
        for expected in (QUESTION, "cho tôi gặp nhân viên", "đơn DH123456 của tôi đâu rồi",
                         "mình là Lan ở máy B", "mai tới nhé"):
            assert sum(expected in t for t in texts) == 1, (expected, texts)
        send(later, "ok cảm ơn bạn")
        agent.get_by_test_id("msg-user").filter(has_text="ok cảm ơn bạn").wait_for(timeout=LIVE)
        cid = _conversation_id(rep, "web", session)
        counts = _sql(
            rep.database_url,
            "SELECT text, count(*) FROM messages WHERE conversation_id = %s GROUP BY text",
            cid,
        )
        assert all(n == 1 for _, n in counts), counts
        assert not errors and not later_errors, (errors, later_errors)
    finally:
        for ctx in (customer_ctx, agent_ctx, later_ctx):
            if ctx is not None:
                ctx.close()
        _ensure_running(rep.a, "hub")


def test_two_agents_on_two_replicas_claim_the_same_chat_one_wins(replicas: Replicas) -> None:
    rep = replicas
    _ensure_running(rep.a, "hub")
    with (
        contextlib.closing(_agent_client(rep.a, rep.lan)) as lan,
        contextlib.closing(_agent_client(rep.b, rep.boss)) as boss,
    ):
        for client in (lan, boss):
            assert client.post("/api/console/status", json={"status": "online"}).status_code == 200
        for _ in range(5):
            sender = f"race-{uuid.uuid4().hex[:8]}"
            _rest(rep.a, sender, "cho tôi gặp nhân viên")
            cid = _conversation_id(rep, "rest", sender)
            queued = [c["id"] for c in boss.get("/api/console/queue").json()["queue"]]
            assert cid in queued
            claim = f"/api/console/conversations/{cid}/claim"
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                futures = [pool.submit(c.post, claim) for c in (lan, boss)]
                results = [f.result() for f in futures]
            codes = sorted(r.status_code for r in results)
            assert codes == [200, 409], [r.text for r in results]
            owners = _sql(
                rep.database_url,
                "SELECT count(*) FROM handoffs WHERE conversation_id = %s AND agent_id IS NOT NULL",
                cid,
            )
            assert owners[0][0] == 1
            winner = next(c for c, r in zip((lan, boss), results, strict=True) if r.is_success)
            resolved = winner.post(f"/api/console/conversations/{cid}/resolve", json={"note": ""})
            assert resolved.status_code == 200, resolved.text


def test_a_killed_rasa_hands_its_conversations_to_the_other_with_their_context(
    replicas: Replicas,
) -> None:
    rep = replicas
    _ensure_running(rep.a, "hub")
    sender = f"move-{uuid.uuid4().hex[:8]}"
    first = _rest(rep.b, sender, QUESTION)
    assert any("20.000đ" in (m.get("text") or "") for m in first), first
    cid = _conversation_id(rep, "rest", sender)
    preferred = rendezvous_order(cid, rep.rasa_urls)[0]
    owner = rep.a if preferred == rep.a.config.rasa_url else rep.b
    survivor = rep.b if owner is rep.a else rep.a
    rasa_proc = owner.service("rasa").process
    assert rasa_proc is not None
    try:
        os.kill(rasa_proc.pid, signal.SIGKILL)
        rasa_proc.wait(timeout=10)
        second = _rest(rep.b, sender, "doi tra hang trong bao lau")
        texts = " ".join(m.get("text") or "" for m in second)
        assert texts and "gặp sự cố" not in texts, second  # not the bot-down notice
        # The surviving Rasa continued the same tracker: both turns, one session.
        token = survivor.config.rasa_auth_token
        tracker = httpx.get(
            f"{survivor.config.rasa_url}/conversations/{cid}/tracker?token={token}", timeout=30
        ).json()
        users = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
        assert users == [QUESTION, "doi tra hang trong bao lau"], users
        starts = [e for e in tracker["events"] if e.get("name") == "action_session_start"]
        assert len(starts) == 1
    finally:
        _ensure_running(owner, "rasa")
