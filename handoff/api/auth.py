"""Agent login: the console pages and the session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel, Field

from ..core.views import AgentRef, Me
from ..errors import Unauthorized
from .deps import CurrentAgent, HubDep, SettingsDep, errors
from .public import STATIC_DIR

router = APIRouter()


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class LoginResult(BaseModel):
    agent: AgentRef


class MeResult(BaseModel):
    agent: Me


class Ok(BaseModel):
    ok: bool


@router.get("/console", include_in_schema=False, response_model=None)
async def console_page(request: Request, hub: HubDep, settings: SettingsDep) -> Response:
    token = request.cookies.get(settings.session_cookie)
    if not token or await hub.session_agent(token) is None:
        return RedirectResponse("/console/login", status_code=303)
    return FileResponse(STATIC_DIR / "console.html")


@router.get("/console/login", include_in_schema=False)
async def login_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "login.html")


@router.post(
    "/api/auth/login", response_model=LoginResult, responses=errors(400, 401, 413, 422, 429)
)
async def login(
    body: LoginBody, request: Request, response: Response, hub: HubDep, settings: SettingsDep
) -> LoginResult:
    ip = request.client.host if request.client else None
    result = await hub.login(body.username, body.password, ip)
    if result is None:
        raise Unauthorized("bad_credentials")
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
    return LoginResult(agent=agent.public())


@router.post("/api/auth/logout", response_model=Ok, responses=errors(401, 403))
async def logout(
    request: Request, response: Response, agent: CurrentAgent, hub: HubDep, settings: SettingsDep
) -> Ok:
    await hub.logout(request.cookies.get(settings.session_cookie, ""))
    response.delete_cookie(settings.session_cookie, path="/")
    return Ok(ok=True)


@router.get("/api/auth/me", response_model=MeResult, responses=errors(401))
async def me(agent: CurrentAgent, hub: HubDep) -> MeResult:
    return MeResult(agent=await hub.me(agent))
