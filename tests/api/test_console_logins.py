"""A console socket lives only as long as its login (logout, disabled account, expiry)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import socketio

from handoff.app import create_app
from handoff.core.accounts import Accounts
from handoff.settings import HubSettings
from handoff.store import Store
from handoff.store.db import make_engine

from .support import FAST_HEARTBEAT, CannedRasa, KeywordTriage, LiveServer


@pytest.fixture
def live(settings: HubSettings) -> Iterator[tuple[str, Accounts]]:
    fast = settings.model_copy(
        update={**FAST_HEARTBEAT, "console_login_check_seconds": 0.3}
    )
    app = create_app(fast, rasa=CannedRasa(), triage=KeywordTriage())
    server = LiveServer(app).start()
    engine = make_engine(fast.sqlalchemy_url())
    accounts = Accounts(Store(engine))
    for name in ("lan", "minh"):
        accounts.create_agent(name, f"mat-khau-{name}", name.title(), "agent", None)
    yield server.url, accounts
    server.stop()
    engine.dispose()


def _console(url: str, username: str) -> tuple[httpx.Client, socketio.Client]:
    http = httpx.Client(base_url=url, headers={"X-Requested-With": "cskh"})
    password = f"mat-khau-{username}"
    r = http.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200
    cookie = f"cskh_hub_session={http.cookies['cskh_hub_session']}"
    sio = socketio.Client(reconnection=False)
    sio.connect(url, namespaces=["/console"], headers={"Cookie": cookie},
                transports=["polling"], wait_timeout=10)
    assert sio.connected
    return http, sio


def _wait_disconnected(sio: socketio.Client, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not sio.connected:
            return True
        time.sleep(0.05)
    return False


def test_logout_closes_that_login_s_sockets_only(live: tuple[str, Accounts]) -> None:
    url, _ = live
    lan_http, lan_sio = _console(url, "lan")
    minh_http, minh_sio = _console(url, "minh")
    try:
        assert lan_http.post("/api/auth/logout").status_code == 200
        assert _wait_disconnected(lan_sio, 5)
        time.sleep(1.0)  # three session checks later the other login is still connected
        assert minh_sio.connected
    finally:
        for client in (lan_sio, minh_sio):
            client.disconnect()
        lan_http.close()
        minh_http.close()


@pytest.mark.parametrize("change", ["disable", "password"])
def test_a_disabled_account_or_new_password_closes_open_consoles(
    live: tuple[str, Accounts], change: str
) -> None:
    url, accounts = live
    http, sio = _console(url, "lan")
    try:
        # As `cskh agent disable` / `cskh agent passwd` do, from another process.
        if change == "disable":
            accounts.set_active("lan", False)
        else:
            accounts.set_password("lan", "mat-khau-moi-123")
        assert _wait_disconnected(sio, 5)
        assert http.get("/api/console/queue").status_code == 401
    finally:
        sio.disconnect()
        http.close()


def test_a_console_without_a_valid_login_is_refused(live: tuple[str, Accounts]) -> None:
    url, _ = live
    sio = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(url, namespaces=["/console"], headers={"Cookie": "cskh_hub_session=forged"},
                    transports=["polling"], wait_timeout=5)
