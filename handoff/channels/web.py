"""The website widget's channel: Rasa's socketio protocol on namespace `/`.

`session_request` -> `session_confirm`, `user_uttered` -> `bot_uttered` exactly as Rasa's
`SocketIOOutput` emits them, so stock Rasa widgets (rasa-webchat) connect unchanged. What our
own widget needs beyond that travels in events stock clients ignore: `hub_message` (the
whole customer view of a message: id, role, agent name, notice), `hub_ack` (the state after a
message, also when nobody answers), `hub_typing` and `hub_error`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeGuard

import socketio

from ..core import sessions
from ..core.copy_vi import error_text
from ..core.views import ConversationView, CustomerMessage
from ..errors import HubError
from ..inputs import InputError, clean_message_id, clean_text
from ..realtime.server import client_ip
from .base import InboundMessage, OutboundMessage

if TYPE_CHECKING:
    from ..core.hub import Hub

log = logging.getLogger(__name__)

NAME = "web"
CUSTOMER_NS = "/"


def bot_uttered(message: CustomerMessage) -> list[dict[str, Any]]:
    """The `bot_uttered` payloads Rasa's `SocketIOOutput` would emit for one hub message.

    Exactly Rasa's shapes, nothing added: rasa-webchat renders a payload only when its keys
    are exactly theirs. Like Rasa, text is split at blank lines into several bubbles and the
    buttons ride on the last one.
    """
    payloads: list[dict[str, Any]] = []
    text = message.text
    if text.strip() or message.buttons:
        parts = [p for p in text.strip().split("\n\n") if p] or [text]
        if message.buttons:
            # Rasa's send_text_with_buttons: every part has the key, the last one the buttons.
            payloads = [{"text": part, "quick_replies": []} for part in parts]
            payloads[-1]["quick_replies"] = [
                {"content_type": "text", "title": b.title, "payload": b.payload}
                for b in message.buttons
            ]
        else:
            payloads = [{"text": part} for part in parts]
    if message.attachment is not None:
        payloads.append({"attachment": message.attachment})
    if message.custom is not None:
        payloads.append(message.custom)
    return payloads


class WebChannel:
    """The socket.io customer namespace: inbound handlers and outbound pushes."""

    name = NAME
    replies_inline = True  # answers go back over the customer's own socket at once

    def __init__(self, sio: socketio.AsyncServer, get_hub: Callable[[], Hub]) -> None:
        self.sio = sio
        self._get_hub = get_hub
        self._register()

    async def deliver(self, message: OutboundMessage) -> None:
        # A customer who is offline or reconnecting misses the push but reads the message
        # from history when the widget reconnects (it re-renders from the server's truth).
        await self.emit(message.recipient_id, message.message)

    async def emit(self, room: str, message: CustomerMessage) -> None:
        for payload in bot_uttered(message):
            await self.sio.emit("bot_uttered", payload, room=room, namespace=CUSTOMER_NS)
        await self.sio.emit(
            "hub_message", message.model_dump(mode="json"), room=room, namespace=CUSTOMER_NS
        )

    async def typing(self, conv: ConversationView, on: bool) -> None:
        if conv.channel == NAME:
            await self.sio.emit(
                "hub_typing", {"who": "agent", "on": on}, room=conv.external_id,
                namespace=CUSTOMER_NS,
            )

    async def _error(self, sid: str, code: str, params: dict[str, Any] | None = None) -> None:
        await self.sio.emit(
            "hub_error",
            {"error": code, "detail": error_text(code, params)},
            to=sid,
            namespace=CUSTOMER_NS,
        )

    def _valid(self, session_id: object) -> TypeGuard[str]:
        return sessions.valid(self._get_hub().settings.effective_secret_key, session_id)

    def _ip(self, sid: str) -> str | None:
        try:
            return client_ip(self.sio.get_environ(sid, namespace=CUSTOMER_NS) or {})
        except KeyError:
            return None

    def _register(self) -> None:
        sio = self.sio

        # Rasa's protocol sends one argument; socket.io lets a client send none or several,
        # and a handler that cannot take them raises before it could answer.
        @sio.on("session_request", namespace=CUSTOMER_NS)
        async def session_request(sid: str, data: Any = None, *extra: Any) -> None:
            readable = isinstance(data, dict) and not extra
            requested = data.get("session_id") if readable else None
            hub = self._get_hub()
            if not self._valid(requested):
                # Not one the hub issued (or expired): a new conversation, never someone
                # else's.
                try:
                    await hub.admit_session(self._ip(sid))
                except HubError as exc:
                    await self._error(sid, exc.code, exc.params)
                    return
                settings = hub.settings
                requested = sessions.issue(
                    settings.effective_secret_key, settings.widget_session_days * 86400
                )
            await sio.enter_room(sid, requested, namespace=CUSTOMER_NS)
            await sio.save_session(sid, {"session_id": requested}, namespace=CUSTOMER_NS)
            await sio.emit("session_confirm", requested, to=sid, namespace=CUSTOMER_NS)

        @sio.on("user_uttered", namespace=CUSTOMER_NS)
        async def user_uttered(sid: str, data: Any = None, *extra: Any) -> None:
            if extra or not isinstance(data, dict):
                await self._error(sid, "invalid_socket_payload")
                return
            session = await sio.get_session(sid, namespace=CUSTOMER_NS)
            session_id = data.get("session_id") or session.get("session_id")
            if not self._valid(session_id):
                await self._error(sid, "no_session")
                return
            if session.get("session_id") != session_id:
                # Rasa lets a socket speak for any session it names; join its room so replies
                # reach this socket as they would with Rasa.
                await sio.enter_room(sid, session_id, namespace=CUSTOMER_NS)
                await sio.save_session(sid, {"session_id": session_id}, namespace=CUSTOMER_NS)
            hub = self._get_hub()
            try:
                text = clean_text(data.get("message"), hub.settings.max_message_chars)
                message_id = clean_message_id(data.get("message_id"))
            except InputError as exc:
                await self._error(sid, exc.code, exc.params)
                return
            custom = data.get("customData") or data.get("metadata") or {}
            inbound = InboundMessage(
                channel=NAME,
                sender_id=session_id,
                text=text,
                message_id=message_id,
                metadata=custom if isinstance(custom, dict) else {},
                rate_limited=True,
                client_ip=self._ip(sid),
            )
            try:
                result = await hub.customer_message(inbound)
            except HubError as exc:
                await self._error(sid, exc.code, exc.params)
                return
            except Exception:
                # The widget shows "typing" until something arrives: never leave it hanging.
                log.exception("customer message failed (session %s)", session_id)
                await self._error(sid, "internal_error")
                return
            for reply in result.replies:
                await self.emit(session_id, reply)
            # Lets the widget turn its typing indicator off even when nobody replies
            # (a person owns the conversation and has not answered yet).
            await sio.emit(
                "hub_ack", {"state": result.conversation.state}, to=sid, namespace=CUSTOMER_NS
            )
