"""What the routes share: the hub, settings, the logged-in agent, body reading, errors."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from ..core.copy_vi import error_text
from ..core.hub import Hub
from ..core.views import AgentInfo
from ..errors import Forbidden, HubError, RateLimited, Unauthorized
from ..inputs import InputError
from ..settings import HubSettings

CSRF_HEADER = "x-requested-with"
STATUS_BY_KIND = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "rate_limited": 429,
}


def get_hub(request: Request) -> Hub:
    hub: Hub | None = getattr(request.app.state, "hub", None)
    if hub is None:
        raise RuntimeError("hub not started (lifespan not run)")
    return hub


def get_settings(request: Request) -> HubSettings:
    settings: HubSettings = request.app.state.settings
    return settings


HubDep = Annotated[Hub, Depends(get_hub)]
SettingsDep = Annotated[HubSettings, Depends(get_settings)]


async def current_agent(request: Request, hub: HubDep, settings: SettingsDep) -> AgentInfo:
    token = request.cookies.get(settings.session_cookie)
    agent = await hub.session_agent(token) if token else None
    if agent is None:
        raise Unauthorized("unauthorized")
    if request.method not in ("GET", "HEAD", "OPTIONS") and (
        request.headers.get(CSRF_HEADER) != "cskh"
    ):
        # Cross-site forms cannot set custom headers and cross-origin fetch with one needs a
        # CORS preflight we never grant: this blocks CSRF on cookie-authenticated calls.
        raise Forbidden("csrf")
    return agent


async def supervisor(agent: Annotated[AgentInfo, Depends(current_agent)]) -> AgentInfo:
    if not agent.is_supervisor:
        raise Forbidden("supervisor_only")
    return agent


CurrentAgent = Annotated[AgentInfo, Depends(current_agent)]
Supervisor = Annotated[AgentInfo, Depends(supervisor)]


async def metrics_reader(request: Request, hub: HubDep, settings: SettingsDep) -> str:
    """Prometheus scrapes with `Authorization: Bearer <CSKH_HUB_METRICS_TOKEN>`; a
    supervisor's console login works too."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if settings.metrics_token and scheme.lower() == "bearer":
        if hmac.compare_digest(given.strip().encode(), settings.metrics_token.encode()):
            return "prometheus"
        raise Unauthorized("unauthorized")
    agent = await current_agent(request, hub, settings)
    await supervisor(agent)
    return agent.username


MetricsReader = Annotated[str, Depends(metrics_reader)]


def error_response(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> JSONResponse:
        status = STATUS_BY_KIND.get(exc.kind, 400)
        response = error_response(status, exc.code, error_text(exc.code, exc.params))
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message)
