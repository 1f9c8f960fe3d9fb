"""Facebook Messenger: the Page's webhook in, the Send API out (through the outbox).

In: `GET /webhooks/messenger` answers Meta's verification; `POST /webhooks/messenger` checks
`X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the app secret), stores every
customer message with `hub.accept` (which returns once it is committed) and answers 200 at
once; the bot's answers travel through the outbox. A redelivered event carries the same
`mid` and is answered once (the core de-duplicates on it).

Out: `POST {graph}/me/messages`: a standard reply (`RESPONSE`) within 24 h of the customer's
last message; a person's reply with the `HUMAN_AGENT` tag up to 7 days; nothing later. Texts
over 2000 characters go as several messages, buttons as quick replies on the last one.

Parsing, signature checks and Graph error handling are plain functions (unit-tested without
FastAPI); `MessengerChannel` only wires them to the routes and the HTTP client.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from cskh.persona import DEFAULT as DEFAULT_PERSONA
from cskh.persona import Persona

from ..core import copy_vi
from ..core.hours import format_local
from ..core.views import Button, CustomerMessage
from ..inputs import InputError, clean_sender, clean_text
from ..settings import HubSettings
from . import parts
from .base import Attachment, DeliveryError, InboundMessage, OutboundMessage

if TYPE_CHECKING:
    from ..core.hub import Hub

log = logging.getLogger(__name__)

NAME = "messenger"
SIGNATURE_HEADER = "X-Hub-Signature-256"
# Meta's limits (Send API reference).
MAX_TEXT = 2000
MAX_QUICK_REPLIES = 13
MAX_TITLE = 20
MAX_PAYLOAD = 1000

# Graph error codes worth another try: unknown/unexpected (1, 2), rate limits (4, 17, 32,
# 613, 80006), application limit (341), "temporary send message failure" (1200).
TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 613, 1200, 80006}
RATE_LIMIT_CODES = {4, 17, 32, 613, 80006}
OUTSIDE_WINDOW_SUBCODES = {2018278}
# The "like" button sends one of these stickers.
LIKE_STICKERS = {"369239263222822", "369239343222814", "369239383222810"}
ATTACHMENT_KINDS = {"image", "video", "audio", "file", "sticker", "location"}


# ============================================================================ inbound
def signature_ok(body: bytes, header: str | None, app_secret: str) -> bool:
    """`X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw body."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len("sha256=") :].strip().lower().encode(), expected.encode())


def verification_challenge(params: Mapping[str, str], verify_token: str) -> str | None:
    """The challenge to echo when Meta's subscription check names our verify token."""
    given = params.get("hub.verify_token") or ""
    if params.get("hub.mode") != "subscribe" or "hub.challenge" not in params:
        return None
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        return None
    return params["hub.challenge"]


def parse_body(body: bytes, max_chars: int) -> list[InboundMessage]:
    """The customer messages of one webhook delivery (InputError 400 when it is not JSON)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(400, "invalid_json") from exc
    if not isinstance(data, dict):
        raise InputError(400, "messenger_invalid_payload")
    return parse_events(data, max_chars)


def parse_events(data: Mapping[str, Any], max_chars: int) -> list[InboundMessage]:
    """Every `messaging` event of every entry that is a customer's message or button press.

    Echoes of the Page's own messages, reads, deliveries, reactions and anything unknown are
    left out; so is a malformed event (logged), so that one odd event never makes Meta
    redeliver the whole batch.
    """
    if data.get("object") != "page":
        log.info("messenger webhook for object %r ignored", data.get("object"))
        return []
    found: list[InboundMessage] = []
    for entry in _dicts(data.get("entry")):
        for event in _dicts(entry.get("messaging")):
            try:
                inbound = parse_event(event, max_chars)
            except InputError as exc:
                log.warning("messenger event skipped (%s), keys %s", exc.code, sorted(event))
                continue
            if inbound is not None:
                found.append(inbound)
    return found


def parse_event(event: Mapping[str, Any], max_chars: int) -> InboundMessage | None:
    """One `messaging` item as an inbound message, or None when it is not one."""
    sender = clean_sender(_dict(event.get("sender")).get("id"))
    metadata: dict[str, Any] = {}
    page_id = _dict(event.get("recipient")).get("id")
    if isinstance(page_id, str | int) and not isinstance(page_id, bool):
        metadata["page_id"] = str(page_id)
    message, postback = event.get("message"), event.get("postback")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None  # what the Page itself sent (our own replies included)
        text = _text(message.get("text"), max_chars)
        payload = _payload(_dict(message.get("quick_reply")).get("payload"))
        attachments = tuple(parse_attachments(message.get("attachments")))
        mid = _id(message.get("mid"))
    elif isinstance(postback, dict):
        payload = _payload(postback.get("payload"))
        text = _text(postback.get("title"), max_chars) or (payload or "")
        attachments = ()
        mid = _id(postback.get("mid"))
        stamp = _id(event.get("timestamp"))
        if mid is None and stamp is not None:
            # Older postbacks had no mid: the timestamp still tells a redelivery apart.
            mid = f"postback:{stamp}"
    else:
        return None  # read, delivery, reaction, referral, optin...
    if not (text or payload or attachments):
        return None  # e.g. an unsupported message type: nothing an agent could read
    return InboundMessage(
        channel=NAME,
        sender_id=sender,
        text=text,
        message_id=mid,
        payload=payload,
        attachments=attachments,
        metadata=metadata,
    )


def parse_attachments(raw: Any) -> list[Attachment]:
    """Messenger attachments as the core's `Attachment(kind, url, name)`.

    Stickers are recognised by `payload.sticker_id` (older payloads send them as images;
    during Meta's transition both an `image` and a `sticker` item arrive: kept once).
    """
    found: list[Attachment] = []
    for item in _dicts(raw):
        kind = str(item.get("type") or "")
        payload = _dict(item.get("payload"))
        url = _url(payload.get("url")) or _url(item.get("url"))
        name = _short(payload.get("title")) or _short(item.get("title")) or None
        sticker = _id(payload.get("sticker_id"))
        if kind == "sticker" or sticker:
            kind = "sticker"
            name = "👍" if sticker in LIKE_STICKERS else sticker
        elif kind == "location":
            coords = _dict(payload.get("coordinates"))
            lat, lon = coords.get("lat"), coords.get("long")
            if isinstance(lat, int | float) and isinstance(lon, int | float):
                name = name or f"{lat},{lon}"
                url = url or f"https://maps.google.com/?q={lat},{lon}"
        elif kind not in ATTACHMENT_KINDS:
            kind = "link"  # fallback (shared links), template, reel, post...
        attachment = Attachment(kind=kind, url=url, name=name)
        if attachment not in found:
            found.append(attachment)
    # Meta's sticker transition sends an `image` twin of each sticker: keep the sticker.
    stickers = {a.url for a in found if a.kind == "sticker"}
    return [a for a in found if not (a.kind == "image" and a.url in stickers)]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _id(value: Any) -> str | None:
    """Ids stay strings (page-scoped ids exceed what JavaScript numbers hold)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text[:128] or None


def _text(value: Any, max_chars: int) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return clean_text(value[:max_chars], max_chars)
    except InputError:
        return ""


def _payload(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:MAX_PAYLOAD]


def _url(value: Any) -> str | None:
    return value[:2000] if isinstance(value, str) and value.startswith("http") else None


def _short(value: Any) -> str:
    return value.strip()[:200] if isinstance(value, str) else ""


# =========================================================================== outbound
def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    return parts.split_text(text, limit)


def quick_replies(buttons: Sequence[Button]) -> list[dict[str, str]]:
    """Buttons as Messenger quick replies: at most 13, titles of at most 20 characters."""
    replies = []
    for button in buttons:
        title = " ".join(button.title.split()) or button.payload.strip()
        payload = button.payload.strip() or title
        if not title:
            continue
        if len(title) > MAX_TITLE:
            title = title[: MAX_TITLE - 1].rstrip() + "…"
        replies.append({"content_type": "text", "title": title, "payload": payload[:MAX_PAYLOAD]})
    return replies[:MAX_QUICK_REPLIES]


def message_parts(
    message: CustomerMessage, persona: Persona = DEFAULT_PERSONA
) -> list[dict[str, Any]]:
    """The Send API `message` objects for one hub message, in order: its text (split), a
    media attachment from Rasa, the buttons as quick replies on the last one."""
    parts: list[dict[str, Any]] = [{"text": t} for t in split_text(message.text)]
    media = _media(message.attachment)
    if media is not None:
        parts.append({"attachment": media})
    replies = quick_replies(message.buttons)
    if replies:
        if not parts:
            # Quick replies need something to ride on.
            parts = [{"text": persona.render(copy_vi.MESSENGER_CHOOSE)}]
        parts[-1]["quick_replies"] = replies
    return parts


def _media(attachment: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Rasa's image/attachment reply (`{"type", "payload": {"src"|"url"}}`) for the Send API."""
    if not attachment or attachment.get("type") not in ("image", "video", "audio", "file"):
        return None
    payload = _dict(attachment.get("payload"))
    url = _url(payload.get("url")) or _url(payload.get("src"))
    return {"type": attachment["type"], "payload": {"url": url}} if url else None


def graph_error(status: int, body: bytes) -> DeliveryError:
    """A Send API error response as a DeliveryError, transient or permanent."""
    try:
        error = _dict(json.loads(body).get("error"))
    except (ValueError, AttributeError):
        error = {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    detail = str(error.get("message") or "")[:200]

    def failure(kind: str, permanent: bool) -> DeliveryError:
        reason = copy_vi.messenger_failure(
            kind, status=status, code=code, subcode=subcode, detail=detail
        )
        return DeliveryError(reason, permanent=permanent)

    if code in RATE_LIMIT_CODES:
        return failure("rate_limited", False)
    if code in TRANSIENT_CODES or error.get("is_transient") is True:
        return failure("platform_down", False)
    if subcode in OUTSIDE_WINDOW_SUBCODES:
        return failure("window", True)
    if code == 551:
        return failure("unavailable", True)
    if code == 190:
        return failure("token", True)
    if code == 100:
        return failure("recipient", True)
    if code is not None and (code == 10 or 200 <= code < 300):
        return failure("permission", True)
    if status >= 500 or status in (408, 429):
        return failure("platform_down", False)
    return failure("rejected", True)


class _RedactToken(logging.Filter):
    """httpx logs every request's URL at INFO: the page token must not reach the logs."""

    pattern = re.compile(r"(access_token=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.pattern.sub(r"\1***", str(a)) if isinstance(a, httpx.URL) else a
                for a in record.args
            )
        return True


def _hide_token_in_logs() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactToken) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactToken())


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


# ============================================================================ channel
class MessengerChannel:
    name = NAME
    replies_inline = False  # answers go through the outbox and the Send API

    def __init__(
        self,
        settings: HubSettings,
        get_hub: Callable[[], Hub],
        client: httpx.AsyncClient | None = None,
    ) -> None:
        assert settings.messenger_enabled
        self.settings = settings
        self._persona = settings.persona()
        self._get_hub = get_hub
        self._app_secret: str = settings.messenger_app_secret or ""
        self._verify_token: str = settings.messenger_verify_token or ""
        self._page_token: str = settings.messenger_page_access_token or ""
        self._send_url = settings.messenger_graph_url.rstrip("/") + "/me/messages"
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        self._sent_parts = parts.SentParts()
        self.router = APIRouter(tags=["channels"])
        self.router.add_api_route("/webhooks/messenger", self.verify, methods=["GET"])
        self.router.add_api_route("/webhooks/messenger", self.receive, methods=["POST"])
        _hide_token_in_logs()

    # ------------------------------------------------------------------- webhook
    async def verify(self, request: Request) -> Response:
        challenge = verification_challenge(request.query_params, self._verify_token)
        if challenge is None:
            raise InputError(403, "messenger_verify_failed")
        return PlainTextResponse(challenge)

    async def receive(self, request: Request) -> Response:
        body = await request.body()  # capped by api/body_limit.py (webhook_max_body_bytes)
        if not signature_ok(body, request.headers.get(SIGNATURE_HEADER), self._app_secret):
            raise InputError(403, "messenger_bad_signature")
        inbound = parse_body(body, self.settings.max_message_chars)
        hub = self._get_hub()
        for message in inbound:  # in order: each is committed before the next
            await hub.accept(message)
        return PlainTextResponse("EVENT_RECEIVED")

    # ------------------------------------------------------------------ delivery
    def reply_window(self, last_customer_at: datetime, by_person: bool) -> datetime:
        """Until when Meta accepts a message: 24 h, or 7 days for a person (HUMAN_AGENT)."""
        span = timedelta(hours=self.settings.messenger_response_window_hours)
        if by_person:
            span = max(span, timedelta(days=self.settings.messenger_human_agent_window_days))
        return _aware(last_customer_at) + span

    def envelope(self, message: OutboundMessage, now: datetime | None = None) -> dict[str, Any]:
        """Recipient and messaging type for `message` now, or DeliveryError(permanent) when
        Meta would refuse it."""
        base: dict[str, Any] = {"recipient": {"id": message.recipient_id}}
        last = message.last_customer_at
        if last is None:
            return {**base, "messaging_type": "RESPONSE"}
        now = now or datetime.now(UTC)
        if now <= self.reply_window(last, by_person=False):
            return {**base, "messaging_type": "RESPONSE"}
        if message.by_person and now <= self.reply_window(last, by_person=True):
            return {**base, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        reason = copy_vi.messenger_window_closed(
            format_local(_aware(last), self.settings),
            by_person=message.by_person,
            hours=self.settings.messenger_response_window_hours,
            days=self.settings.messenger_human_agent_window_days,
        )
        raise DeliveryError(reason, permanent=True)

    async def deliver(self, message: OutboundMessage) -> None:
        envelope = self.envelope(message)
        pieces = message_parts(message.message, self._persona)
        if not pieces:
            log.warning("message %s has nothing Messenger can show", message.message.id)
        async def send(part: dict[str, Any]) -> None:
            await self._send({**envelope, "message": part})

        await self._sent_parts.send_all(message.message.id, pieces, send)

    async def _send(self, body: dict[str, Any]) -> None:
        try:
            response = await self._client.post(
                self._send_url, params={"access_token": self._page_token}, json=body
            )
        except httpx.TimeoutException as exc:
            raise DeliveryError(copy_vi.messenger_failure("unreachable", detail="timeout")) from exc
        except httpx.HTTPError as exc:
            # Never str(exc): it may hold the URL, and the URL holds the page token.
            detail = type(exc).__name__
            raise DeliveryError(copy_vi.messenger_failure("unreachable", detail=detail)) from exc
        if response.status_code >= 300:
            raise graph_error(response.status_code, response.content)

    async def aclose(self) -> None:
        await self._client.aclose()


def build(settings: HubSettings, sio: Any, get_hub: Callable[[], Hub]) -> MessengerChannel | None:
    """The Messenger channel, or None (its webhook then answers 404) until the app secret,
    the verify token and the page access token are all set."""
    if not settings.messenger_enabled:
        return None
    return MessengerChannel(settings, get_hub)
