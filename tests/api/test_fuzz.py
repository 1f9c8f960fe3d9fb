"""Fuzzing the hub's two public surfaces, on SQLite, seeded so a failure replays in CI.

HTTP: schemathesis generates requests from the hub's own `/openapi.json` (valid and invalid
ones, anonymous and logged in) against a live server; every answer must be a documented
status with a body that matches its documented schema, and never a 5xx.

socket.io: every event a handler is registered for gets random and hand-picked hostile
payloads; each must be answered (`hub_error` for the bad ones), the handler must finish
(socket.io acks only after it returned) and, afterwards, a customer and the console must
still work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
import socketio
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from handoff.app import create_app
from handoff.core import sessions
from handoff.settings import HubSettings

from .support import ALWAYS_OPEN, FAST_HEARTBEAT, CannedRasa, KeywordTriage, LiveServer

# ============================================================================ shared
PASSWORD = "mat-khau-fuzz"
CSRF = {"X-Requested-With": "cskh"}


def fuzz_settings(database_url: str = "sqlite://") -> HubSettings:
    return HubSettings(
        database_url=database_url,
        business_hours=ALWAYS_OPEN,
        business_days="1-7",
        session_hours=1,
        **FAST_HEARTBEAT,
        # All fuzz traffic comes from one loopback address and a few senders: the limits
        # would turn most cases into 429s and lock the test's own logins out.
        rate_messages_per_session_per_minute=100_000,
        rate_messages_per_ip_per_minute=100_000,
        rate_sessions_per_ip_per_minute=100_000,
        rate_handoffs_per_ip_per_hour=100_000,
        login_failures_per_ip=100_000,
    )


@dataclass
class LiveHub:
    """A hub served by uvicorn in a thread (support.LiveServer), with its own SQLite file."""

    url: str
    app: Any
    settings: HubSettings
    server: LiveServer

    def create_agent(self, username: str, role: str) -> None:
        self.app.state.hub.accounts.create_agent(username, PASSWORD, username.title(), role)

    def stop(self) -> None:
        self.server.stop()


class WireRasa(CannedRasa):
    """CannedRasa that first encodes the request as HttpRasaClient's httpx does (strict JSON,
    UTF-8): what the real bot could not be sent fails here too, not only in production."""

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        payload = {"sender": sender, "message": message, "metadata": metadata}
        json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")
        return await super().send(sender, message, metadata)


def start_hub(tmp: Path) -> LiveHub:
    settings = fuzz_settings(f"sqlite:///{tmp / 'hub.db'}")
    app = create_app(settings, rasa=WireRasa(), triage=KeywordTriage())
    server = LiveServer(app).start()
    return LiveHub(server.url, app, settings, server)


# ================================================================= HTTP: schemathesis
# Read at collection from an app that is never started (create_app does no I/O), so each
# operation is its own test; the served document is checked to be the same.
def operation_labels(document: dict[str, Any]) -> list[str]:
    return sorted(
        f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops
    )


DOCUMENT = create_app(fuzz_settings()).openapi()
LABELS = operation_labels(DOCUMENT)
# Operations with an input that a request can violate: a body, or a parameter with a
# pattern (any string satisfies a bare string parameter).
REFUTABLE = {
    f"{method.upper()} {path}"
    for path, ops in DOCUMENT["paths"].items()
    for method, op in ops.items()
    if "requestBody" in op or any("pattern" in p["schema"] for p in op.get("parameters", []))
}
SCHEMATHESIS = schemathesis.Config.from_dict(
    {
        "checks": {
            # Off: it wants every schema-valid request answered 2xx, but the hub checks texts
            # further than JSON Schema can say (whitespace only, control characters, lone
            # surrogates: inputs.clean_text) and answers those with a documented 4xx, which
            # the status and body checks still hold to the document.
            "positive_data_acceptance": {"enabled": False},
        }
    }
)
# Who sends each generated request: the console's routes must hold up for every role,
# and refuse the anonymous with a documented answer.
IDENTITIES = ("anonymous", "agent", "supervisor")


@dataclass
class HttpHub:
    hub: LiveHub
    schema: Any
    sessions: dict[str, requests.Session]
    conversation_ids: list[str]

    def login(self, username: str) -> requests.Session:
        s = requests.Session()
        r = s.post(
            f"{self.hub.url}/api/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        s.headers.update(CSRF)
        return s


@pytest.fixture(scope="module")
def http_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpHub]:
    hub = start_hub(tmp_path_factory.mktemp("http-fuzz"))
    try:
        hub.create_agent("lan", "agent")
        hub.create_agent("sep", "supervisor")
        # Conversations in the queue, so generated console calls also reach real ones
        # (claim, reply, transfer...) and not only 404s.
        for n in range(3):
            r = httpx.post(
                f"{hub.url}/webhooks/rest/webhook",
                json={"sender": f"khach-{n}", "message": "cho mình gặp người thật"},
            )
            assert r.status_code == 200, r.text
        schema = schemathesis.openapi.from_url(f"{hub.url}/openapi.json", config=SCHEMATHESIS)
        assert operation_labels(schema.raw_schema) == LABELS
        placeholder = HttpHub(hub, schema, {}, [])
        sup = placeholder.login("sep")
        queue = sup.get(f"{hub.url}/api/console/queue").json()["queue"]
        ids = [c["id"] for c in queue]
        assert len(ids) == 3
        yield HttpHub(
            hub,
            schema,
            {"anonymous": requests.Session(), "agent": placeholder.login("lan"),
             "supervisor": sup},
            ids,
        )
    finally:
        hub.stop()


CASES = [
    pytest.param(label, mode, id=f"{label}-{mode.value}")
    for label in LABELS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or label in REFUTABLE
]


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_http_operation_conforms_to_its_schema(
    http_hub: HttpHub, label: str, mode: GenerationMode
) -> None:
    method, path = label.split(" ", 1)
    operation = http_hub.schema[path][method]

    @hypothesis_settings(
        max_examples=50,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        who=st.sampled_from(IDENTITIES),
        existing=st.sampled_from([None, *http_hub.conversation_ids]),
    )
    def run(case: Any, who: str, existing: str | None) -> None:
        # A negative case may be negative through its path: keep what was generated.
        if existing and mode is GenerationMode.POSITIVE and "cid" in (case.path_parameters or {}):
            case.path_parameters["cid"] = existing
        session = http_hub.sessions[who]
        if who == "anonymous":
            # A generated login that happens to succeed must not turn the anonymous
            # caller into an agent for the cases after it.
            session.cookies.clear()
        elif label == "POST /api/auth/logout":
            # Logging out the shared session would leave every later case anonymous.
            session = http_hub.login("lan" if who == "agent" else "sep")
        case.call_and_validate(session=session)

    run()


# ============================================================== socket.io: payloads
# Everything a client can put in one socket.io argument, and then some: JSON's types,
# Python-only floats the client's encoder still writes, lone surrogates, NUL and other
# control characters, bidi overrides, text past the hub's caps, deep and wide nesting.
NASTY_STRINGS: list[str] = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "xin\ud800chào",
    "\u202e\u200b",
    "\x1b[31m",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "'; DROP TABLE messages; --",
    "🤦‍♀️",
    "x" * 5001,  # max_message_chars + 1
    "y" * 30_000,
    "0",
    "null",
    "a" * sessions.LENGTH,  # shaped like a session id, not signed
]
NASTY_SCALARS: list[Any] = [
    None, True, False, 0, -1, 1.5, 2**63, -(2**70), float("inf"), float("nan"), *NASTY_STRINGS
]
# Metadata a page could attach: the keys the hub keeps (settings.client_metadata_keys) with
# values strict JSON cannot carry, the keys only the hub may set, and sizes past its cap.
CLIENT_METADATA: list[dict[str, Any]] = [
    {"timestamp": float("nan")},
    {"timestamp": float("-inf")},
    {"timestamp": 2**80},
    {"language": "\ud800"},
    {"locale": "vi\x00VN"},
    {"page_url": "https://shop.vn/" + "a" * 30_000},
    {"page_title": ["Giỏ hàng"]},
    {"cskh_query_vector": {"model": "forged", "b64": "AAAA"}, "cskh_message_id": 1},
    {key: "x" * 600 for key in fuzz_settings().client_metadata_keys},
]
# A payload each handler accepts, to put one bad field beside.
VALID: dict[str, dict[str, Any]] = {
    "session_request": {"session_id": None},
    "user_uttered": {"message": "xin chào", "customData": {"language": "vi"}},
    "typing": {"conversation_id": "0" * 32, "on": True},
}
# Room for socket.io's framing under the hub's cap (max_http_buffer_size = max_body_bytes).
WIRE_CAP = fuzz_settings().max_body_bytes - 1024
# What the handlers read from a payload, by event.
KEYS = {
    "session_request": ("session_id",),
    "user_uttered": ("message", "session_id", "customData", "metadata", "message_id"),
    "typing": ("conversation_id", "on"),
}


def nested(depth: int) -> Any:
    value: Any = "đáy"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth >= 3 or roll < 0.55:
        return rng.choice(NASTY_SCALARS)
    if roll < 0.75:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = [*rng.sample(sorted({k for ks in KEYS.values() for k in ks}), 2), "", "\ud800", "$x"]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def wire_size(payload: Any) -> int:
    # What engine.io measures against max_http_buffer_size: the client's JSON (ASCII-escaped).
    return len(json.dumps(payload))


def random_payloads(event: str, seed: int, count: int) -> list[Any]:
    """Seeded garbage for one event: whole-payload garbage, then its known keys with every
    wrong type, then random mixes. All within the transport's cap (engine.io drops a larger
    packet before any handler sees it: test_payload_over_the_transport_cap)."""
    rng = random.Random(f"{event}:{seed}")
    keys = KEYS[event]
    out: list[Any] = [*NASTY_SCALARS, [], {}, [1, 2], nested(40), nested(400)]
    for key in keys:
        wrong = [*NASTY_SCALARS, [], {}, nested(5), {"$gt": ""}, {"\ud800": "\x00"}]
        if key in ("customData", "metadata"):
            wrong += CLIENT_METADATA
        # Alone, and beside otherwise valid fields: a handler that refuses early (no
        # message) never reaches the code that would choke on the other keys.
        out += [{key: value} for value in wrong]
        out += [{**VALID[event], key: value} for value in wrong]
    while len(out) < count:
        chosen = rng.sample(keys, rng.randint(1, len(keys)))
        payload = {key: random_value(rng) for key in chosen}
        if wire_size(payload) < WIRE_CAP:
            out.append(payload)
    rng.shuffle(out)
    return out


# ============================================================ socket.io: the peers
HUB_ERROR_KEYS = {"error", "detail"}


@dataclass
class Peer:
    """An AsyncClient that queues every event it receives, in order."""

    namespace: str = "/"
    events: tuple[str, ...] = (
        "session_confirm", "bot_uttered", "hub_message", "hub_ack", "hub_error", "hub_typing"
    )
    inbox: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)

    def __post_init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        for name in self.events:
            self.sio.on(name, self._recorder(name), namespace=self.namespace)

    def _recorder(self, name: str) -> Callable[..., Any]:
        async def record(data: Any = None) -> None:
            await self.inbox.put((name, data))

        return record

    async def connect(self, url: str, headers: dict[str, str] | None = None) -> Peer:
        await self.sio.connect(
            url, namespaces=[self.namespace], headers=headers or {},
            transports=["websocket"], wait_timeout=10,
        )
        return self

    async def send(self, event: str, payload: Any) -> None:
        """Emit and wait for the server's ack: it is sent once the handler has returned, so a
        handler that raised shows up as a timeout, and every event the handler emitted to
        this socket has arrived before it."""
        # The client's `data` is the argument list: a tuple sends its items, so a payload
        # that is itself a tuple or None is wrapped to arrive as one argument.
        await self.sio.call(event, (payload,), namespace=self.namespace, timeout=5)

    async def send_args(self, event: str, args: tuple[Any, ...]) -> None:
        """Emit with any number of arguments (none, or more than the one the protocol has)."""
        await self.sio.call(event, args, namespace=self.namespace, timeout=5)

    def drain(self) -> list[tuple[str, Any]]:
        got = []
        while not self.inbox.empty():
            got.append(self.inbox.get_nowait())
        return got

    async def expect(
        self, name: str, where: Callable[[Any], bool] = lambda _: True, timeout: float = 10
    ) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                event, data = await self.inbox.get()
                if event == name and where(data):
                    return data

    async def close(self) -> None:
        await self.sio.disconnect()


class ServerErrors(logging.Handler):
    """Errors the server logged (a handler that raised, a failed message)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class SocketHub:
    hub: LiveHub
    errors: ServerErrors

    def console_cookie(self, username: str = "sep") -> str:
        r = httpx.post(
            f"{self.hub.url}/api/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        name = self.hub.settings.session_cookie
        return f"{name}={r.cookies[name]}"


@pytest.fixture(scope="module")
def socket_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SocketHub]:
    errors = ServerErrors()
    # "asyncio": a handler that raised ends its task with an exception nobody retrieves.
    names = ("engineio.server", "socketio.server", "handoff", "asyncio")
    loggers = [logging.getLogger(n) for n in names]
    for lg in loggers:
        lg.addHandler(errors)
    hub = start_hub(tmp_path_factory.mktemp("socket-fuzz"))
    try:
        hub.create_agent("sep", "supervisor")
        yield SocketHub(hub, errors)
    finally:
        hub.stop()
        for lg in loggers:
            lg.removeHandler(errors)


def show(payload: Any) -> str:
    text = repr(payload)
    return text if len(text) < 200 else text[:200] + "..."


async def still_works(socket_hub: SocketHub) -> None:
    """After the fuzzing: a customer gets a session and a bot answer, the console hears of
    the customer asking for a person, and the agent's typing reaches the customer."""
    url = socket_hub.hub.url
    cookie = socket_hub.console_cookie()
    console = await Peer("/console", ("conversation",)).connect(url, {"Cookie": cookie})
    customer = await Peer().connect(url)
    try:
        await customer.send("session_request", {"session_id": None})
        sid = await customer.expect("session_confirm")
        await customer.send("user_uttered", {"message": "Đổi trả thế nào?", "session_id": sid})
        assert (await customer.expect("bot_uttered"))["text"] == "Trả lời: Đổi trả thế nào?"
        await customer.send("user_uttered", {"message": "cho mình gặp người thật"})
        ref = sessions.public_ref(sid)
        card = await console.expect(
            "conversation", lambda d: d["conversation"]["external_id"] == ref
        )
        cid = card["conversation"]["id"]
        async with httpx.AsyncClient(base_url=url, headers={"Cookie": cookie, **CSRF}) as http:
            r = await http.post(f"/api/console/conversations/{cid}/claim")
            assert r.status_code == 200, r.text
            await console.send("typing", {"conversation_id": cid, "on": True})
            assert await customer.expect("hub_typing") == {"who": "agent", "on": True}
            # Frees the supervisor's capacity for the next check.
            r = await http.post(f"/api/console/conversations/{cid}/resolve", json={})
            assert r.status_code == 200, r.text
    finally:
        await customer.close()
        await console.close()


# ============================================================ socket.io: the tests
SEED = 20240611


async def test_session_request_answers_every_payload(socket_hub: SocketHub) -> None:
    before = len(socket_hub.errors.records)
    peer = await Peer().connect(socket_hub.hub.url)
    try:
        for payload in random_payloads("session_request", SEED, 150):
            await peer.send("session_request", payload)
            got = peer.drain()
            # Rasa's protocol: an id the hub did not issue (or none) starts a new
            # conversation; stock widgets rely on that, so garbage is answered with a fresh,
            # signed id, never with the garbage itself.
            names = [name for name, _ in got]
            assert names == ["session_confirm"], (show(payload), got)
            fresh = got[0][1]
            assert sessions.valid(socket_hub.hub.settings.effective_secret_key, fresh)
            assert fresh != payload
            assert peer.sio.connected
        await peer.send("session_request", None)
        assert [n for n, _ in peer.drain()] == ["session_confirm"]
    finally:
        await peer.close()
    assert socket_hub.errors.records[before:] == []
    await still_works(socket_hub)


async def test_user_uttered_refuses_every_bad_payload(socket_hub: SocketHub) -> None:
    before = len(socket_hub.errors.records)
    peer = await Peer().connect(socket_hub.hub.url)
    try:
        await peer.send("session_request", {})
        await peer.expect("session_confirm")
        accepted_ids: set[str] = set()
        for payload in random_payloads("user_uttered", SEED, 250):
            await peer.send("user_uttered", payload)
            got = peer.drain()
            terminal = [(n, d) for n, d in got if n in ("hub_error", "hub_ack")]
            assert len(terminal) == 1, (show(payload), got)
            name, data = terminal[0]
            answered = any(n == "bot_uttered" for n, _ in got)
            if name == "hub_error":
                assert set(data) == HUB_ERROR_KEYS, data
                assert isinstance(data["detail"], str) and data["detail"], data
                # An internal_error is a crash the handler caught, not a refusal.
                assert data["error"] != "internal_error", show(payload)
                if not isinstance(payload, dict):
                    assert data["error"] == "invalid_socket_payload", show(payload)
                assert not answered, show(payload)
            else:
                # Accepted: only a real text, answered by the bot once per message id (a
                # redelivery is acknowledged, not answered again).
                assert isinstance(payload, dict), show(payload)
                assert isinstance(payload.get("message"), str), show(payload)
                raw_id = payload.get("message_id")
                message_id = None if raw_id in (None, "") else str(raw_id).strip()
                assert answered == (message_id not in accepted_ids), (show(payload), got)
                if message_id is not None:
                    accepted_ids.add(message_id)
            assert peer.sio.connected
    finally:
        await peer.close()
    assert socket_hub.errors.records[before:] == []
    await still_works(socket_hub)


async def test_console_typing_survives_every_payload(socket_hub: SocketHub) -> None:
    before = len(socket_hub.errors.records)
    console = await Peer("/console", ("conversation", "hub_error")).connect(
        socket_hub.hub.url, {"Cookie": socket_hub.console_cookie()}
    )
    try:
        for payload in random_payloads("typing", SEED, 150):
            # Typing is a hint the console sends on every keystroke and nobody waits for:
            # a malformed one is dropped without an answer (an error per keystroke would
            # flood the agent's screen). What must hold is that the handler returns (the
            # ack arrives), nothing is logged as failed and the socket stays open.
            await console.send("typing", payload)
            assert console.sio.connected, show(payload)
    finally:
        await console.close()
    assert socket_hub.errors.records[before:] == []
    await still_works(socket_hub)


# Socket.io lets a client send an event with no argument, or with several; Rasa's protocol
# has exactly one.
ODD_ARGUMENTS: list[tuple[Any, ...]] = [(), ({"message": "xin chào"}, "thừa"), (None, None, None)]


async def test_odd_argument_counts_are_answered(socket_hub: SocketHub) -> None:
    before = len(socket_hub.errors.records)
    peer = await Peer().connect(socket_hub.hub.url)
    console = await Peer("/console", ("conversation",)).connect(
        socket_hub.hub.url, {"Cookie": socket_hub.console_cookie()}
    )
    try:
        await peer.send("session_request", {})
        await peer.expect("session_confirm")
        for args in ODD_ARGUMENTS:
            await peer.send_args("session_request", args)
            assert [n for n, _ in peer.drain()] == ["session_confirm"], args
            await peer.send_args("user_uttered", args)
            got = peer.drain()
            assert [n for n, _ in got] == ["hub_error"], (args, got)
            assert got[0][1]["error"] == "invalid_socket_payload"
            await console.send_args("typing", args)
            assert console.sio.connected and peer.sio.connected
    finally:
        await peer.close()
        await console.close()
    assert socket_hub.errors.records[before:] == []


async def test_payload_over_the_transport_cap(socket_hub: SocketHub) -> None:
    """engine.io refuses a packet above max_http_buffer_size (the hub's body cap) before
    any handler sees it, and closes that socket: the hub cannot answer what it never
    parsed. What must hold is that only that socket goes and the hub keeps serving."""
    before = len(socket_hub.errors.records)
    bystander = await Peer().connect(socket_hub.hub.url)
    peer = await Peer().connect(socket_hub.hub.url)
    try:
        huge = {"message": "x" * (socket_hub.hub.settings.max_body_bytes + 1)}
        assert wire_size(huge) > socket_hub.hub.settings.max_body_bytes
        await peer.sio.emit("user_uttered", huge)
        async with asyncio.timeout(10):
            while peer.sio.connected:
                await asyncio.sleep(0.05)
        assert peer.drain() == []
        await bystander.send("session_request", {})
        assert [n for n, _ in bystander.drain()] == ["session_confirm"]
    finally:
        await bystander.close()
        await peer.close()
    assert socket_hub.errors.records[before:] == []
    await still_works(socket_hub)


# Cookie headers a console socket may arrive with: none of them is a login.
BAD_COOKIES = [
    "",
    "cskh_hub_session=",
    "cskh_hub_session=" + "a" * 43,
    "cskh_hub_session=" + "z" * 8000,
    'cskh_hub_session="\\x00\\"; ; =; ===',
    "cskh_hub_session=%00%ff; cskh_hub_session=khac",
    "\x7f\x01=\x02",
]
CONNECT_AUTH: list[Any] = [None, {}, {"token": "\ud800"}, [1, 2], "x" * 2000, nested(30)]


async def test_console_connect_refuses_every_non_login(socket_hub: SocketHub) -> None:
    before = len(socket_hub.errors.records)
    valid = socket_hub.console_cookie()
    for cookie, auth in zip(BAD_COOKIES, CONNECT_AUTH * 2, strict=False):
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(
                socket_hub.hub.url, namespaces=["/console"], headers={"Cookie": cookie},
                auth=auth, transports=["websocket"], wait_timeout=5,
            )
        assert not client.connected, cookie
    # The auth payload carries nothing the hub reads: with a real login, any of them works.
    for auth in CONNECT_AUTH:
        console = Peer("/console", ("conversation",))
        await console.sio.connect(
            socket_hub.hub.url, namespaces=["/console"], headers={"Cookie": valid},
            auth=auth, transports=["websocket"], wait_timeout=5,
        )
        try:
            await console.send("typing", VALID["typing"])
        finally:
            await console.close()
    assert socket_hub.errors.records[before:] == []
    await still_works(socket_hub)
