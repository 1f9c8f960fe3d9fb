"""What the routes share: the hub, settings, the logged-in agent, body reading, errors."""

from __future__ import annotations

import hmac
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from ..core.copy_vi import error_text
from ..core.hub import Hub
from ..core.views import AgentInfo
from ..errors import Forbidden, HubError, RateLimited, Unauthorized
from ..inputs import InputError
from ..settings import HubSettings
from ..store.models import CONVERSATION_ID_PATTERN

CSRF_HEADER = "x-requested-with"
# Codes for the HTTP errors FastAPI and Starlette raise before any route runs.
HTTP_ERROR_CODES = {400: "unreadable_body", 404: "no_such_route", 405: "method_not_allowed"}
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
# A path's conversation id, refused (422) unless shaped like one: PostgreSQL answers a NUL
# in a text parameter with an error, not with "no such row".
ConversationId = Annotated[str, Path(pattern=CONVERSATION_ID_PATTERN)]
# A customer's id on a channel (a web session id, a REST sender): no control characters,
# which no channel lets into one (inputs.clean_sender), for the same reason.
CustomerId = Annotated[str, Path(pattern=r"^[^\x00-\x1f\x7f]+$")]
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


class ErrorBody(BaseModel):
    """Every error the API answers (docs/contracts.md): a stable code for programs and a
    Vietnamese sentence the console and the widget show as it is."""

    error: str
    detail: str


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: the error statuses it can answer, all with `ErrorBody`, so
    the OpenAPI document lists every status a client has to handle."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": HTTPStatus(status).phrase}
        if status == 429:
            entry["headers"] = {
                "Retry-After": {
                    "description": "Seconds until the limit's window ends.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            }
        documented[status] = entry
    return documented


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

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # Raised by FastAPI and Starlette themselves (a body that is not UTF-8, an unknown
        # path or method): answered in the same shape as the hub's own errors.
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        response = error_response(exc.status_code, code, error_text(code, {"reason": exc.detail}))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own body ({"detail": [...]}) would break the one error shape the console
        # and the widget read; it also echoes the input back, which may not even encode.
        fields = sorted({_field(e) for e in exc.errors()})
        return error_response(
            422, "invalid_request", error_text("invalid_request", {"fields": ", ".join(fields)})
        )


def _field(error: dict[str, Any]) -> str:
    # ("body", "note") -> "note"; a body that is not JSON (its loc is a character offset)
    # or not an object -> "body".
    if error.get("type") == "json_invalid":
        return "body"
    parts = [str(p) for p in error.get("loc", ()) if p != "body"] or ["body"]
    return ".".join(parts)
