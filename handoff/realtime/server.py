"""The one socket.io server of a hub process (customer namespace `/`, console `/console`)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

import socketio

from ..settings import HubSettings


def make_server(settings: HubSettings) -> socketio.AsyncServer:
    allowed = {o.strip() for o in settings.widget_origins.split(",") if o.strip()}

    def origins(origin: str | None, environ: dict[str, Any]) -> bool:
        # The widget's host sites, plus the hub's own pages (console, chat page), which a
        # plain allow-list would lock out.
        return "*" in allowed or origin in allowed or same_origin(environ)

    # With replicas, an emit to a room (a customer's session, the agents) is published on
    # Redis and every replica delivers it to the sockets it holds.
    manager = socketio.AsyncRedisManager(settings.redis_url) if settings.redis_url else None
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins=origins,
        max_http_buffer_size=settings.max_body_bytes,
        ping_interval=settings.socket_ping_interval,
        ping_timeout=settings.socket_ping_timeout,
        logger=False,
        engineio_logger=False,
    )


def cookie(environ: dict[str, Any], name: str) -> str | None:
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


def same_origin(environ: dict[str, Any]) -> bool:
    """The console socket carries the login cookie: refuse cross-site pages (CSWSH)."""
    origin = environ.get("HTTP_ORIGIN")
    if not origin:
        return True  # non-browser clients send no Origin and have no ambient cookie
    host = environ.get("HTTP_HOST", "")
    return urlsplit(origin).netloc == host


def client_ip(environ: dict[str, Any]) -> str | None:
    """The peer's address as the ASGI server saw it (uvicorn applies X-Forwarded-For from
    trusted proxies); engine.io's own REMOTE_ADDR is a constant."""
    scope = environ.get("asgi.scope") or {}
    client = scope.get("client")
    return str(client[0]) if client else None
