"""Part 2: Rasa's socketio channel protocol, over a real uvicorn server and socket.io client."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import socketio

from handoff.app import create_app
from handoff.core import sessions
from handoff.settings import HubSettings

from .support import FAST_HEARTBEAT, CannedRasa, KeywordTriage, LiveServer


@pytest.fixture
def live_hub(settings: HubSettings) -> Iterator[str]:
    # A short heartbeat: the polling client's disconnect waits for the current long-poll.
    settings = settings.model_copy(update=FAST_HEARTBEAT)
    server = LiveServer(create_app(settings, rasa=CannedRasa(), triage=KeywordTriage())).start()
    yield server.url
    server.stop()


class Customer:
    """A socket.io client behaving like a Rasa web widget."""

    def __init__(self, url: str) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        for name in (
            "session_confirm", "bot_uttered", "hub_message", "hub_ack", "hub_error", "hub_typing"
        ):
            self.sio.on(name, self._recorder(name))
        # Polling keeps the test free of a websocket client dependency; the browser tests
        # cover the websocket transport.
        self.sio.connect(url, transports=["polling"], wait_timeout=10)

    def _recorder(self, name: str) -> Any:
        def record(data: Any = None) -> None:
            self.events.put((name, data))

        return record

    def expect(self, name: str, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {name} event")
            event, data = self.events.get(timeout=remaining)
            if event == name:
                return data

    def close(self) -> None:
        self.sio.disconnect()


def test_rasa_socketio_protocol(live_hub: str) -> None:
    customer = Customer(live_hub)
    try:
        customer.sio.emit("session_request", {"session_id": None})
        session_id = customer.expect("session_confirm")
        assert isinstance(session_id, str) and len(session_id) == sessions.LENGTH

        customer.sio.emit("user_uttered", {"message": "Đổi trả thế nào?", "session_id": session_id})
        reply = customer.expect("bot_uttered")
        # Exactly what Rasa's SocketIOOutput emits for a text with buttons: stock widgets
        # (rasa-webchat) render nothing when a payload carries any other key.
        assert reply == {
            "text": "Trả lời: Đổi trả thế nào?",
            "quick_replies": [
                {"content_type": "text", "title": "Có", "payload": "/feedback_helpful"},
                {"content_type": "text", "title": "Không", "payload": "/feedback_not_helpful"},
            ],
        }
        # Our own widget's event carries the rest, and never the hub-only metadata.
        ours = customer.expect("hub_message")
        assert ours["role"] == "bot" and isinstance(ours["id"], int)
        assert ours["text"] == reply["text"] and len(ours["buttons"]) == 2
        assert "cskh_meta" not in str(ours) and "sentiment" not in ours
        assert customer.expect("hub_ack")["state"] == "bot"

        customer.sio.emit("user_uttered", {"message": "  ", "session_id": session_id})
        assert customer.expect("hub_error")["error"] == "empty_message"
    finally:
        customer.close()

    # A reload: same session id, history restored over HTTP.
    again = Customer(live_hub)
    try:
        again.sio.emit("session_request", {"session_id": session_id})
        assert again.expect("session_confirm") == session_id
        hist = httpx.get(f"{live_hub}/api/conversations/{session_id}/history").json()
        assert [m["role"] for m in hist["messages"]] == ["user", "bot"]
    finally:
        again.close()


def test_two_tabs_of_one_session_both_receive(live_hub: str) -> None:
    tab1, tab2 = Customer(live_hub), Customer(live_hub)
    try:
        tab1.sio.emit("session_request", {})
        sid = tab1.expect("session_confirm")
        tab2.sio.emit("session_request", {"session_id": sid})
        assert tab2.expect("session_confirm") == sid
        tab1.sio.emit("user_uttered", {"message": "xin chào", "session_id": sid})
        assert tab1.expect("bot_uttered")["text"] == "Trả lời: xin chào"
        assert tab2.expect("bot_uttered")["text"] == "Trả lời: xin chào"
    finally:
        tab1.close()
        tab2.close()


def test_bad_session_id_is_replaced(live_hub: str) -> None:
    c = Customer(live_hub)
    try:
        c.sio.emit("session_request", {"session_id": "../../etc<script>"})
        sid = c.expect("session_confirm")
        assert sid != "../../etc<script>" and len(sid) == sessions.LENGTH
    finally:
        c.close()


def test_console_socket_requires_login(live_hub: str) -> None:
    sio = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(live_hub, namespaces=["/console"], transports=["polling"], wait_timeout=5)


def test_a_session_id_the_hub_did_not_issue_opens_nothing(
    live_hub: str, settings: HubSettings
) -> None:
    key = settings.effective_secret_key
    forged = "a" * sessions.LENGTH
    expired = sessions.issue(key, ttl_seconds=-1)
    other_hub = sessions.issue("another-hub-secret", ttl_seconds=3600)
    for guessed in (forged, expired, other_hub):
        c = Customer(live_hub)
        try:
            c.sio.emit("session_request", {"session_id": guessed})
            fresh = c.expect("session_confirm")
            assert fresh != guessed and sessions.valid(key, fresh)
            # Speaking for it directly is refused too, and nothing is stored.
            c.sio.emit("user_uttered", {"message": "xin chào", "session_id": guessed})
            assert c.expect("hub_error")["error"] == "no_session"
        finally:
            c.close()
        hist = httpx.get(f"{live_hub}/api/conversations/{guessed}/history").json()
        assert hist["messages"] == []


class StallingRasa(CannedRasa):
    """Blocks the hub's event loop while it answers, as a loaded machine can for a moment."""

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if message == "chậm":
            time.sleep(2.5)  # deliberately blocking: nothing else on the loop runs meanwhile
        return await super().send(sender, message, metadata)


def test_a_stalled_hub_keeps_the_customer_socket(settings: HubSettings) -> None:
    """A heartbeat answered late because the hub's loop stalled does not close a live
    socket: the CI run where it did lost the customer's next message (no hub_ack)."""
    fast = settings.model_copy(update=FAST_HEARTBEAT)
    server = LiveServer(create_app(fast, rasa=StallingRasa(), triage=KeywordTriage())).start()
    customer = Customer(server.url)
    try:
        customer.sio.emit("session_request", {})
        session_id = customer.expect("session_confirm")
        time.sleep(1.2)  # a heartbeat is due while the loop is stalled
        customer.sio.emit("user_uttered", {"message": "chậm", "session_id": session_id})
        customer.expect("hub_ack")
        time.sleep(1.5)
        customer.sio.emit("user_uttered", {"message": "còn đó không", "session_id": session_id})
        assert customer.expect("bot_uttered")["text"] == "Trả lời: còn đó không"
        assert customer.sio.connected
    finally:
        customer.close()
        server.stop()
