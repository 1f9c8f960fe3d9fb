"""Test doubles and a live-server helper shared by the API and browser tests of the hub."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import uvicorn
from sqlalchemy import event

from actions.orders import not_found_text
from cskh import query_vector
from cskh.stack import ROUND_THE_CLOCK
from handoff.rasa import RasaUnavailable
from handoff.triage_port import Decision

# Business hours with no closed minute, as the e2e stacks use ("00:00-23:59" left 23:59
# closed, and a suite running then read the after-hours reply).
ALWAYS_OPEN = ROUND_THE_CLOCK["CSKH_HUB_BUSINESS_HOURS"]

# Heartbeat settings for live servers with polling socket.io clients: a polling client's
# disconnect waits for the heartbeat (with the production 20 s timeout each close took ~21 s,
# and the widget-flood test outlasted its 60 s rate-limit window). 5 s still outlasts the
# 2.5 s stall that test_socketio's stalled-loop test puts a live socket through.
FAST_HEARTBEAT = {"socket_ping_interval": 1.0, "socket_ping_timeout": 5.0}


class CannedRasa:
    """Answers like Rasa's REST channel; records every call so tests can assert silence."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.down = False
        self.silent = False  # Rasa's answer when a custom action failed: an empty list

    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        self.calls.append({"sender": sender, "message": message, "metadata": metadata})
        if self.down:
            raise RasaUnavailable("connection refused")
        if self.silent:
            return []
        if "người thật" in message:
            return [
                {"recipient_id": sender, "text": "Mình sẽ chuyển bạn tới nhân viên."},
                {
                    "recipient_id": sender,
                    "custom": {"cskh_meta": {"kind": "handoff_request", "reason": "requested"}},
                },
            ]
        if "hài lòng" in message:  # praise the NLU reads as a complaint (utter_complain)
            return [
                {"recipient_id": sender, "text": "Xin lỗi bạn, mình đã chuyển cho nhân viên."},
                {
                    "recipient_id": sender,
                    "custom": {"cskh_meta": {"kind": "handoff_request", "reason": "complaint"}},
                },
            ]
        if "DH999999" in message:  # an order look-up that finds nothing (actions/orders.py)
            return [
                {
                    "recipient_id": sender,
                    "text": not_found_text("DH999999"),
                    "buttons": [{"title": "Gặp nhân viên", "payload": "/request_human"}],
                },
                {"recipient_id": sender, "custom": {"cskh_meta": {"kind": "order_status"}}},
            ]
        if "còn hàng" in message:  # a question about one product (utter_product_question)
            return [
                {
                    "recipient_id": sender,
                    "text": "Mình chưa xem được tồn kho, bạn có thể gặp nhân viên.",
                    "buttons": [{"title": "Gặp nhân viên", "payload": "/request_human"}],
                },
                {"recipient_id": sender, "custom": {"cskh_meta": {"kind": "product_question"}}},
            ]
        # An answer the search is not sure of: the passage, then other articles to pick.
        sure = "chưa rõ" not in message
        return [
            {
                "recipient_id": sender,
                "text": f"Trả lời: {message}",
                "buttons": [
                    {"title": "Có", "payload": "/feedback_helpful"},
                    {"title": "Không", "payload": "/feedback_not_helpful"},
                ],
            },
            {
                "recipient_id": sender,
                "custom": {
                    "cskh_meta": {
                        "kind": "faq_answer",
                        "confident": sure,
                        "articles": [],
                        "query": message,
                    }
                },
            },
        ]

    async def healthy(self) -> bool:
        return not self.down

    async def aclose(self) -> None:
        return None


class KeywordTriage:
    """Deterministic stand-in for triage: anger and explicit requests by keyword."""

    ANGRY = ("bực", "tức", "lừa đảo")

    def analyse(self, text: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        angry = any(w in text.lower() for w in self.ANGRY)
        sentiment = {
            "label": "negative" if angry else "neutral",
            "angry": angry,
            "score": -0.9 if angry else 0.0,
        }
        # A recognisable vector: its first component is the text's length.
        vector = query_vector.encode("keyword-test", text.lower(), np.array([len(text), 1.0]))
        return sentiment, vector

    def analyse_many(
        self, texts: Sequence[str]
    ) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
        return [self.analyse(t) for t in texts]

    def decide(
        self, history: Sequence[dict[str, Any]], latest: dict[str, Any], profile: dict[str, Any]
    ) -> Decision:
        t = latest["text"].lower()
        if any(w in t for w in self.ANGRY):
            return Decision(True, ["angry"], 2, "Mình rất xin lỗi, nhân viên sẽ hỗ trợ bạn ngay.")
        if "bị móp" in t:  # a calm report of a case a person must settle
            return Decision(True, ["complex"], 2, "Xin lỗi bạn, nhân viên sẽ xử lý giúp bạn.")
        if "gặp nhân viên" in t:
            return Decision(True, ["requested"], 1, "Mình chuyển bạn tới nhân viên nhé.",
                            "Mình đã chuyển yêu cầu của bạn tới nhân viên.")
        replies = latest.get("replies") or []  # the bot's reading of this message
        metas = [r.get("meta") or {} for r in replies]
        if "hài lòng" in t and metas and metas[-1].get("reason") == "complaint":
            return Decision(False, [], 0, "Cảm ơn bạn đã khen!")  # triage's praise_score
        if metas and metas[-1].get("kind") == "handoff_request":
            return Decision(True, ["requested"], 1, None)
        return Decision(False)

    def summarize(
        self,
        transcript: Sequence[dict[str, Any]],
        reasons: Sequence[str],
        channel: str,
        waited_seconds: float | None,
    ) -> dict[str, Any]:
        issue = [t["text"] for t in transcript if t["role"] == "user"]
        return {
            "text": "Khách: " + " | ".join(issue),
            "reasons": list(reasons),
            "facts": {},
            "sentiment": [],
        }


def claim_now(hub: Any, cid: str, agent: Any) -> None:
    """A claim from a plain thread, straight through the store (for real database races)."""
    from handoff.store import lifecycle

    with hub.store.write() as s:
        lifecycle.claim(s, cid, agent)


def set_status_now(hub: Any, agent_id: int, status: str) -> None:
    from handoff.store import agents

    with hub.store.write() as s:
        agents.set_status(s, agent_id, status)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real uvicorn serving an ASGI app in a background thread (its own event loop)."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)


@contextmanager
def counting(hub: Any) -> Iterator[list[str]]:
    """The SQL statements the hub's engine runs inside the block (query-count tests)."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(hub.store.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(hub.store.engine, "before_cursor_execute", count)
