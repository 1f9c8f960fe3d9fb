"""`create_app(settings)`: the hub's FastAPI application (HTTP + socket.io).

Nothing here does I/O at import. The factory wires the objects; the lifespan migrates the
database and loads triage models. Tests pass their own `RasaClient` / `Triage`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import socketio
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy import text as sql_text

from cskh.paths import DEFAULT_INDEX_DIR

from .db import make_engine, migrate
from .inputs import InputError, clean_sender, clean_text
from .rasa import HttpRasaClient, RasaClient
from .realtime import Realtime
from .service import Hub, run_sync
from .settings import HubSettings
from .store import AgentInfo, HubError, Store, customer_message
from .triage_port import Triage, load_triage

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"

# Served to the pages the hub renders; all content is text-rendered by our JS anyway, the
# CSP is the second line of defence against injected markup.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
CSRF_HEADER = "x-requested-with"

DEFAULT_CANNED = [
    "Chào bạn, mình là nhân viên hỗ trợ. Mình đã đọc nội dung bạn trao đổi, mình kiểm tra ngay.",
    "Bạn vui lòng cho mình xin mã đơn hàng (ví dụ DH123456) để mình kiểm tra nhé.",
    "Mình rất xin lỗi vì sự bất tiện này. Mình sẽ xử lý ngay cho bạn.",
    "Bạn vui lòng chờ mình một chút, mình đang kiểm tra thông tin.",
    "Vấn đề của bạn đã được xử lý. Bạn còn cần mình hỗ trợ gì thêm không ạ?",
]


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class ReplyBody(BaseModel):
    text: str


class TransferBody(BaseModel):
    to_agent_id: int | None = None
    to_team: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=1000)


class NoteBody(BaseModel):
    note: str = Field(default="", max_length=1000)


class StatusBody(BaseModel):
    status: str = Field(max_length=16)


def create_app(
    settings: HubSettings | None = None,
    *,
    rasa: RasaClient | None = None,
    triage: Triage | None = None,
) -> FastAPI:
    settings = settings or HubSettings()
    holder: dict[str, Any] = {}

    def get_hub() -> Hub:
        hub = holder.get("hub")
        if hub is None:
            raise RuntimeError("hub not started (lifespan not run)")
        return hub

    realtime = Realtime(
        get_hub,
        settings.session_cookie,
        settings.widget_origins,
        settings.max_body_bytes,
        settings.socket_ping_interval,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.sqlalchemy_url())
        await run_sync(migrate, engine)
        store = Store(engine, default_handle_seconds=settings.default_handle_seconds)
        rasa_client = rasa or HttpRasaClient(settings.rasa_url, settings.rasa_timeout_seconds)
        triage_impl = triage if triage is not None else await run_sync(load_triage)
        hub = Hub(settings, store, rasa_client, triage_impl, realtime)
        holder["hub"] = hub
        app.state.hub = hub
        app.state.realtime = realtime
        # Warm the KB for agent assist in the background: loading the embedder takes seconds
        # and must not delay start-up or the first console request.
        warm = asyncio.create_task(_knowledge_base(app, settings))
        try:
            yield
        finally:
            warm.cancel()
            holder.pop("hub", None)
            if rasa is None:
                await rasa_client.aclose()
            engine.dispose()

    app = FastAPI(title="CSKH conversation hub", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.realtime = realtime
    # socket.io shares the HTTP port; python-socketio matches on the full request path.
    app.mount("/socket.io", socketio.ASGIApp(realtime.sio, socketio_path="socket.io"))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    _install_error_handlers(app)
    _install_security_headers(app)
    _public_routes(app, settings)
    _console_routes(app, settings)
    return app


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> JSONResponse:
        return _error(exc.status_code, exc.code, exc.message)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> JSONResponse:
        return _error(exc.status_code, exc.code, exc.message)


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


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without buffering all of it."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise InputError(413, "body_too_large", f"Yêu cầu quá lớn (tối đa {limit} byte).")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError(413, "body_too_large", f"Yêu cầu quá lớn (tối đa {limit} byte).")
        chunks.append(chunk)
    return b"".join(chunks)


def _public_routes(app: FastAPI, settings: HubSettings) -> None:
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/widget.js", include_in_schema=False)
    async def widget_js() -> FileResponse:
        return FileResponse(STATIC_DIR / "widget.js", media_type="text/javascript")

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        hub = hub_of(request)

        def db_ok() -> bool:
            with hub.store.engine.connect() as conn:
                conn.execute(sql_text("SELECT 1"))
            return True

        try:
            db = await run_sync(db_ok)
        except Exception:
            db = False
        rasa_ok = await hub.rasa.healthy()
        # Rasa being down degrades the service but the hub still stores and queues, so only
        # the database decides the status code.
        return JSONResponse(
            {"status": "ok" if db else "error", "database": db, "rasa": rasa_ok},
            status_code=200 if db else 503,
        )

    @app.get("/webhooks/rest/")
    async def rest_health() -> dict[str, str]:
        return {"status": "ok"}  # Rasa's REST channel answers the same

    @app.post("/webhooks/rest/webhook")
    async def rest_webhook(request: Request) -> list[dict[str, Any]]:
        _require_rest_access(request, settings)
        body = await _read_body(request, settings.max_body_bytes)
        try:
            decoded = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(400, "invalid_utf8", "Nội dung không phải UTF-8 hợp lệ.") from exc
        try:
            data = json.loads(decoded)
        except ValueError as exc:
            raise InputError(400, "invalid_json", "Nội dung không phải JSON hợp lệ.") from exc
        if not isinstance(data, dict):
            raise InputError(
                422, "invalid_payload", 'Cần một đối tượng JSON {"sender", "message"}.'
            )
        sender = clean_sender(data.get("sender"))
        text = clean_text(data.get("message"), settings.max_message_chars)
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise InputError(422, "invalid_metadata", "metadata phải là một đối tượng JSON.")
        message_id = metadata.get("message_id")
        _conv, replies = await hub_of(request).handle_customer_message(
            "rest", sender, text, metadata, str(message_id)[:128] if message_id else None
        )
        out = []
        for r in replies:
            item: dict[str, Any] = {"recipient_id": sender, "text": r["text"]}
            if r["buttons"]:
                item["buttons"] = r["buttons"]
            out.append(item)
        return out

    @app.get("/api/conversations/{session_id}/history")
    async def history(request: Request, response: Response, session_id: str) -> dict[str, Any]:
        """Customer-visible history of a web/REST session (the session id is the secret)."""
        # The widget runs on other sites. No cookies are involved (the id in the URL is the
        # credential), so a plain CORS allow is safe here and only here.
        response.headers["Access-Control-Allow-Origin"] = _allowed_origin(request, settings)
        response.headers["Cache-Control"] = "no-store"
        hub = hub_of(request)
        # Widget session ids are random; REST senders are whatever the caller chose.
        channels = ("web", "rest") if _rest_allowed(request, settings) else ("web",)
        conv = await run_sync(hub.store.find_conversation, channels, session_id[:128])
        if conv is None:
            return {"session_id": session_id, "state": "bot", "messages": [], "queue": None}
        messages = await run_sync(hub.store.messages, conv["id"], 200)
        visible = [
            customer_message(m)
            for m in messages
            if (m["text"] or m["buttons"]) and m["notice"] != "internal_note"
        ]
        queue = await hub.queue_status(conv["id"]) if conv["state"] == "queued" else None
        if queue and queue.get("opens_at"):
            queue["opens_at"] = queue["opens_at"].isoformat()
        return {
            "session_id": session_id,
            "state": conv["state"],
            "agent_name": (conv["assigned_agent"] or {}).get("display_name"),
            "messages": visible,
            "queue": queue,
        }


def _rest_allowed(request: Request, settings: HubSettings) -> bool:
    if not settings.rest_token:
        return not settings.is_production
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else ""
    given = given or request.query_params.get("token", "")
    return hmac.compare_digest(given.encode(), settings.rest_token.encode())


def _require_rest_access(request: Request, settings: HubSettings) -> None:
    if _rest_allowed(request, settings):
        return
    if not settings.rest_token:
        raise InputError(
            403, "rest_disabled",
            "Kênh REST đang tắt: đặt CSKH_HUB_REST_TOKEN để bật nó trong môi trường production.",
        )
    raise InputError(401, "unauthorized", "Thiếu hoặc sai mã truy cập (Authorization: Bearer).")


def _allowed_origin(request: Request, settings: HubSettings) -> str:
    allowed = [o.strip() for o in settings.widget_origins.split(",") if o.strip()]
    if "*" in allowed:
        return "*"
    origin = request.headers.get("origin", "")
    return origin if origin in allowed else "null"


# ----------------------------------------------------------------- console / agents
async def current_agent(request: Request) -> AgentInfo:
    settings: HubSettings = request.app.state.settings
    token = request.cookies.get(settings.session_cookie)
    agent = await run_sync(hub_of(request).store.session_agent, token) if token else None
    if agent is None:
        raise HubError("Bạn cần đăng nhập.", "unauthorized").with_status(401)
    if request.method not in ("GET", "HEAD", "OPTIONS") and (
        request.headers.get(CSRF_HEADER) != "cskh"
    ):
        # Cross-site forms cannot set custom headers and cross-origin fetch with one needs a
        # CORS preflight we never grant: this blocks CSRF on cookie-authenticated calls.
        raise HubError("Thiếu header X-Requested-With.", "csrf").with_status(403)
    return agent


async def supervisor(agent: Annotated[AgentInfo, Depends(current_agent)]) -> AgentInfo:
    if not agent.is_supervisor:
        raise HubError("Chỉ giám sát viên được xem.", "supervisor_only").with_status(403)
    return agent


# Module level: FastAPI resolves these (string) annotations in the module's namespace.
Agent = Annotated[AgentInfo, Depends(current_agent)]
Supervisor = Annotated[AgentInfo, Depends(supervisor)]


def _console_routes(app: FastAPI, settings: HubSettings) -> None:
    @app.get("/console", include_in_schema=False, response_model=None)
    async def console_page(request: Request) -> Response:
        token = request.cookies.get(settings.session_cookie)
        agent = await run_sync(hub_of(request).store.session_agent, token) if token else None
        if agent is None:
            return RedirectResponse("/console/login", status_code=303)
        return FileResponse(STATIC_DIR / "console.html")

    @app.get("/console/login", include_in_schema=False)
    async def login_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "login.html")

    @app.post("/api/auth/login")
    async def login(request: Request, body: LoginBody, response: Response) -> dict[str, Any]:
        result = await run_sync(
            hub_of(request).store.login, body.username, body.password, settings.session_hours
        )
        if result is None:
            raise HubError("Sai tên đăng nhập hoặc mật khẩu.", "bad_credentials").with_status(401)
        token, agent = result
        response.set_cookie(
            settings.session_cookie,
            token,
            max_age=settings.session_hours * 3600,
            httponly=True,
            samesite="lax",
            secure=settings.is_production,
            path="/",
        )
        return {"agent": agent.public()}

    @app.post("/api/auth/logout")
    async def logout(request: Request, response: Response, agent: Agent) -> dict[str, bool]:
        token = request.cookies.get(settings.session_cookie, "")
        await run_sync(hub_of(request).store.logout, token)
        response.delete_cookie(settings.session_cookie, path="/")
        return {"ok": True}

    @app.get("/api/auth/me")
    async def me(request: Request, agent: Agent) -> dict[str, Any]:
        status = await run_sync(hub_of(request).store.agent_status, agent.id)
        return {"agent": {**agent.public(), **status}}

    @app.post("/api/console/status")
    async def set_status(request: Request, body: StatusBody, agent: Agent) -> dict[str, Any]:
        """The agent's own availability (console header): `online` or `away`."""
        hub = hub_of(request)
        status = await run_sync(hub.store.set_status, agent.id, body.status)
        await hub.notifier.to_console(
            "agent_status", {"agent_id": agent.id, "status": status["status"]}
        )
        return {"agent": {**agent.public(), **status}}

    @app.get("/api/console/queue")
    async def queue(request: Request, agent: Agent) -> dict[str, Any]:
        hub = hub_of(request)
        items = await run_sync(hub.store.queue)
        return {
            "queue": items,
            "sla": {
                "first_response_seconds": settings.sla_first_response_seconds,
                "resolution_seconds": settings.sla_resolution_seconds,
            },
            "agents_online": hub.notifier.agents_online(),
        }

    @app.get("/api/console/mine")
    async def mine(request: Request, agent: Agent) -> dict[str, Any]:
        store = hub_of(request).store
        convs = await run_sync(store.conversations_for, None if agent.is_supervisor else agent)
        return {"conversations": convs}

    @app.get("/api/console/conversations/{cid}")
    async def conversation(request: Request, cid: str, agent: Agent) -> dict[str, Any]:
        store = hub_of(request).store
        conv = await run_sync(store.get_conversation, cid)
        messages = await run_sync(store.messages, cid, 500)
        events = await run_sync(store.events, cid)
        return {"conversation": conv, "messages": messages, "events": events}

    @app.post("/api/console/conversations/{cid}/claim")
    async def claim(request: Request, cid: str, agent: Agent) -> dict[str, Any]:
        return {"conversation": await hub_of(request).claim(cid, agent)}

    @app.post("/api/console/conversations/{cid}/reply")
    async def reply(request: Request, cid: str, body: ReplyBody, agent: Agent) -> dict[str, Any]:
        text = clean_text(body.text, settings.max_message_chars)
        return {"message": await hub_of(request).agent_reply(cid, agent, text)}

    @app.post("/api/console/conversations/{cid}/transfer")
    async def transfer(
        request: Request, cid: str, body: TransferBody, agent: Agent
    ) -> dict[str, Any]:
        conv = await hub_of(request).transfer(
            cid, agent, to_agent_id=body.to_agent_id, to_team=body.to_team, note=body.note.strip()
        )
        return {"conversation": conv}

    @app.post("/api/console/conversations/{cid}/resolve")
    async def resolve(
        request: Request, cid: str, agent: Agent, body: NoteBody | None = None
    ) -> dict[str, Any]:
        note = body.note if body else ""
        return {"conversation": await hub_of(request).resolve(cid, agent, note)}

    @app.post("/api/console/conversations/{cid}/handback")
    async def handback(
        request: Request, cid: str, agent: Agent, body: NoteBody | None = None
    ) -> dict[str, Any]:
        note = body.note if body else ""
        return {"conversation": await hub_of(request).handback(cid, agent, note)}

    @app.get("/api/console/conversations/{cid}/assist")
    async def assist(request: Request, cid: str, agent: Agent) -> dict[str, Any]:
        """KB passages for the customer's recent words (agent assist)."""
        hub = hub_of(request)
        kb = await _knowledge_base(request.app, settings)
        if kb is None:
            return {"available": False, "hits": []}
        transcript = await run_sync(hub.store.transcript, cid, 50)
        said = [t["text"] for t in transcript if t["role"] == "user"]
        hits = await run_sync(kb.search_conversation, said, 3)
        return {
            "available": True,
            "hits": [
                {
                    "article_id": h.article_id,
                    "title": h.title,
                    "section": h.section,
                    "url": h.url,
                    "text": h.text,
                    "score": round(float(h.score), 3),
                }
                for h in hits
            ],
        }

    @app.get("/api/console/agents")
    async def agents(request: Request, agent: Agent) -> dict[str, Any]:
        rows = await run_sync(hub_of(request).store.list_agents)
        return {"agents": [r for r in rows if r["active"]]}

    @app.get("/api/console/canned")
    async def canned(agent: Agent) -> dict[str, Any]:
        return {"replies": _canned_replies(settings)}

    @app.get("/api/console/stats")
    async def stats(request: Request, agent: Supervisor) -> dict[str, Any]:
        hub = hub_of(request)
        data = await run_sync(
            hub.store.stats, settings.sla_first_response_seconds, settings.sla_resolution_seconds
        )
        data["agents_online"] = hub.notifier.agents_online()
        return data

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics(request: Request, agent: Supervisor) -> str:
        hub = hub_of(request)
        data = await run_sync(
            hub.store.stats, settings.sla_first_response_seconds, settings.sla_resolution_seconds
        )
        day = data["last_24h"]
        lines = [
            f'cskh_hub_conversations{{state="{state}"}} {n}' for state, n in data["states"].items()
        ]
        lines += [
            f"cskh_hub_agents_online {hub.notifier.agents_online()}",
            f"cskh_hub_handoffs_24h {day['handoffs']}",
            f"cskh_hub_sla_first_response_breaches_24h {day['sla_first_response_breaches']}",
            f"cskh_hub_sla_resolution_breaches_24h {day['sla_resolution_breaches']}",
            f"cskh_hub_conversations_24h {day['conversations']}",
            f"cskh_hub_contained_24h {day['contained']}",
        ]
        if day["containment_rate"] is not None:
            lines.append(f"cskh_hub_containment_rate_24h {day['containment_rate']}")
        if day["csat_avg"] is not None:
            lines.append(f"cskh_hub_csat_avg_24h {day['csat_avg']}")
        return "\n".join(lines) + "\n"


def _canned_replies(settings: HubSettings) -> list[str]:
    path = settings.canned_replies_file
    if path and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, list):
                return [str(x) for x in data]
        except ValueError:
            log.warning("canned replies file %s is not a JSON list", path)
    return DEFAULT_CANNED


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
