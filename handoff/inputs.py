"""Validation of customer text, shared by every channel so no garbage is ever stored."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# C0/C1 control characters except tab and newlines, plus zero-width/bidi overrides that are
# used to disguise text; PostgreSQL also rejects NUL in text columns.
_CONTROL_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


class InputError(Exception):
    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


def clean_text(raw: Any, max_chars: int) -> str:
    """NFC-normalised, control-free, stripped text, or InputError with a Vietnamese message."""
    if not isinstance(raw, str):
        raise InputError(422, "message_required", "Thiếu nội dung tin nhắn (message).")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates from JSON "\ud800" escapes
        raise InputError(400, "invalid_text", "Tin nhắn chứa ký tự không hợp lệ.") from exc
    text = _CONTROL_RE.sub("", unicodedata.normalize("NFC", raw)).strip()
    if not text:
        raise InputError(422, "empty_message", "Tin nhắn trống, vui lòng nhập nội dung.")
    if len(text) > max_chars:
        raise InputError(
            413,
            "message_too_long",
            f"Tin nhắn quá dài ({len(text)} ký tự), tối đa {max_chars} ký tự.",
        )
    return text


def clean_sender(raw: Any) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise InputError(422, "sender_required", "Thiếu mã người gửi (sender).")
    sender = raw.strip()
    if len(sender) > 128 or _CONTROL_RE.search(sender):
        raise InputError(422, "invalid_sender", "Mã người gửi (sender) không hợp lệ.")
    try:
        sender.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(400, "invalid_sender", "Mã người gửi (sender) không hợp lệ.") from exc
    return sender
