"""Logging of the hub: plain text for a terminal, JSON lines for a log shipper.

Every record carries the conversation being handled (a context variable set by the use
cases, so it follows the coroutine, not the thread) and passes through `mask_pii`: phones,
e-mails and card numbers never reach a log line, whoever formatted the message.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

from triage.facts import mask_pii

# The conversation the current coroutine is working on (id or "<channel>:<sender>").
conversation_id: ContextVar[str | None] = ContextVar("cskh_conversation_id", default=None)


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.conversation_id = conversation_id.get()
        # Formatting here, once, lets the mask see the final text whatever the arguments.
        message = record.getMessage()
        record.msg, record.args = mask_pii(message), None
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
            line["error"] = mask_pii(self.formatException(record.exc_info))
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
