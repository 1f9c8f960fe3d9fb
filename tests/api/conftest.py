"""Hub API test fixtures: the real app over HTTP against a real SQLite file or PostgreSQL.

The bot is replaced by `CannedRasa` (an implementation of the hub's `RasaClient` port) and
triage by `KeywordTriage`: these tests are about the hub's own behaviour; the real Rasa and
the real triage models are exercised in tests/e2e.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text

from handoff.app import create_app
from handoff.core.hub import Hub
from handoff.settings import HubSettings

from .support import ALWAYS_OPEN, CannedRasa, KeywordTriage

PG_ADMIN = os.environ.get("CSKH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=2):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    if not _pg_available():
        pytest.skip("PostgreSQL not reachable at " + PG_ADMIN)
    name = f"cskh_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_pg(url: str) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        exists = conn.execute(text("SELECT to_regclass('conversations')")).scalar()
        if exists:
            conn.execute(
                text(
                    "TRUNCATE outbox, messages, conversation_events, handoffs, agent_sessions, "
                    "conversations, agents, channel_credentials RESTART IDENTITY CASCADE"
                )
            )
    engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def settings(database_url: str) -> HubSettings:
    return HubSettings(
        database_url=database_url,
        business_hours=ALWAYS_OPEN,  # always open unless a test says otherwise
        business_days="1-7",
        session_hours=1,
    )


@pytest.fixture
def rasa() -> CannedRasa:
    return CannedRasa()


@pytest.fixture
async def app(settings: HubSettings, rasa: CannedRasa) -> AsyncIterator[Any]:
    application = create_app(settings, rasa=rasa, triage=KeywordTriage())
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def hub(app: Any) -> Hub:
    return app.state.hub  # type: ignore[no-any-return]


def make_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test")


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as c:
        yield c


async def agent_client(
    app: Any, hub: Hub, username: str, role: str = "agent", team: str | None = None
) -> httpx.AsyncClient:
    """A logged-in console client (cookie + anti-CSRF header), agent created on the fly."""
    password = "mat-khau-" + username
    from handoff.core.hub import run_sync

    await run_sync(hub.accounts.create_agent, username, password, username.title(), role, team)
    c = make_client(app)
    r = await c.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    c.headers["X-Requested-With"] = "cskh"
    return c


async def say(client: httpx.AsyncClient, sender: str, message: str, **meta: Any) -> Any:
    r = await client.post(
        "/webhooks/rest/webhook", json={"sender": sender, "message": message, "metadata": meta}
    )
    assert r.status_code == 200, r.text
    return r.json()
