"""Pages and routes anyone may call: the chat page, the widget, health, customer history."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from ..channels import rest
from ..core import sessions
from ..core.views import History
from ..settings import HubSettings
from .deps import HubDep, SettingsDep

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter()


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


@router.get("/widget.js", include_in_schema=False)
async def widget_js() -> FileResponse:
    return FileResponse(STATIC_DIR / "widget.js", media_type="text/javascript")


@router.get("/healthz")
async def healthz(hub: HubDep) -> JSONResponse:
    health = await hub.health()
    # Rasa being down degrades the service but the hub still stores and queues, so only
    # the database decides the status code.
    return JSONResponse(health, status_code=200 if health["database"] else 503)


@router.get("/api/conversations/{session_id}/history", response_model=History)
async def history(
    request: Request, response: Response, session_id: str, hub: HubDep, settings: SettingsDep
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


def _allowed_origin(request: Request, settings: HubSettings) -> str:
    allowed = [o.strip() for o in settings.widget_origins.split(",") if o.strip()]
    if "*" in allowed:
        return "*"
    origin = request.headers.get("origin", "")
    return origin if origin in allowed else "null"
