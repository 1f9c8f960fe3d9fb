"""Logging of the hub: plain text for a terminal, JSON lines for a log shipper.

Every record carries the conversation being handled (a context variable set by the use
cases, so it follows the coroutine, not the thread) and passes through `redact`: phones,
e-mails and card numbers, tokens in query strings (`?token=`, Meta's `hub.verify_token`)
and widget session ids in URLs (a session id lets its holder read that conversation) never
reach a log line, whoever formatted the message (uvicorn's access log included).
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime

from triage.facts import mask_pii

_TOKEN_PARAM = re.compile(r"((?:^|[?&\s])[\w.]*token=)[^&\s\"']+", re.IGNORECASE)
_SESSION_PATH = re.compile(r"(/api/conversations/)[^/\s?\"']+")


def redact(text: str) -> str:
    text = _TOKEN_PARAM.sub(r"\1***", text)
    text = _SESSION_PATH.sub(r"\1***", text)
    return mask_pii(text)


# The conversation the current coroutine is working on (id or "<channel>:<sender>").
conversation_id: ContextVar[str | None] = ContextVar("cskh_conversation_id", default=None)


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation_id = conversation_id.get()
        # Formatting here, once, lets the mask see the final text whatever the arguments.
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        conv = getattr(record, "conversation_id", None)
        if conv:
            line["conversation_id"] = conv
        if record.exc_info:
            line["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def configure(log_format: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_Context())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
