"""A fake Zalo: the OA send API and the OAuth v4 token endpoint on one real HTTP server, plus
helpers to build and sign webhook events the way Zalo does.

    with FakeZalo() as zalo:                      # or zalo = FakeZalo().start(); zalo.stop()
        env = {"CSKH_HUB_ZALO_API_URL": zalo.url, "CSKH_HUB_ZALO_OAUTH_URL": zalo.url, ...}
        ...
        zalo.sent                                 # messages Zalo accepted, in order

Behaves like Zalo where the hub depends on it: application errors come with HTTP 200 and
`{"error": <code>, "message"}`; only the current access token is accepted (-216 otherwise);
a refresh needs the app secret in the `secret_key` header, the app id and the *current*
refresh token (a used one is refused), and rotates both tokens. Switches: expire the access
token, an outage (HTTP 500 or dropped connections) for N requests or T seconds, error codes
for the next sends or for one user, latency. Thread-safe: the server runs in its own threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

SEND_PATH = "/v3.0/oa/message/cs"
TOKEN_PATH = "/v4/oa/access_token"

APP_ID = "1234567890123456789"
APP_SECRET = "fake-app-secret"
OA_ID = "3662729599332560487"
OA_SECRET_KEY = "fake-oa-secret-key"


@dataclass(frozen=True)
class SentMessage:
    """One send request as Zalo received it."""

    user_id: str
    text: str
    access_token: str
    error: int  # what Zalo answered (0: delivered)
    message_id: str | None = None
    body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Refresh:
    """One call of the token endpoint."""

    refresh_token: str
    app_id: str
    secret_key: str
    granted: bool


class FakeZalo:
    def __init__(
        self,
        *,
        app_id: str = APP_ID,
        app_secret: str = APP_SECRET,
        access_token: str = "access-0",
        refresh_token: str = "refresh-0",
        expires_in: str | int = "90000",
        latency: float = 0.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.expires_in = expires_in  # as sent back by a refresh (Zalo: a string)
        self.latency = latency  # seconds before each answer
        self._lock = threading.Lock()
        self._access = access_token
        self._refresh = refresh_token
        self._generation = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._attempts: list[SentMessage] = []
        self._refreshes: list[Refresh] = []
        self._errors_next: list[tuple[int, str]] = []
        self._errors_after = 0
        self._errors_for_user: dict[str, tuple[int, str]] = {}
        self._outage_requests = 0
        self._outage_until = 0.0
        self._outage_kind = "http_500"
        self._server = _Server((host, 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://{host}:{self._server.server_address[1]}"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeZalo:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeZalo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------- state
    @property
    def access_token(self) -> str:
        with self._lock:
            return self._access

    @property
    def refresh_token(self) -> str:
        with self._lock:
            return self._refresh

    @property
    def sent(self) -> list[SentMessage]:
        """Messages Zalo accepted (error 0), in the order they arrived."""
        with self._lock:
            return [m for m in self._attempts if m.error == 0]

    @property
    def attempts(self) -> list[SentMessage]:
        """Every send request that got an answer, accepted or not."""
        with self._lock:
            return list(self._attempts)

    @property
    def refreshes(self) -> int:
        """Refreshes granted (new token pairs issued)."""
        with self._lock:
            return sum(1 for r in self._refreshes if r.granted)

    @property
    def refresh_calls(self) -> list[Refresh]:
        with self._lock:
            return list(self._refreshes)

    def texts_to(self, user_id: str) -> list[str]:
        return [m.text for m in self.sent if m.user_id == user_id]

    # ---------------------------------------------------------------- switches
    def expire_access_token(self) -> None:
        """The current access token stops working (sends answer -216 until a refresh)."""
        with self._lock:
            self._access = f"expired-{self._access}"

    def set_tokens(self, access_token: str, refresh_token: str) -> None:
        with self._lock:
            self._access, self._refresh = access_token, refresh_token

    def outage(self, *, requests: int = 0, seconds: float = 0.0, kind: str = "http_500") -> None:
        """The next `requests` requests, or all for `seconds`, fail: `kind` "http_500"
        answers HTTP 500, "drop" closes the connection without an answer."""
        if kind not in ("http_500", "drop"):
            raise ValueError(kind)
        with self._lock:
            self._outage_requests = requests
            self._outage_until = time.monotonic() + seconds if seconds else 0.0
            self._outage_kind = kind

    def end_outage(self) -> None:
        with self._lock:
            self._outage_requests, self._outage_until = 0, 0.0

    def fail_next(self, code: int, message: str = "", times: int = 1, after: int = 0) -> None:
        """The next `times` sends (after letting `after` sends through) answer
        `{"error": code, "message": message}`."""
        with self._lock:
            self._errors_after = after
            self._errors_next.extend([(code, message or f"error {code}")] * times)

    def refuse_user(self, user_id: str, code: int = -230, message: str = "") -> None:
        """Every send to `user_id` answers this error (e.g. -230: outside the 7 days)."""
        text = message or "User has not interacted with the OA in the past 7 days"
        with self._lock:
            self._errors_for_user[user_id] = (code, text)

    # ------------------------------------------------------------ request logic
    def _in_outage(self) -> str | None:
        with self._lock:
            if self._outage_requests > 0:
                self._outage_requests -= 1
                return self._outage_kind
            if self._outage_until and time.monotonic() < self._outage_until:
                return self._outage_kind
            return None

    def _send(self, token: str, body: Any) -> dict[str, Any]:
        recipient = body.get("recipient") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        user_id = recipient.get("user_id") if isinstance(recipient, dict) else None
        text = message.get("text") if isinstance(message, dict) else None
        with self._lock:
            if token != self._access:
                error, why = -216, "Access token is invalid"
            elif not isinstance(user_id, str) or not user_id:
                error, why = -201, "user_id is invalid!"
            elif not isinstance(text, str) or not text or len(text) > 2000:
                error, why = -210, "Parameter exceeds allowable limit"
            elif user_id in self._errors_for_user:
                error, why = self._errors_for_user[user_id]
            elif self._errors_next and self._errors_after <= 0:
                error, why = self._errors_next.pop(0)
            else:
                error, why = 0, "Success"
                self._errors_after -= 1
            mid = f"zmsg-{next(self._message_ids)}" if error == 0 else None
            self._attempts.append(SentMessage(str(user_id), str(text), token, error, mid, body))
        if error:
            return {"error": error, "message": why}
        return {"error": 0, "message": "Success", "data": {"message_id": mid, "user_id": user_id}}

    def _token(self, secret_key: str, form: Mapping[str, str]) -> dict[str, Any]:
        refresh = form.get("refresh_token", "")
        app_id = form.get("app_id", "")
        with self._lock:
            if secret_key != self.app_secret:
                answer: dict[str, Any] = {"error": -14001, "error_name": "Invalid secret key"}
            elif app_id != self.app_id:
                answer = {"error": -14002, "error_name": "Invalid appId"}
            elif form.get("grant_type") != "refresh_token":
                answer = {"error": -14003, "error_name": "Invalid grant type"}
            elif refresh != self._refresh:
                answer = {"error": -14014, "error_name": "Invalid refresh token"}
            else:
                n = next(self._generation)
                self._access, self._refresh = f"access-{n}", f"refresh-{n}"
                answer = {
                    "access_token": self._access,
                    "refresh_token": self._refresh,
                    "expires_in": self.expires_in,
                }
            granted = "access_token" in answer
            self._refreshes.append(Refresh(refresh, app_id, secret_key, granted))
        return answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # dropped connections (the "drop" outage) are expected


def _handler(zalo: FakeZalo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return None

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if zalo.latency:
                time.sleep(zalo.latency)
            outage = zalo._in_outage()
            if outage == "drop":
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if outage == "http_500":
                self._answer(500, {"error": -1, "message": "Internal Server Error"})
                return
            path = self.path.split("?", 1)[0]
            if path == SEND_PATH:
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                token = self.headers.get("access_token") or ""
                self._answer(200, zalo._send(token, body))
            elif path == TOKEN_PATH:
                form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
                self._answer(200, zalo._token(self.headers.get("secret_key") or "", form))
            else:
                self._answer(404, {"error": -1, "message": f"no such path {path}"})

        def _answer(self, status: int, data: Mapping[str, Any]) -> None:
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


# ============================================================================ webhooks
def signature(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """`X-ZEvent-Signature`'s value: mac=<hex sha256(app id + body + timestamp + key)>."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret_key.encode())
    return "mac=" + digest.hexdigest()


_timestamps = itertools.count(int(time.time() * 1000))
_msg_ids = itertools.count(1)


def event(
    event_name: str,
    user_id: str,
    *,
    text: str | None = None,
    msg_id: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    timestamp: str | None = None,
    app_id: str = APP_ID,
    oa_id: str = OA_ID,
    **extra: Any,
) -> dict[str, Any]:
    """An event shaped as Zalo documents it: `{"app_id", "sender": {"id"}, "recipient":
    {"id"}, "event_name", "message": {"text", "msg_id"}, "timestamp": "<ms>"}`; `follow`
    and `unfollow` carry `follower` (and `oa_id`) instead of sender and recipient."""
    stamp = timestamp if timestamp is not None else str(next(_timestamps))
    data: dict[str, Any] = {"app_id": app_id, "event_name": event_name}
    if event_name in ("follow", "unfollow"):
        data.update({"oa_id": oa_id, "follower": {"id": user_id}, "source": "oa_profile"})
    else:
        data.update({"sender": {"id": user_id}, "recipient": {"id": oa_id}})
        if event_name.startswith(("user_send_", "user_seen", "user_received")):
            message: dict[str, Any] = {"msg_id": msg_id or f"mid-{next(_msg_ids)}"}
            if text is not None:
                message["text"] = text
            if attachments is not None:
                message["attachments"] = attachments
            data["message"] = message
    data["timestamp"] = stamp
    data.update(extra)
    return data


def text_event(user_id: str, text: str, msg_id: str | None = None, **kw: Any) -> dict[str, Any]:
    return event("user_send_text", user_id, text=text, msg_id=msg_id, **kw)


def image_event(
    user_id: str, url: str, caption: str | None = None, msg_id: str | None = None
) -> dict[str, Any]:
    attachment = {"type": "image", "payload": {"thumbnail": url, "url": url}}
    return event("user_send_image", user_id, text=caption, msg_id=msg_id, attachments=[attachment])


def signed(
    body: Mapping[str, Any] | bytes,
    *,
    app_id: str = APP_ID,
    oa_secret_key: str = OA_SECRET_KEY,
    timestamp: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """(raw body, headers) for `POST /webhooks/zalo`, signed with the event's own timestamp
    (or `timestamp` when given: to sign raw bytes, or to sign wrongly on purpose)."""
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    if timestamp is None:
        timestamp = str(body["timestamp"]) if not isinstance(body, bytes) else ""
    headers = {
        "Content-Type": "application/json",
        "X-ZEvent-Signature": signature(app_id, raw, timestamp, oa_secret_key),
    }
    return raw, headers


def settings_env(zalo: FakeZalo, oa_secret_key: str = OA_SECRET_KEY) -> dict[str, str]:
    """The hub's environment for this fake (for end-to-end runs of the real stack)."""
    return {
        "CSKH_HUB_ZALO_APP_ID": zalo.app_id,
        "CSKH_HUB_ZALO_APP_SECRET": zalo.app_secret,
        "CSKH_HUB_ZALO_OA_SECRET_KEY": oa_secret_key,
        "CSKH_HUB_ZALO_ACCESS_TOKEN": zalo.access_token,
        "CSKH_HUB_ZALO_REFRESH_TOKEN": zalo.refresh_token,
        "CSKH_HUB_ZALO_API_URL": zalo.url,
        "CSKH_HUB_ZALO_OAUTH_URL": zalo.url,
    }


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `check()` from a plain thread (e2e tests) until true or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


__all__ = [
    "APP_ID",
    "APP_SECRET",
    "OA_ID",
    "OA_SECRET_KEY",
    "FakeZalo",
    "Refresh",
    "SentMessage",
    "event",
    "image_event",
    "settings_env",
    "signature",
    "signed",
    "text_event",
    "wait_for",
]
