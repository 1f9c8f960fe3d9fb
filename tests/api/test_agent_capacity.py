"""Agent status (online/away) and capacity: claims refused atomically, CLI, migration."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from typing import Any

import httpx
import pytest
import socketio
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from handoff.app import create_app
from handoff.core.hub import Hub, run_sync
from handoff.core.views import AgentInfo
from handoff.errors import Conflict
from handoff.settings import HubSettings
from handoff.store.db import alembic_config, make_engine, migrate

from .conftest import agent_client, say
from .support import (
    FAST_HEARTBEAT,
    CannedRasa,
    KeywordTriage,
    LiveServer,
    claim_now,
    set_status_now,
)


def _dump(view: Any) -> Any:
    return view.model_dump() if view is not None else None


async def _queued(client: httpx.AsyncClient, hub: Hub, sender: str) -> str:
    await say(client, sender, "gặp nhân viên")
    conv = _dump(await hub.find_conversation(("rest",), sender))
    assert conv is not None and conv["state"] == "queued"
    return str(conv["id"])


async def test_away_agent_cannot_claim(app: Any, client: httpx.AsyncClient, hub: Hub) -> None:
    cid = await _queued(client, hub, "vang")
    lan = await agent_client(app, hub, "lan")
    me = (await lan.get("/api/auth/me")).json()["agent"]
    assert me["status"] == "online" and me["capacity"] == 3 and me["load"] == 0

    r = await lan.post("/api/console/status", json={"status": "away"})
    assert r.status_code == 200 and r.json()["agent"]["status"] == "away"
    assert (await lan.get("/api/auth/me")).json()["agent"]["status"] == "away"  # persisted

    r = await lan.post(f"/api/console/conversations/{cid}/claim")
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "agent_away" and "Vắng mặt" in body["detail"]
    conv = (await hub.conversation(cid)).model_dump()
    assert conv["state"] == "queued" and conv["assigned_agent"] is None

    r = await lan.post("/api/console/status", json={"status": "busy"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_status"
    r = await lan.post("/api/console/status", json={"status": "online"})
    assert r.json()["agent"]["status"] == "online"
    r = await lan.post(f"/api/console/conversations/{cid}/claim")
    assert r.status_code == 200
    assert (await lan.get("/api/auth/me")).json()["agent"]["load"] == 1
    await lan.aclose()


async def test_claim_refused_at_capacity(app: Any, client: httpx.AsyncClient, hub: Hub) -> None:
    cids = [await _queued(client, hub, f"cap-{i}") for i in range(3)]
    lan = await agent_client(app, hub, "lan")
    await run_sync(hub.accounts.set_capacity, "lan", 2)
    for cid in cids[:2]:
        r = await lan.post(f"/api/console/conversations/{cid}/claim")
        assert r.status_code == 200, r.text
    r = await lan.post(f"/api/console/conversations/{cids[2]}/claim")
    assert r.status_code == 409
    assert r.json()["error"] == "at_capacity" and "2/2" in r.json()["detail"]
    assert ((await hub.conversation(cids[2])).model_dump())["state"] == "queued"

    # Resolving one frees a slot.
    r = await lan.post(f"/api/console/conversations/{cids[0]}/resolve", json={"note": ""})
    assert r.status_code == 200
    r = await lan.post(f"/api/console/conversations/{cids[2]}/claim")
    assert r.status_code == 200

    stats = await (await agent_client(app, hub, "boss", "supervisor")).get("/api/console/stats")
    row = next(a for a in stats.json()["agents"] if a["name"] == "Lan")
    assert (row["status"], row["open"], row["capacity"]) == ("online", 2, 2)
    await lan.aclose()


async def test_concurrent_claims_never_exceed_capacity(
    app: Any, client: httpx.AsyncClient, hub: Hub
) -> None:
    """One agent with capacity 2 claims 6 queued conversations at once: exactly 2 succeed."""
    cids = [await _queued(client, hub, f"many-{i}") for i in range(6)]
    lan = await agent_client(app, hub, "lan")
    await run_sync(hub.accounts.set_capacity, "lan", 2)
    results = await asyncio.gather(
        *(lan.post(f"/api/console/conversations/{cid}/claim") for cid in cids)
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 200, 409, 409, 409, 409], codes
    assert {r.json()["error"] for r in results if r.status_code == 409} == {"at_capacity"}
    assert (await lan.get("/api/auth/me")).json()["agent"]["load"] == 2
    await lan.aclose()


async def test_concurrent_claims_threads_on_store(client: httpx.AsyncClient, hub: Hub) -> None:
    """Real threads and DB connections, no app in between: capacity 1 means one claim."""
    cids = [await _queued(client, hub, f"thr-{i}") for i in range(6)]
    agent: AgentInfo = await run_sync(hub.accounts.create_agent, "solo", "mat-khau-123")
    await run_sync(hub.accounts.set_capacity, "solo", 1)
    barrier = threading.Barrier(len(cids))
    wins: list[str] = []
    losses: list[str] = []

    def attempt(cid: str) -> None:
        barrier.wait()
        try:
            claim_now(hub, cid, agent)
            wins.append(cid)
        except Conflict as exc:
            losses.append(exc.code)

    threads = [threading.Thread(target=attempt, args=(c,)) for c in cids]
    await asyncio.to_thread(lambda: ([t.start() for t in threads], [t.join() for t in threads]))
    assert len(wins) == 1 and losses == ["at_capacity"] * 5, (wins, losses)


def test_cli_capacity(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cskh.cli import main

    monkeypatch.setenv("CSKH_HUB_DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-hoa-1\n"))
    assert main(["agent", "add", "hoa", "--capacity", "5", "--password-stdin"]) == 0
    assert main(["agent", "list", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"capacity": 5' in out and '"status": "online"' in out
    assert main(["agent", "set", "hoa", "--capacity", "1"]) == 0
    assert main(["agent", "set", "nobody", "--capacity", "1"]) == 2
    assert main(["agent", "set", "hoa", "--capacity", "-1"]) == 2
    engine = make_engine(HubSettings(database_url=database_url).sqlalchemy_url())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT capacity FROM agents WHERE username='hoa'")).scalar() == 1
    engine.dispose()


def test_migration_0002_fills_existing_agents(tmp_path: Any) -> None:
    """0001 -> 0002 on a database that already has an agent (SQLite batch mode)."""
    from alembic import command

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            text(
                "INSERT INTO agents (username, display_name, password_hash, role, active, "
                "created_at) VALUES ('cu', 'Cũ', 'x', 'agent', 1, '2026-01-01 00:00:00')"
            )
        )
    migrate(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, capacity FROM agents")).one()
        assert tuple(row) == ("online", 3)
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == ScriptDirectory.from_config(cfg).get_current_head()  # and all later
    with engine.begin() as conn:  # and back down
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    with engine.connect() as conn:
        cols = [r[1] for r in conn.execute(text("PRAGMA table_info(agents)"))]
        assert "capacity" not in cols and "status" not in cols
    engine.dispose()


def test_closing_all_console_sockets_sets_away(settings: HubSettings) -> None:
    settings = settings.model_copy(update=FAST_HEARTBEAT)
    app = create_app(settings, rasa=CannedRasa(), triage=KeywordTriage())
    server = LiveServer(app).start()
    try:
        hub: Hub = app.state.hub
        hub.accounts.create_agent("lan", "mat-khau-lan-1")
        login = httpx.post(
            server.url + "/api/auth/login", json={"username": "lan", "password": "mat-khau-lan-1"}
        )
        cookie = f"{settings.session_cookie}={login.cookies[settings.session_cookie]}"

        def status() -> str:
            return str(hub.accounts.list_agents()[0].status)

        def wait_for(expected: str) -> None:
            deadline = time.monotonic() + 10
            while status() != expected:
                assert time.monotonic() < deadline, f"status stayed {status()}"
                time.sleep(0.05)

        def open_console() -> socketio.Client:
            sio = socketio.Client(reconnection=False)
            sio.connect(
                server.url,
                namespaces=["/console"],
                transports=["polling"],
                headers={"Cookie": cookie},
                wait_timeout=10,
            )
            return sio

        first, second = open_console(), open_console()
        assert status() == "online"
        first.disconnect()
        time.sleep(0.5)
        assert status() == "online"  # one console still open
        second.disconnect()
        wait_for("away")
        third = open_console()  # coming back restores an automatic away
        wait_for("online")
        # A chosen `away` is kept when a console connects.
        set_status_now(hub, hub.accounts.list_agents()[0].id, "away")
        third.disconnect()
        fourth = open_console()
        time.sleep(0.5)
        assert status() == "away"
        fourth.disconnect()
    finally:
        server.stop()


async def test_transfer_refused_to_an_away_or_full_agent(
    app: Any, client: httpx.AsyncClient, hub: Hub
) -> None:
    lan = await agent_client(app, hub, "lan")
    minh = await agent_client(app, hub, "minh")
    await run_sync(hub.accounts.set_capacity, "minh", 1)
    agents = (await lan.get("/api/console/agents")).json()["agents"]
    minh_id = next(a["id"] for a in agents if a["username"] == "minh")
    cids = []
    for sender in ("t1", "t2"):
        await say(client, sender, "gặp nhân viên")
        conv = _dump(await hub.find_conversation(("rest",), sender))
        assert conv is not None
        cids.append(conv["id"])
        assert (await lan.post(f"/api/console/conversations/{conv['id']}/claim")).status_code == 200

    await minh.post("/api/console/status", json={"status": "away"})
    r = await lan.post(f"/api/console/conversations/{cids[0]}/transfer",
                       json={"to_agent_id": minh_id, "note": ""})
    assert r.status_code == 409 and r.json()["error"] == "target_away"

    await minh.post("/api/console/status", json={"status": "online"})
    r = await lan.post(f"/api/console/conversations/{cids[0]}/transfer",
                       json={"to_agent_id": minh_id, "note": ""})
    assert r.status_code == 200
    r = await lan.post(f"/api/console/conversations/{cids[1]}/transfer",
                       json={"to_agent_id": minh_id, "note": ""})
    assert r.status_code == 409 and r.json()["error"] == "target_at_capacity"
    assert "1/1" in r.json()["detail"]
    # Refused transfers change nothing: the chat stays with its agent.
    conv = (await hub.conversation(cids[1])).model_dump()
    assert conv["state"] == "assigned" and conv["assigned_agent"]["username"] == "lan"
    await lan.aclose()
    await minh.aclose()
