"""Rasa's REST channel contract: `POST /webhooks/rest/webhook` answers with the replies.

The caller names the sender, so whoever can reach the webhook can write into any REST
conversation: with `CSKH_HUB_REST_TOKEN` set it needs `Authorization: Bearer <token>` (or
`?token=`, as Rasa's --auth-token); in production without a token it is closed. REST has no
push: agents' messages reach a REST client through the history route.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from ..api.deps import HubDep, SettingsDep, errors
from ..core.views import Button
from ..inputs import InputError, clean_message_id, clean_sender, clean_text
from ..settings import HubSettings
from .base import InboundMessage

NAME = "rest"


def allowed(request: Request, settings: HubSettings) -> bool:
    if not settings.rest_token:
        return not settings.is_production
    header = request.headers.get("authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else ""
    given = given or request.query_params.get("token", "")
    return hmac.compare_digest(given.encode(), settings.rest_token.encode())


def require_access(request: Request, settings: HubSettings) -> None:
    if allowed(request, settings):
        return
    if not settings.rest_token:
        raise InputError(403, "rest_disabled")
    raise InputError(401, "unauthorized", wording="bad_token")


def parse(body: bytes, settings: HubSettings) -> InboundMessage:
    """A REST delivery (`{"sender", "message", "metadata"?}`) as an inbound message."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(400, "invalid_utf8") from exc
    try:
        data = json.loads(decoded)
    except ValueError as exc:
        raise InputError(400, "invalid_json") from exc
    if not isinstance(data, dict):
        raise InputError(422, "invalid_payload")
    sender = clean_sender(data.get("sender"))
    text = clean_text(data.get("message"), settings.max_message_chars)
    metadata = data.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        # Also a falsy one ([], "", 0): the documented body says an object or null.
        raise InputError(422, "invalid_metadata")
    return InboundMessage(
        channel=NAME,
        sender_id=sender,
        text=text,
        message_id=clean_message_id(metadata.get("message_id")),
        metadata=metadata,
        # Per sender only: the caller is a backend speaking for many customers from one
        # address, so per-address limits would throttle all of them together.
        rate_limited=True,
    )


class RestMessage(BaseModel):
    """The request body, for the OpenAPI document only: `parse` reads the raw body itself,
    so that a body that is not UTF-8, not JSON or not an object gets its own error."""

    sender: str | int
    message: str
    metadata: dict[str, Any] | None = None


class RestReply(BaseModel):
    """One bot message, as Rasa's REST channel answers it."""

    recipient_id: str
    text: str
    buttons: list[Button] | None = None


router = APIRouter(tags=["channels"])


@router.get("/webhooks/rest/")
async def rest_health() -> dict[str, str]:
    return {"status": "ok"}  # Rasa's REST channel answers the same


@router.post(
    "/webhooks/rest/webhook",
    response_model=list[RestReply],
    # Rasa's REST channel leaves `buttons` out rather than sending null.
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 413, 422, 429),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RestMessage.model_json_schema()}},
        }
    },
)
async def rest_webhook(request: Request, hub: HubDep, settings: SettingsDep) -> list[RestReply]:
    require_access(request, settings)
    inbound = parse(await request.body(), settings)  # capped by api/body_limit.py
    result = await hub.customer_message(inbound)
    return [
        RestReply(recipient_id=inbound.sender_id, text=r.text, buttons=r.buttons or None)
        for r in result.replies
    ]
