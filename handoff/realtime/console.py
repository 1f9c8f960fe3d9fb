"""The agents' live console (socket.io namespace `/console`): logged-in agents only.

Pushes: `conversation` (a card changed, with the messages it gained), `delivery` (an
outbound message's delivery state), `presence`, `agent_status`. Receives: `typing`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import socketio

from ..auth import token_hash
from ..core.background import cancel_and_wait
from ..core.views import AgentInfo, ConversationView
from ..store.models import CONVERSATION_ID_PATTERN
from .server import cookie, same_origin

if TYPE_CHECKING:
    from ..core.hub import Hub

log = logging.getLogger(__name__)

CONSOLE_NS = "/console"
AGENTS_ROOM = "agents"
# Anything else names no conversation, and looking it up could fail in the database driver
# instead (a lone surrogate, a NUL).
_CONVERSATION_ID = re.compile(CONVERSATION_ID_PATTERN)

Typing = Callable[[ConversationView, bool], Awaitable[None]]


class ConsoleGateway:
    """Implements the core's ConsoleNotifier over socket.io."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        get_hub: Callable[[], Hub],
        cookie_name: str,
        typing: Typing,
    ) -> None:
        self.sio = sio
        self._get_hub = get_hub
        self._cookie_name = cookie_name
        self._typing = typing
        # Console socket id -> hash of the login session it was opened with.
        self._logins: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._register()

    async def to_console(self, event: str, data: dict[str, Any]) -> None:
        await self.sio.emit(event, data, room=AGENTS_ROOM, namespace=CONSOLE_NS)

    async def end_login(self, token_hash: str) -> None:
        for sid in [s for s, h in self._logins.items() if h == token_hash]:
            await self.sio.disconnect(sid, namespace=CONSOLE_NS)

    async def check_logins(self) -> int:
        """Disconnect this replica's console sockets whose login ended anywhere (logout on
        another replica, account disabled, password changed, expiry); how many."""
        if not self._logins:
            return 0
        live = await self._get_hub().live_logins(set(self._logins.values()))
        ended = [sid for sid, h in self._logins.items() if h not in live]
        for sid in ended:
            await self.sio.disconnect(sid, namespace=CONSOLE_NS)
        return len(ended)

    async def _check_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check_logins()
            except Exception:
                log.warning("console session check failed", exc_info=True)

    def start(self, interval: float) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._check_loop(interval))

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def _register(self) -> None:
        sio = self.sio

        @sio.on("connect", namespace=CONSOLE_NS)
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            if not same_origin(environ):
                raise socketio.exceptions.ConnectionRefusedError("origin not allowed")
            token = cookie(environ, self._cookie_name)
            hub = self._get_hub()
            agent = await hub.session_agent(token) if token else None
            if agent is None or token is None:
                raise socketio.exceptions.ConnectionRefusedError("unauthorized")
            await sio.save_session(sid, {"agent": agent}, namespace=CONSOLE_NS)
            self._logins[sid] = token_hash(token)
            await sio.enter_room(sid, AGENTS_ROOM, namespace=CONSOLE_NS)
            await hub.agent_connected(agent)

        @sio.on("disconnect", namespace=CONSOLE_NS)
        async def disconnect(sid: str, *args: Any) -> None:
            self._logins.pop(sid, None)
            try:
                session = await sio.get_session(sid, namespace=CONSOLE_NS)
            except KeyError:
                return
            agent: AgentInfo | None = session.get("agent")
            if agent is not None:
                await self._get_hub().agent_disconnected(agent)

        # A hint sent on every keystroke that nobody waits for: a malformed one is dropped
        # without an answer. Socket.io lets a client send no argument or several.
        @sio.on("typing", namespace=CONSOLE_NS)
        async def typing(sid: str, data: Any = None, *extra: Any) -> None:
            if extra or not isinstance(data, dict):
                return
            cid = data.get("conversation_id")
            if not isinstance(cid, str) or not _CONVERSATION_ID.fullmatch(cid):
                return
            session = await sio.get_session(sid, namespace=CONSOLE_NS)
            conv = await self._get_hub().may_type(cid, session["agent"])
            if conv is not None:
                await self._typing(conv, bool(data.get("on")))
