"""Pages and routes anyone may call: the chat page, the widget, health, customer history,
the widget's suggested topics."""

from __future__ import annotations

import time
from pathlib import Path
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from ..channels import rest
from ..core import sessions
from ..core.hub import Hub, run_sync
from ..core.views import History
from ..settings import HubSettings
from ..store import topics
from .deps import CustomerId, HubDep, SettingsDep, errors

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter()


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


@router.get("/widget.js", include_in_schema=False)
async def widget_js() -> FileResponse:
    return FileResponse(STATIC_DIR / "widget.js", media_type="text/javascript")


class Health(BaseModel):
    status: str  # ok | error
    database: bool
    rasa: bool


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database is unreachable"}},
)
async def healthz(hub: HubDep) -> JSONResponse:
    health = await hub.health()
    # Rasa being down degrades the service but the hub still stores and queues, so only
    # the database decides the status code.
    return JSONResponse(health, status_code=200 if health["database"] else 503)


@router.get(
    "/api/conversations/{session_id}/history", response_model=History, responses=errors(422)
)
async def history(
    request: Request,
    response: Response,
    session_id: CustomerId,
    hub: HubDep,
    settings: SettingsDep,
) -> History:
    """Customer-visible history of a web session (its signed id is the credential) or, for
    a trusted REST backend, of a REST sender."""
    # The widget runs on other sites. No cookies are involved (the id in the URL is the
    # credential), so a plain CORS allow is safe here and only here.
    response.headers["Access-Control-Allow-Origin"] = _allowed_origin(request, settings)
    response.headers["Cache-Control"] = "no-store"
    channels: tuple[str, ...] = ()
    if sessions.valid(settings.effective_secret_key, session_id):
        channels += ("web",)
    # REST senders are whatever the trusted caller chose.
    if rest.allowed(request, settings):
        channels += ("rest",)
    return await hub.history(channels, session_id[:128])


class WidgetTopic(BaseModel):
    # Shown on the button and, when clicked, sent as the customer's own message.
    title: str
    article_id: str | None = None


class WidgetTopics(BaseModel):
    topics: list[WidgetTopic]
    # The empty chat's greeting in the shop's persona (a page's data-welcome overrides it).
    welcome: str = ""


# Every empty chat asks for the topics: one query a minute per process is enough for an
# answer that changes over days.
TOPICS_TTL_SECONDS = 60.0
_topics_cache: WeakKeyDictionary[Hub, tuple[float, WidgetTopics]] = WeakKeyDictionary()


@router.get("/api/widget/topics", response_model=WidgetTopics)
async def widget_topics(
    request: Request, response: Response, hub: HubDep, settings: SettingsDep
) -> WidgetTopics:
    """The help-center articles customers asked about most recently (configured defaults
    while there is too little history), offered by the widget in an empty chat."""
    response.headers["Access-Control-Allow-Origin"] = _allowed_origin(request, settings)
    response.headers["Vary"] = "Origin"
    response.headers["Cache-Control"] = f"public, max-age={int(TOPICS_TTL_SECONDS)}"
    cached = _topics_cache.get(hub)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    found = await run_sync(_read_topics, hub, tuple(settings.widget_topics))
    result = WidgetTopics(
        topics=[WidgetTopic(title=t.title, article_id=t.article_id) for t in found],
        welcome=hub.persona.render(settings.widget_welcome),
    )
    _topics_cache[hub] = (time.monotonic() + TOPICS_TTL_SECONDS, result)
    return result


def _read_topics(hub: Hub, defaults: tuple[str, ...]) -> list[topics.Topic]:
    with hub.store.read() as s:
        return topics.suggested(s, defaults)


def _allowed_origin(request: Request, settings: HubSettings) -> str:
    allowed = [o.strip() for o in settings.widget_origins.split(",") if o.strip()]
    if "*" in allowed:
        return "*"
    origin = request.headers.get("origin", "")
    return origin if origin in allowed else "null"
