"""One request-body cap for every route, enforced before the body is read past it.

An ASGI middleware, so it runs before FastAPI parses JSON or forms and before any
authentication: a 200 MB POST to the login route is refused after at most `limit` bytes,
not buffered and then rejected. A declared Content-Length above the cap is refused at once
(413); a chunked body is counted as it streams and cut at the cap. The platforms' webhooks
get their own, larger cap (Meta batches up to 1,000 messages in one signed delivery).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..core.copy_vi import error_text
from .deps import error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

WEBHOOK_PREFIXES = ("/webhooks/messenger", "/webhooks/zalo")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, limit: int, webhook_limit: int) -> None:
        self.app = app
        self.limit = limit
        self.webhook_limit = webhook_limit

    def limit_for(self, path: str) -> int:
        return self.webhook_limit if path.startswith(WEBHOOK_PREFIXES) else self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(scope, receive, send, limit)
            return
        # Read the body here, at most `limit` bytes, then replay it: no parser (FastAPI's
        # JSON, a form, engine.io) ever sees more, and a refusal is always a 413.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, None, receive), send)


def _replay(chunks: list[bytes], pending: Message | None, receive: Receive) -> Receive:
    """A `receive` that first returns the buffered body as one message, then defers."""
    body: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
    if pending is not None:
        body = [pending]

    async def replayed() -> Message:
        if body:
            return body.pop()
        return await receive()

    return replayed


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = error_response(
        413, "body_too_large", error_text("body_too_large", {"limit": limit})
    )
    # The rest of the body is never read: this connection cannot carry another request.
    response.headers["connection"] = "close"
    await response(scope, receive, send)
