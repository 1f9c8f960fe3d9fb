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

from ..api.deps import HubDep, SettingsDep
from ..inputs import InputError, clean_sender, clean_text
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
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InputError(422, "invalid_metadata")
    message_id = metadata.get("message_id")
    return InboundMessage(
        channel=NAME,
        sender_id=sender,
        text=text,
        message_id=str(message_id)[:128] if message_id else None,
        metadata=metadata,
        # Per sender only: the caller is a backend speaking for many customers from one
        # address, so per-address limits would throttle all of them together.
        rate_limited=True,
    )


router = APIRouter(tags=["channels"])


@router.get("/webhooks/rest/")
async def rest_health() -> dict[str, str]:
    return {"status": "ok"}  # Rasa's REST channel answers the same


@router.post("/webhooks/rest/webhook")
async def rest_webhook(
    request: Request, hub: HubDep, settings: SettingsDep
) -> list[dict[str, Any]]:
    require_access(request, settings)
    inbound = parse(await request.body(), settings)  # capped by api/body_limit.py
    result = await hub.customer_message(inbound)
    out = []
    for reply in result.replies:
        item: dict[str, Any] = {"recipient_id": inbound.sender_id, "text": reply.text}
        if reply.buttons:
            item["buttons"] = [b.model_dump() for b in reply.buttons]
        out.append(item)
    return out
