"""Validation of customer text, shared by every channel so no garbage is ever stored."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Collection, Mapping
from typing import Any

from .core.copy_vi import error_text

# C0/C1 control characters except tab and newlines, plus zero-width/bidi overrides that are
# used to disguise text; PostgreSQL also rejects NUL in text columns. The joiners U+200C/D
# stay: emoji sequences (👨‍👩‍👧, 🤦‍♀️) are built with U+200D.
_CONTROL_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


class InputError(Exception):
    """Input a channel must refuse: an HTTP status for webhooks, a code for socket events."""

    def __init__(
        self, status_code: int, code: str, *, wording: str | None = None, **params: Any
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.params = params
        # `wording` picks more specific copy than the code's own (same code, other cause).
        self.message = error_text(wording or code, params)
        super().__init__(self.message)


def clean_text(raw: Any, max_chars: int) -> str:
    """NFC-normalised, control-free, stripped text, or InputError with a Vietnamese message."""
    if not isinstance(raw, str):
        raise InputError(422, "message_required")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates from JSON "\ud800" escapes
        raise InputError(400, "invalid_text") from exc
    text = _CONTROL_RE.sub("", unicodedata.normalize("NFC", raw)).strip()
    if not text:
        raise InputError(422, "empty_message")
    if len(text) > max_chars:
        raise InputError(413, "message_too_long", length=len(text), limit=max_chars)
    return text


def clean_sender(raw: Any) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise InputError(422, "sender_required")
    return _short_id(raw.strip(), "invalid_sender")


def _short_id(value: str, code: str) -> str:
    """An id the hub stores and compares as text: at most 128 characters, no control
    characters, valid UTF-8 (a lone surrogate from a JSON escape is refused)."""
    if not value or len(value) > 128 or _CONTROL_RE.search(value):
        raise InputError(422, code)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(400, code) from exc
    return value


def clean_message_id(raw: Any) -> str | None:
    """A client's own id for its message (a redelivery that carries it is answered once), or
    None without one. Stored and compared as text, so it is held to the sender's rules; a
    longer one is refused rather than cut, since two cut ids could collide and drop a message
    as a redelivery."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise InputError(422, "invalid_message_id")
    return _short_id(str(raw).strip(), "invalid_message_id")


def clean_metadata(
    raw: Mapping[str, Any], allowed: Collection[str], max_chars: int
) -> dict[str, Any]:
    """The allow-listed, scalar part of a client's metadata, at most `max_chars` of JSON.
    Metadata is decoration: what does not fit is dropped, the message itself is kept."""
    kept: dict[str, Any] = {}
    size = 2  # "{}"
    for key in allowed:
        value = raw.get(key)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                continue
            value = _CONTROL_RE.sub("", value)[:512]
        elif not isinstance(value, (int, float, bool)) or value is None:
            continue
        elif isinstance(value, float) and not math.isfinite(value):
            continue  # NaN and infinities are not JSON: Rasa's request would not encode
        item = len(json.dumps({key: value}, ensure_ascii=False))
        if size + item > max_chars:
            continue
        kept[key] = value
        size += item
    return kept
