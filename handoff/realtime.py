"""socket.io: the customer channel (Rasa's socketio protocol) and the live agent console.

Namespace `/` speaks Rasa's socketio channel exactly (`session_request` ->
`session_confirm`, `user_uttered` -> `bot_uttered`), so stock Rasa web widgets connect
unchanged; extra hub fields ride in a `hub` key they ignore. Namespace `/console` is for
logged-in agents only (session cookie checked on connect).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import uuid4

import socketio

from .inputs import InputError, clean_text
from .models import AWAY, ONLINE
from .service import run_sync
from .store import AgentInfo, HubError

if TYPE_CHECKING:
    from .service import Hub

log = logging.getLogger(__name__)

CUSTOMER_NS = "/"
CONSOLE_NS = "/console"
AGENTS_ROOM = "agents"
# Session ids become room names and conversation keys; unguessable ids come from the client
# library (uuid hex) but anything odd is replaced rather than trusted.
SESSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")

OutboundSender = Callable[[dict[str, Any], list[dict[str, Any]]], Awaitable[None]]


def bot_uttered(message: dict[str, Any]) -> dict[str, Any]:
    """A hub message in the shape Rasa's SocketIOOutput emits."""
    payload: dict[str, Any] = {"text": message["text"]}
    if message.get("buttons"):
        payload["quick_replies"] = [
            {"content_type": "text", "title": b["title"], "payload": b["payload"]}
            for b in message["buttons"]
        ]
    payload["hub"] = {
        "id": message.get("id"),
        "role": message.get("role"),
        "notice": message.get("notice"),
        "agent_name": message.get("agent_name"),
        "created_at": message.get("created_at"),
    }
    return payload


class Realtime:
    """Owns the socket.io server; implements the hub's `Notifier`."""

    def __init__(
        self,
        get_hub: Callable[[], Hub],
        cookie_name: str,
        cors_origins: str,
        max_bytes: int,
        ping_interval: float = 25.0,
    ) -> None:
        allowed = {o.strip() for o in cors_origins.split(",") if o.strip()}

        def origins(origin: str | None, environ: dict[str, Any]) -> bool:
            # The widget's host sites, plus the hub's own pages (console, chat page), which a
            # plain allow-list would lock out.
            return "*" in allowed or origin in allowed or _same_origin(environ)

        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            cors_allowed_origins=origins,
            max_http_buffer_size=max_bytes,
            ping_interval=ping_interval,
            # Dead peers are noticed within interval + timeout; keep the ratio of the defaults.
            ping_timeout=max(1.0, ping_interval * 0.8),
            logger=False,
            engineio_logger=False,
        )
        self._get_hub = get_hub
        self._cookie_name = cookie_name
        self._agents: Counter[int] = Counter()  # agent id -> open console sockets
        # Agents set `away` because their last socket closed (not by their own choice): a new
        # console socket puts them back `online`. Serialised so a page reload cannot
        # interleave its disconnect and connect and leave a connected agent away.
        self._auto_away: set[int] = set()
        self._presence_lock = asyncio.Lock()
        self.outbound: dict[str, OutboundSender] = {}
        self._register()

    # ------------------------------------------------------------- Notifier
    async def to_customer(self, conv: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        if conv["channel"] == "web":
            for m in messages:
                await self.sio.emit(
                    "bot_uttered", bot_uttered(m), room=conv["external_id"], namespace=CUSTOMER_NS
                )
            return
        sender = self.outbound.get(conv["channel"])
        if sender is not None:
            await sender(conv, messages)
        # The REST channel has no push: those clients read /api/conversations/.../history.

    async def to_console(self, event: str, data: dict[str, Any]) -> None:
        await self.sio.emit(event, data, room=AGENTS_ROOM, namespace=CONSOLE_NS)

    def agents_online(self) -> int:
        return sum(1 for n in self._agents.values() if n > 0)

    async def customer_typing(self, conv: dict[str, Any], on: bool) -> None:
        if conv["channel"] == "web":
            await self.sio.emit(
                "hub_typing",
                {"who": "agent", "on": on},
                room=conv["external_id"],
                namespace=CUSTOMER_NS,
            )

    # ------------------------------------------------------------- handlers
    def _register(self) -> None:
        sio = self.sio

        @sio.on("session_request", namespace=CUSTOMER_NS)
        async def session_request(sid: str, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            if not isinstance(requested, str) or not SESSION_ID_RE.match(requested):
                requested = uuid4().hex
            await sio.enter_room(sid, requested, namespace=CUSTOMER_NS)
            await sio.save_session(sid, {"session_id": requested}, namespace=CUSTOMER_NS)
            await sio.emit("session_confirm", requested, to=sid, namespace=CUSTOMER_NS)

        @sio.on("user_uttered", namespace=CUSTOMER_NS)
        async def user_uttered(sid: str, data: Any) -> None:
            if not isinstance(data, dict):
                await self._customer_error(sid, "invalid_payload", "Dữ liệu gửi lên không hợp lệ.")
                return
            session = await sio.get_session(sid, namespace=CUSTOMER_NS)
            session_id = data.get("session_id") or session.get("session_id")
            if not isinstance(session_id, str) or not SESSION_ID_RE.match(session_id):
                await self._customer_error(sid, "no_session", "Thiếu mã phiên (session_id).")
                return
            if session.get("session_id") != session_id:
                # Rasa lets a socket speak for any session it names; join its room so replies
                # reach this socket as they would with Rasa.
                await sio.enter_room(sid, session_id, namespace=CUSTOMER_NS)
                await sio.save_session(sid, {"session_id": session_id}, namespace=CUSTOMER_NS)
            hub = self._get_hub()
            try:
                text = clean_text(data.get("message"), hub.settings.max_message_chars)
            except InputError as exc:
                await self._customer_error(sid, exc.code, exc.message)
                return
            custom = data.get("customData") or data.get("metadata") or {}
            metadata = custom if isinstance(custom, dict) else {}
            message_id = data.get("message_id")
            try:
                conv, replies = await hub.handle_customer_message(
                    "web",
                    session_id,
                    text,
                    metadata,
                    str(message_id)[:128] if message_id else None,
                )
            except HubError as exc:
                await self._customer_error(sid, exc.code, exc.message)
                return
            for r in replies:
                await sio.emit(
                    "bot_uttered", bot_uttered(r), room=session_id, namespace=CUSTOMER_NS
                )
            # Lets the widget turn its typing indicator off even when nobody replies
            # (a person owns the conversation and has not answered yet).
            await sio.emit("hub_ack", {"state": conv["state"]}, to=sid, namespace=CUSTOMER_NS)

        @sio.on("connect", namespace=CONSOLE_NS)
        async def console_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            if not _same_origin(environ):
                raise socketio.exceptions.ConnectionRefusedError("origin not allowed")
            token = _cookie(environ, self._cookie_name)
            hub = self._get_hub()
            agent = await run_sync(hub.store.session_agent, token) if token else None
            if agent is None:
                raise socketio.exceptions.ConnectionRefusedError("unauthorized")
            await sio.save_session(sid, {"agent": agent}, namespace=CONSOLE_NS)
            await sio.enter_room(sid, AGENTS_ROOM, namespace=CONSOLE_NS)
            async with self._presence_lock:
                self._agents[agent.id] += 1
                if agent.id in self._auto_away:
                    self._auto_away.discard(agent.id)
                    await self._set_status(agent.id, ONLINE, only_if=AWAY)
            await self.to_console("presence", {"online": self.agents_online()})

        @sio.on("disconnect", namespace=CONSOLE_NS)
        async def console_disconnect(sid: str, *args: Any) -> None:
            try:
                session = await sio.get_session(sid, namespace=CONSOLE_NS)
            except KeyError:
                return
            agent: AgentInfo | None = session.get("agent")
            if agent is not None:
                async with self._presence_lock:
                    self._agents[agent.id] -= 1
                    if self._agents[agent.id] <= 0:
                        del self._agents[agent.id]
                        # No console open any more: nobody can answer, so no new claims.
                        if await self._set_status(agent.id, AWAY, only_if=ONLINE):
                            self._auto_away.add(agent.id)
            await self.to_console("presence", {"online": self.agents_online()})

        @sio.on("typing", namespace=CONSOLE_NS)
        async def console_typing(sid: str, data: Any) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("conversation_id"), str):
                return
            session = await sio.get_session(sid, namespace=CONSOLE_NS)
            agent: AgentInfo = session["agent"]
            hub = self._get_hub()
            try:
                conv = await run_sync(hub.store.get_conversation, data["conversation_id"])
            except HubError:
                return
            owner = conv.get("assigned_agent") or {}
            if conv["state"] == "assigned" and (owner.get("id") == agent.id or agent.is_supervisor):
                await self.customer_typing(conv, bool(data.get("on")))

    async def _set_status(self, agent_id: int, status: str, *, only_if: str) -> bool:
        """Set an agent's status if it is currently `only_if`; True when it changed."""
        try:
            store = self._get_hub().store
            current = await run_sync(store.agent_status, agent_id)
            if current["status"] != only_if:
                return False
            await run_sync(store.set_status, agent_id, status)
        except Exception:
            log.warning("could not set agent %s %s", agent_id, status, exc_info=True)
            return False
        await self.to_console("agent_status", {"agent_id": agent_id, "status": status})
        return True

    async def _customer_error(self, sid: str, code: str, message: str) -> None:
        await self.sio.emit(
            "hub_error", {"error": code, "detail": message}, to=sid, namespace=CUSTOMER_NS
        )


def _cookie(environ: dict[str, Any], name: str) -> str | None:
    raw = environ.get("HTTP_COOKIE")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def _same_origin(environ: dict[str, Any]) -> bool:
    """The console socket carries the login cookie: refuse cross-site pages (CSWSH)."""
    origin = environ.get("HTTP_ORIGIN")
    if not origin:
        return True  # non-browser clients send no Origin and have no ambient cookie
    host = environ.get("HTTP_HOST", "")
    return urlsplit(origin).netloc == host
