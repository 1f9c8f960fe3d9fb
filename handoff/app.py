"""`create_app(settings)`: the hub's FastAPI application (HTTP + socket.io). Wiring only.

Nothing here does I/O at import. The lifespan migrates the database, loads the triage
models once and starts the outbox delivery worker; tests pass their own `RasaClient` /
`Triage`, or extra channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from cskh.paths import DEFAULT_INDEX_DIR

from .api import auth, console, public, reports
from .api.body_limit import BodySizeLimit
from .api.deps import install_error_handlers
from .batching import MicroBatcher
from .channels import messenger, rest, zalo
from .channels.base import Channel
from .channels.web import WebChannel
from .core.delivery import DeliveryWorker
from .core.hub import Hub, run_sync
from .core.presence import Presence, PresencePort, RedisPresence
from .core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from .rasa import HttpRasaClient, RasaClient, RasaPool
from .realtime.console import ConsoleGateway
from .realtime.server import make_server
from .settings import HubSettings
from .store import Store
from .store.db import make_engine, migrate
from .triage_port import Triage, load_triage

log = logging.getLogger(__name__)

# Served to the pages the hub renders; all content is text-rendered by our JS anyway, the
# CSP is the second line of defence against injected markup.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

ChannelFactory = Callable[[socketio.AsyncServer, Callable[[], Hub]], Channel]


def create_app(
    settings: HubSettings | None = None,
    *,
    rasa: RasaClient | None = None,
    triage: Triage | None = None,
    channels: list[ChannelFactory] | None = None,
) -> FastAPI:
    settings = settings or HubSettings()
    sio = make_server(settings)

    def get_hub() -> Hub:
        hub: Hub | None = getattr(app.state, "hub", None)
        if hub is None:
            raise RuntimeError("hub not started (lifespan not run)")
        return hub

    web = WebChannel(sio, get_hub)
    push_channels: dict[str, Channel] = {web.name: web}
    # The platforms' channels are on when their secrets are set (`build` returns None
    # otherwise: their webhooks then answer 404). Tests may add their own.
    for build in (messenger.build, zalo.build):
        platform = build(settings, sio, get_hub)
        if platform is not None:
            push_channels[platform.name] = platform
    for factory in channels or []:
        channel = factory(sio, get_hub)
        push_channels[channel.name] = channel
    gateway = ConsoleGateway(sio, get_hub, settings.session_cookie, web.typing)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.sqlalchemy_url())
        if settings.migrate_on_start:
            await run_sync(migrate, engine)
        store = Store(engine)
        presence, limiter = _shared_state(settings)
        await presence.start()
        rasa_client = rasa or _rasa_client(settings)
        triage_impl = (
            triage if triage is not None
            else await run_sync(load_triage, settings.sentiment_model)
        )
        # Messages that arrive together are embedded as one batch (cheaper per text).
        batcher = MicroBatcher(triage_impl.analyse_many, max_batch=settings.embed_batch_size)
        hub = Hub(
            settings,
            store,
            rasa_client,
            triage_impl,
            channels=push_channels,
            console=gateway,
            analyse=batcher.submit,
            knowledge_base=lambda: _knowledge_base(app, settings),
            presence=presence,
            limiter=limiter,
        )
        worker = DeliveryWorker(store, push_channels, gateway, settings, hub.metrics)
        hub.outbox_written = worker.wake
        app.state.hub = hub
        app.state.delivery = worker
        worker.start()
        gateway.start(settings.console_login_check_seconds)
        resumer = asyncio.create_task(_resume_unanswered(hub, settings.resume_check_seconds))
        queue_news = asyncio.create_task(_queue_updates(hub, settings.queue_update_check_seconds))
        # Warm the KB for agent assist in the background: loading the embedder takes seconds
        # and must not delay start-up or the first console request.
        warm = asyncio.create_task(_knowledge_base(app, settings))
        try:
            yield
        finally:
            warm.cancel()
            resumer.cancel()
            queue_news.cancel()
            await hub.drain()  # messages being answered in the background
            await batcher.aclose()
            await worker.stop()
            await presence.stop()
            await gateway.stop()
            hub.close()
            for channel in push_channels.values():
                close = getattr(channel, "aclose", None)
                if close is not None:
                    await close()
            app.state.hub = None
            if rasa is None:
                await rasa_client.aclose()
            engine.dispose()

    app = FastAPI(title="CSKH conversation hub", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.sio = sio
    # socket.io shares the HTTP port; python-socketio matches on the full request path.
    app.mount("/socket.io", socketio.ASGIApp(sio, socketio_path="socket.io"))
    app.mount("/static", StaticFiles(directory=public.STATIC_DIR), name="static")
    install_error_handlers(app)
    _install_security_headers(app)
    app.add_middleware(
        BodySizeLimit, limit=settings.max_body_bytes, webhook_limit=settings.webhook_max_body_bytes
    )
    for router in (public.router, rest.router, auth.router, console.router, reports.router):
        app.include_router(router)
    for channel in push_channels.values():
        webhooks = getattr(channel, "router", None)
        if webhooks is not None:
            app.include_router(webhooks)
    return app


async def _resume_unanswered(hub: Hub, interval: float) -> None:
    """At start-up and then every `interval`: answer what a crash left unanswered (a replica
    that died mid-answer is covered by the others)."""
    while True:
        try:
            resumed = await hub.resume_unanswered()
            if resumed:
                log.info("answered %d customer messages left unanswered", resumed)
        except Exception:
            log.warning("resuming unanswered messages failed", exc_info=True)
        await asyncio.sleep(interval)


async def _queue_updates(hub: Hub, interval: float) -> None:
    """Every `interval`: waiting customers whose place or estimate changed are told."""
    while True:
        await asyncio.sleep(interval)
        try:
            await hub.push_queue_updates()
        except Exception:
            log.warning("pushing queue updates failed", exc_info=True)


def _shared_state(settings: HubSettings) -> tuple[PresencePort, RateLimiter]:
    """Presence and rate limits: this process's, or every replica's through Redis."""
    if not settings.redis_url:
        return Presence(), MemoryRateLimiter()
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(settings.redis_url)
    presence = RedisPresence(
        client,
        heartbeat_seconds=settings.presence_heartbeat_seconds,
        ttl_seconds=settings.presence_ttl_seconds,
    )
    return presence, RedisRateLimiter(client)


def _rasa_client(settings: HubSettings) -> RasaClient:
    urls = settings.rasa_url_list()
    if len(urls) == 1:
        return HttpRasaClient(urls[0], settings.rasa_timeout_seconds)
    return RasaPool(urls, settings.rasa_timeout_seconds, settings.rasa_down_seconds)


def _install_security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


async def _knowledge_base(app: FastAPI, settings: HubSettings) -> Any:
    """The KB index, loaded once on first use (it holds an embedder: seconds to load)."""
    cached = getattr(app.state, "kb", None)
    if cached is not None:
        return cached or None
    index_dir = settings.kb_index_dir or DEFAULT_INDEX_DIR
    if not index_dir.exists():
        return None
    started = time.monotonic()
    try:
        from knowledge_base.search import KnowledgeBase

        kb = await run_sync(KnowledgeBase.load, index_dir)
    except Exception:
        log.warning("could not load the knowledge base from %s", index_dir, exc_info=True)
        app.state.kb = False  # do not retry on every request
        return None
    log.info("knowledge base loaded in %.1fs", time.monotonic() - started)
    app.state.kb = kb
    return kb
