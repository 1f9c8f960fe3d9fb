"""Zalo Official Account: signed webhook events in, consultation messages out.

In: `POST /webhooks/zalo`. Zalo signs every event with `X-ZEvent-Signature: mac=<hex
sha256(app_id + raw body + timestamp + OA secret key)>` (a plain digest, not an HMAC), the
timestamp being the event's own `timestamp` field. A verified message is stored with
`Hub.accept` and the webhook answers 200 at once (Zalo wants an answer within 2 s and retries
otherwise; a retry carries the same `msg_id` and is answered once by the core). Every id
stays a string: numbers in the body are parsed as their own text.

Out: the outbox calls `deliver`: `POST {api}/v3.0/oa/message/cs` with the `access_token`
header. Zalo has no buttons, so an offered choice becomes a numbered list the customer
answers with "2" or the option's title (`numbered_buttons`: the core maps it back); texts
over Zalo's 2000 characters go as several messages, cut at line or sentence ends.

Tokens: an OA access token lives about 25 hours and its refresh token works once. The pair
in use is the `channel_credentials` row once there is one, else the environment's. A token
Zalo refuses (-216) or one about to expire is renewed while holding that row locked, so two
coroutines or two hub processes never spend the same refresh token: whoever gets the lock
second finds the token changed and uses the new one.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio.from_thread
import anyio.to_thread
import httpx
from fastapi import APIRouter, Request

from cskh.persona import DEFAULT as DEFAULT_PERSONA
from cskh.persona import Persona

from ..api.deps import HubDep, SettingsDep
from ..core import copy_vi
from ..core.hours import format_local
from ..inputs import InputError, clean_sender, clean_text
from ..settings import HubSettings
from ..store import credentials
from ..store.models import utcnow
from . import parts
from .base import Attachment, DeliveryError, InboundMessage, OutboundMessage

if TYPE_CHECKING:
    from ..core.hub import Hub

log = logging.getLogger(__name__)

NAME = "zalo"
SIGNATURE_HEADER = "x-zevent-signature"
SEND_PATH = "/v3.0/oa/message/cs"
REFRESH_PATH = "/v4/oa/access_token"
MAX_TEXT_CHARS = 2000  # Zalo's limit for a consultation message's text
GREET_PAYLOAD = "/greet"

# The access token expired or is not (any more) valid: renew it once and send again.
TOKEN_ERRORS = frozenset({-216, -220})
# Refusals a retry cannot change: the 7-day window, quotas, a user who cannot receive, an
# OA or app that is not allowed to send. Anything else (rate limits, -200 "send message
# failed", unknown codes) is retried by the outbox.
PERMANENT_ERRORS = frozenset(copy_vi.ZALO_REFUSALS)

ATTACHMENT_EVENTS = {
    "user_send_image": "image",
    "user_send_sticker": "sticker",
    "user_send_file": "file",
    "user_send_link": "link",
    "user_send_location": "location",
    "user_send_audio": "audio",
    "user_send_video": "video",
    "user_send_gif": "gif",
}
ATTACHMENT_KINDS = frozenset(ATTACHMENT_EVENTS.values())
MAX_URL_CHARS = 2048
MAX_NAME_CHARS = 255
MAX_ID_CHARS = 128


# ============================================================================ inbound
def signature(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """Zalo's MAC of an event: hex SHA-256 of app id + raw body + timestamp + OA secret key."""
    digest = hashlib.sha256()
    digest.update(app_id.encode())
    digest.update(body)
    digest.update(timestamp.encode())
    digest.update(oa_secret_key.encode())
    return digest.hexdigest()


def verify_signature(
    header: str | None, app_id: str, body: bytes, timestamp: str, oa_secret_key: str
) -> bool:
    """Whether `X-ZEvent-Signature` (`mac=<hex>`) signs this body, compared in constant time."""
    if not header or not app_id or not oa_secret_key:
        return False
    given = header.strip()
    if given[:4].lower() == "mac=":
        given = given[4:].strip()
    expected = signature(app_id, body, timestamp, oa_secret_key)
    return hmac.compare_digest(given.lower().encode(), expected.encode())


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_event(body: bytes) -> Any:
    """The JSON body with every number kept as the text it was sent as (ids never become
    ints or floats). Raises ValueError on anything that is not UTF-8 JSON."""
    return json.loads(
        body.decode("utf-8"), parse_int=str, parse_float=str, parse_constant=_reject_constant
    )


_TIMESTAMP_RE = re.compile(rb'"timestamp"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|(-?[0-9][0-9.eE+-]*))')


def event_timestamp(event: Any, body: bytes) -> str:
    """The event's `timestamp` exactly as sent ("" when it has none). When the body is not
    JSON it is looked for in the raw text, so a signed but broken body is told apart
    (400) from an unsigned one (403)."""
    if isinstance(event, dict):
        value = event.get("timestamp")
        return value if isinstance(value, str) else ""
    match = _TIMESTAMP_RE.search(body)
    if match is None:
        return ""
    return (match.group(1) or match.group(2) or b"").decode("utf-8", "replace")


@dataclass(frozen=True)
class PlatformEvent:
    """A Zalo event that is not a customer message (seen, received, unfollow, …)."""

    user_id: str
    name: str
    data: dict[str, Any] = field(default_factory=dict)


def _invalid() -> InputError:
    return InputError(400, "zalo_invalid_event")


def _user_id(value: Any) -> str | None:
    """`{"id": …}` as a clean string id, or None."""
    raw = value.get("id") if isinstance(value, dict) else None
    try:
        return clean_sender(raw)
    except InputError:
        return None


def _event_user(event: Mapping[str, Any], name: str) -> str | None:
    """The customer an event is about: `follower` for (un)follow, `recipient` for what the
    OA sent (echoes), `sender` for everything the user did."""
    if name in ("follow", "unfollow"):
        return _user_id(event.get("follower")) or _user_id(event.get("sender"))
    if name.startswith("oa_"):
        return _user_id(event.get("recipient"))
    return _user_id(event.get("sender")) or _user_id(event.get("follower"))


def _short(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:limit] or None


def _url(value: Any) -> str | None:
    url = _short(value, MAX_URL_CHARS + 1)
    if url is None or len(url) > MAX_URL_CHARS or any(ch.isspace() for ch in url):
        return None
    return url if url.lower().startswith(("https://", "http://")) else None


def _attachment(kind: str, payload: Mapping[str, Any]) -> Attachment:
    if kind == "location":
        coords = payload.get("coordinates")
        coords = coords if isinstance(coords, dict) else payload
        lat = _short(coords.get("latitude"), 32)
        lon = _short(coords.get("longitude"), 32)
        if lat and lon and re.fullmatch(r"-?[0-9.]+", lat) and re.fullmatch(r"-?[0-9.]+", lon):
            return Attachment(kind, f"https://www.google.com/maps?q={lat},{lon}", f"{lat},{lon}")
        return Attachment(kind)
    url = _url(payload.get("url")) or _url(payload.get("photo_url"))
    url = url or _url(payload.get("thumbnail"))
    name = payload.get("name") or payload.get("title") or payload.get("description")
    return Attachment(kind, url, _short(name, MAX_NAME_CHARS))


def parse_attachments(kind: str, message: Mapping[str, Any]) -> tuple[Attachment, ...]:
    """`message.attachments[{type, payload}]` as the hub's attachments (one of `kind` when the
    event carries none, so agents still see that something was sent)."""
    found: list[Attachment] = []
    items = message.get("attachments")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        payload = item.get("payload")
        item_kind = item.get("type")
        found.append(
            _attachment(
                item_kind if item_kind in ATTACHMENT_KINDS else kind,
                payload if isinstance(payload, dict) else {},
            )
        )
    return tuple(found) or (_attachment(kind, message),)


def _message_id(message: Mapping[str, Any]) -> str | None:
    mid = message.get("msg_id")
    return _short(mid, MAX_ID_CHARS) if isinstance(mid, str) else None


def _text(value: Any, max_chars: int, *, required: bool) -> str:
    if not required and (not isinstance(value, str) or not value.strip()):
        return ""
    try:
        return clean_text(value, max_chars)
    except InputError as exc:
        if exc.status_code == 422:  # missing or empty text: a malformed event
            raise _invalid() from exc
        raise


def parse_event(event: Any, max_chars: int) -> InboundMessage | PlatformEvent | None:
    """A verified Zalo event as what the hub stores: a customer message, a platform event,
    or None for events about nobody in particular (OA management, templates). Raises
    InputError (400) when the event is not shaped as Zalo documents it."""
    if not isinstance(event, dict):
        raise _invalid()
    name = event.get("event_name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid()
    name = name.strip()[:MAX_NAME_CHARS]
    timestamp = event.get("timestamp") if isinstance(event.get("timestamp"), str) else ""
    message = event.get("message", {})
    if message is None:
        message = {}
    if not isinstance(message, dict):
        raise _invalid()
    user = _event_user(event, name)
    meta = {"zalo_event": name, "timestamp": timestamp}

    if name == "user_send_text" or name in ATTACHMENT_EVENTS or name == "follow":
        if user is None:
            raise _invalid()
        if name == "follow":
            mid = _message_id(message) or f"follow:{user}:{timestamp}"[:MAX_ID_CHARS]
            return InboundMessage(
                channel=NAME, sender_id=user, payload=GREET_PAYLOAD, message_id=mid, metadata=meta
            )
        kind = ATTACHMENT_EVENTS.get(name)
        text = _text(message.get("text"), max_chars, required=kind is None)
        return InboundMessage(
            channel=NAME,
            sender_id=user,
            text=text,
            message_id=_message_id(message),
            attachments=parse_attachments(kind, message) if kind else (),
            metadata=meta,
        )
    if user is None:
        return None
    return PlatformEvent(user, name, event)


webhooks = APIRouter(tags=["channels"])


@webhooks.post("/webhooks/zalo")
async def zalo_webhook(request: Request, hub: HubDep, settings: SettingsDep) -> dict[str, str]:
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        raise InputError(403, "zalo_bad_signature")
    body = await request.body()  # capped by api/body_limit.py (webhook_max_body_bytes)
    try:
        event: Any = decode_event(body)
        broken = False
    except ValueError:  # also UnicodeDecodeError
        event, broken = None, True
    timestamp = event_timestamp(event, body)
    if not verify_signature(
        header, settings.zalo_app_id or "", body, timestamp, settings.zalo_oa_secret_key or ""
    ):
        raise InputError(403, "zalo_bad_signature")
    if broken:
        raise _invalid()
    item = parse_event(event, settings.max_message_chars)
    if isinstance(item, InboundMessage):
        await hub.accept(item)  # returns once stored: the answer goes through the outbox
    elif isinstance(item, PlatformEvent):
        await hub.platform_event(NAME, item.user_id, item.name, item.data)
    else:
        log.info("zalo event %r names no user: acknowledged, not stored", event.get("event_name"))
    return {"status": "ok"}


# =========================================================================== outbound
def format_text(
    text: str,
    options: Sequence[str] = (),
    link: str | None = None,
    persona: Persona = DEFAULT_PERSONA,
) -> str:
    """What Zalo shows for one hub message: its text, a link to a bot image, and offered
    choices as a numbered list ("1. Có" on its own line) with a one-line hint."""
    blocks = [b for b in (text.strip(), link or "") if b]
    if options:
        numbered = "\n".join(f"{i}. {title}" for i, title in enumerate(options, start=1))
        blocks.append(f"{numbered}\n{persona.render(copy_vi.ZALO_CHOICE_HINT)}")
    return "\n\n".join(blocks)


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> list[str]:
    return parts.split_text(text, limit)


def _attachment_link(attachment: Mapping[str, Any] | None) -> str | None:
    payload = attachment.get("payload") if isinstance(attachment, Mapping) else None
    if not isinstance(payload, Mapping):
        return None
    return _url(payload.get("src")) or _url(payload.get("url"))


def refusal(code: int, message: str) -> DeliveryError:
    """Zalo's answer `error: code` (not 0 and not a token error) as a delivery error."""
    if code in PERMANENT_ERRORS:
        return DeliveryError(copy_vi.zalo_refused(code, message), permanent=True)
    return DeliveryError(copy_vi.zalo_retrying(code, message))


@dataclass(frozen=True)
class Token:
    access: str
    refresh: str | None = None
    expires_at: datetime | None = None


class RefreshRefused(Exception):
    """Zalo answered the refresh with an error (a used or revoked refresh token, a wrong app
    id or secret): someone must authorise the app again."""


def parse_token_response(data: Any, now: datetime) -> Token:
    """Zalo's `{"access_token", "refresh_token", "expires_in"}` (expires_in is a string of
    seconds in the documentation; a number is accepted too)."""
    if not isinstance(data, dict):
        raise RefreshRefused(copy_vi.ZALO_TOKEN_RESPONSE_INVALID)
    access, refresh = data.get("access_token"), data.get("refresh_token")
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        detail = data.get("error_name") or data.get("error_description") or data.get("message")
        raise RefreshRefused(copy_vi.zalo_no_new_token(str(detail or ""), data.get("error", "?")))
    expires_at = None
    try:
        seconds = float(str(data.get("expires_in")))
        if seconds > 0:
            expires_at = now + timedelta(seconds=seconds)
    except ValueError:
        pass
    return Token(access, refresh, expires_at)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


class ZaloChannel:
    """The Zalo OA channel: the webhook router, token upkeep and the send API."""

    name = NAME
    replies_inline = False  # answers go through the outbox: Zalo needs a separate send
    numbered_buttons = True
    router = webhooks

    def __init__(
        self,
        settings: HubSettings,
        get_hub: Callable[[], Hub],
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self._get_hub = get_hub
        self._persona = settings.persona()
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        self._token: Token | None = None
        self._renewing = asyncio.Lock()  # one renewal thread per process at a time
        self._sent_parts = parts.SentParts()

    # ----------------------------------------------------------------- the seam
    def reply_window(self, last_customer_at: datetime, by_person: bool) -> datetime:
        """Zalo accepts consultation messages until N days after the user's last interaction
        (agents get no extension, unlike Messenger's HUMAN_AGENT tag)."""
        return _aware(last_customer_at) + timedelta(days=self.settings.zalo_reply_window_days)

    async def deliver(self, message: OutboundMessage) -> None:
        if message.last_customer_at is not None:
            ends = self.reply_window(message.last_customer_at, message.by_person)
            if utcnow() > ends:
                until = format_local(ends, self.settings)
                days = self.settings.zalo_reply_window_days
                raise DeliveryError(copy_vi.zalo_window_closed(days, until), permanent=True)
        content = message.message
        text = format_text(
            content.text,
            [b.title for b in content.buttons],
            _attachment_link(content.attachment),
            self._persona,
        )
        pieces = split_text(text)
        if not pieces:
            return  # nothing Zalo can show (a hub-only payload): nothing to send
        token = await self._usable_token()

        async def send(part: str) -> None:
            nonlocal token  # a send may renew it
            token = await self._send(token, message.recipient_id, part)

        await self._sent_parts.send_all(content.id, pieces, send)

    async def aclose(self) -> None:
        await self._client.aclose()

    # ---------------------------------------------------------------- sending
    async def _send(self, token: Token, user_id: str, text: str) -> Token:
        """One text to one user; returns the token that worked (renewed after a -216)."""
        code, detail = await self._post_message(token.access, user_id, text)
        if code in TOKEN_ERRORS:
            token = await self._renew(token.access)
            code, detail = await self._post_message(token.access, user_id, text)
            if code in TOKEN_ERRORS:
                raise DeliveryError(copy_vi.ZALO_TOKEN_STILL_INVALID)
        if code != 0:
            raise refusal(code, detail)
        return token

    async def _post(self, url: str, **kwargs: Any) -> httpx.Response:
        """One call to Zalo; unreachable, overloaded or failing servers are transient."""
        try:
            response = await self._client.post(url, **kwargs)
        except httpx.TimeoutException as exc:
            raise DeliveryError(copy_vi.zalo_unreachable(copy_vi.TIMED_OUT)) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(copy_vi.zalo_unreachable(type(exc).__name__)) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise DeliveryError(copy_vi.zalo_http_error(response.status_code))
        return response

    async def _post_message(self, access_token: str, user_id: str, text: str) -> tuple[int, str]:
        url = self.settings.zalo_api_url.rstrip("/") + SEND_PATH
        body = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        response = await self._post(url, json=body, headers={"access_token": access_token})
        try:
            data = response.json()
            code = int(data["error"])
        except (ValueError, TypeError, KeyError) as exc:
            if response.status_code != 200:
                raise DeliveryError(copy_vi.zalo_http_error(response.status_code)) from exc
            raise DeliveryError(copy_vi.ZALO_BAD_RESPONSE) from exc
        detail = data.get("message")
        return code, detail if isinstance(detail, str) else ""

    # ----------------------------------------------------------------- tokens
    def _expiring(self, token: Token) -> bool:
        if token.expires_at is None:
            return False
        left = (_aware(token.expires_at) - utcnow()).total_seconds()
        return left < self.settings.zalo_refresh_margin_seconds

    def _env_token(self) -> Token:
        s = self.settings
        return Token(s.zalo_access_token or "", s.zalo_refresh_token)

    def _stored_token(self) -> Token:
        with self._get_hub().store.read() as s:
            row = credentials.get(s, NAME)
            if row is None:
                return self._env_token()
            return Token(row.access_token, row.refresh_token, row.expires_at)

    async def _usable_token(self) -> Token:
        token = self._token
        if token is None:
            token = self._token = await anyio.to_thread.run_sync(self._stored_token)
        if self._expiring(token):
            try:
                token = await self._renew(token.access)
            except DeliveryError as exc:
                # Not expired yet (or Zalo will say so): send with it, renew on -216.
                log.warning("renewing the Zalo access token ahead of expiry failed: %s", exc)
        return token

    async def _renew(self, stale: str) -> Token:
        """A token other than `stale` (the one Zalo refused or that is about to expire)."""
        async with self._renewing:
            current = self._token
            if current is not None and current.access != stale and not self._expiring(current):
                return current  # renewed by another send of this process meanwhile
            token = await anyio.to_thread.run_sync(functools.partial(self._renew_locked, stale))
            self._token = token
            return token

    def _renew_locked(self, stale: str) -> Token:
        """In a worker thread: renew while holding the credential row locked (FOR UPDATE; on
        SQLite the write transaction's lock), so other processes wait and then see the new
        pair instead of spending the same refresh token."""
        env = self._env_token()
        with self._get_hub().store.write() as s:
            row = credentials.lock(s, NAME, env.access, env.refresh)
            held = Token(row.access_token, row.refresh_token, row.expires_at)
            if held.access != stale and not self._expiring(held):
                return held  # another process renewed it while we waited for the lock
            # The stored refresh token first; the environment's when an operator has set a
            # new pair there since (after authorising the app again).
            candidates = list(dict.fromkeys(t for t in (held.refresh, env.refresh) if t))
            if not candidates or not self.settings.zalo_app_secret:
                raise DeliveryError(copy_vi.ZALO_CANNOT_REFRESH, permanent=True)
            refused: RefreshRefused | None = None
            for refresh_token in candidates:
                try:
                    token = anyio.from_thread.run(self._request_refresh, refresh_token)
                except RefreshRefused as exc:
                    refused = exc
                    continue
                credentials.save(row, token.access, token.refresh, token.expires_at)
                log.info("Zalo access token renewed (valid until %s)", token.expires_at)
                return token
            assert refused is not None
            log.error("Zalo refused to renew the OA access token: %s", refused)
            raise DeliveryError(copy_vi.zalo_refresh_refused(str(refused)))

    async def _request_refresh(self, refresh_token: str) -> Token:
        s = self.settings
        url = s.zalo_oauth_url.rstrip("/") + REFRESH_PATH
        form = {
            "refresh_token": refresh_token,
            "app_id": s.zalo_app_id or "",
            "grant_type": "refresh_token",
        }
        response = await self._post(url, data=form, headers={"secret_key": s.zalo_app_secret or ""})
        try:
            data = response.json()
        except ValueError as exc:
            raise DeliveryError(copy_vi.ZALO_BAD_RESPONSE) from exc
        return parse_token_response(data, utcnow())


def build(settings: HubSettings, sio: Any, get_hub: Callable[[], Hub]) -> ZaloChannel | None:
    """The channel when the app id, OA secret key and an access token are set, else None
    (the webhook then answers 404)."""
    if not settings.zalo_enabled:
        return None
    return ZaloChannel(settings, get_hub)
