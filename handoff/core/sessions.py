"""Widget session ids the hub signs: a session id is a bearer credential for one chat.

Rasa's socket protocol has the client store the id it was confirmed and send it back, so the
id itself carries the proof: 24 random hex digits, the expiry (unix seconds, 8 hex digits) and
an HMAC-SHA256 of both under `CSKH_HUB_SECRET_KEY` (22 base64url characters). Stock widgets
(rasa-webchat) store and resend it unchanged. An id the hub did not issue, or one that
expired, is never honoured: the socket gets a fresh one, the history route shows nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

_RANDOM, _EXPIRY, _SIG = 24, 8, 22
LENGTH = _RANDOM + _EXPIRY + _SIG


def _signature(secret: str, body: str) -> str:
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:_SIG]


def issue(secret: str, ttl_seconds: float, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + ttl_seconds)
    body = f"{secrets.token_hex(_RANDOM // 2)}{expires:08x}"
    return body + _signature(secret, body)


def valid(secret: str, session_id: object, now: float | None = None) -> bool:
    """Issued by this hub (same secret) and not expired."""
    if not isinstance(session_id, str) or len(session_id) != LENGTH:
        return False
    body, signature = session_id[: _RANDOM + _EXPIRY], session_id[_RANDOM + _EXPIRY :]
    if not hmac.compare_digest(signature, _signature(secret, body)):
        return False
    try:
        expires = int(body[_RANDOM:], 16)
    except ValueError:
        return False
    return expires > (time.time() if now is None else now)


def public_ref(session_id: str) -> str:
    """What agents and logs may see of a session id: stable, short, not a credential."""
    return "w" + hashlib.sha256(session_id.encode()).hexdigest()[:15]
