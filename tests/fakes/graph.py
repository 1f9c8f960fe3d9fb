"""A fake Meta Graph API serving the Messenger Send API on 127.0.0.1, for API and e2e tests.

`POST /{version}/me/messages?access_token=...` (or `/{version}/{page-id}/messages`) checks a
request the way Meta documents it and answers `{"recipient_id", "message_id"}`, or an error
body `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}` with HTTP 400
(or 500 for Meta's transient failures). Every request is recorded; switches simulate an
outage and specific errors. A real HTTP server in a thread, so the hub under test (in
process or a separate process) reaches it over TCP exactly as it would reach Meta:

    with FakeGraph(page_token="page-token") as graph:
        env["CSKH_HUB_MESSENGER_GRAPH_URL"] = graph.url      # http://127.0.0.1:<port>/v21.0
        ...
        graph.wait_for(1)                                    # blocking; async code polls
        assert graph.sent[0].recipient_id == "1234567890"
        graph.down()                                         # HTTP 500 until graph.up()
        graph.fail_next(2, USER_UNAVAILABLE)                 # the next two sends fail

All public methods and properties are thread-safe; `requests` and `sent` return snapshots.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "INVALID_TOKEN",
    "NO_MATCHING_USER",
    "OUTSIDE_WINDOW",
    "RATE_LIMITED",
    "TEMPORARY",
    "USER_UNAVAILABLE",
    "FakeGraph",
    "GraphError",
    "GraphRequest",
]

MESSAGING_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}
MESSAGE_TAGS = {
    "HUMAN_AGENT",
    "ACCOUNT_UPDATE",
    "CONFIRMED_EVENT_UPDATE",
    "POST_PURCHASE_UPDATE",
    "CUSTOMER_FEEDBACK",
}
MAX_TEXT = 2000
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20


@dataclass(frozen=True)
class GraphError:
    """An error the fake answers with: HTTP status and Meta's error object."""

    status: int
    code: int
    message: str
    subcode: int | None = None
    type: str = "OAuthException"
    transient: bool = False

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "fbtrace_id": "A" + uuid.uuid4().hex[:10],
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient:
            error["is_transient"] = True
        return {"error": error}


# Meta's documented errors (Messenger Platform "Common error codes").
TEMPORARY = GraphError(
    500, 2, "An unexpected error has occurred. Please retry your request later.", transient=True
)
RATE_LIMITED = GraphError(400, 613, "Calls to this api have exceeded the rate limit.")
OUTSIDE_WINDOW = GraphError(
    400,
    10,
    "(#10) This message is sent outside of allowed window. "
    "Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
    subcode=2018278,
)
USER_UNAVAILABLE = GraphError(400, 551, "This person isn't available right now.", subcode=1545041)
NO_MATCHING_USER = GraphError(400, 100, "(#100) No matching user found", subcode=2018001)
INVALID_TOKEN = GraphError(400, 190, "Invalid OAuth access token - Cannot parse access token")


def _invalid(message: str) -> GraphError:
    return GraphError(400, 100, message, type="OAuthException")


@dataclass(frozen=True)
class GraphRequest:
    """One request the fake received and what it answered."""

    method: str
    path: str
    query: dict[str, str]
    json: Any  # the parsed body (None when it was not JSON)
    status: int
    response: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def recipient_id(self) -> str | None:
        body = self.json if isinstance(self.json, dict) else {}
        recipient = body.get("recipient")
        return recipient.get("id") if isinstance(recipient, dict) else None

    @property
    def message(self) -> dict[str, Any]:
        body = self.json if isinstance(self.json, dict) else {}
        message = body.get("message")
        return message if isinstance(message, dict) else {}

    @property
    def text(self) -> str | None:
        text = self.message.get("text")
        return text if isinstance(text, str) else None

    @property
    def messaging_type(self) -> str | None:
        return self.json.get("messaging_type") if isinstance(self.json, dict) else None

    @property
    def tag(self) -> str | None:
        return self.json.get("tag") if isinstance(self.json, dict) else None

    @property
    def quick_replies(self) -> list[dict[str, Any]]:
        replies = self.message.get("quick_replies")
        return replies if isinstance(replies, list) else []


class FakeGraph:
    """The Send API on `http://127.0.0.1:<port>/<version>` (see the module docstring).

    `page_token`: the only access token accepted (any non-empty one when None).
    `delay`: seconds to wait before answering (to simulate a slow platform).
    """

    def __init__(
        self, *, page_token: str | None = None, version: str = "v21.0", port: int = 0
    ) -> None:
        self.page_token = page_token
        self.version = version
        self.delay = 0.0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._requests: list[GraphRequest] = []
        self._outage: GraphError | None = None
        self._fail_next: list[GraphError] = []
        self._let_through = 0
        self._by_recipient: dict[str, GraphError] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base for `CSKH_HUB_MESSENGER_GRAPH_URL` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}/{self.version}"

    def start(self) -> FakeGraph:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="fake-graph", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------- switches
    def down(self, error: GraphError = TEMPORARY) -> None:
        """Every send fails with `error` (HTTP 500 by default) until `up()`."""
        with self._lock:
            self._outage = error

    def up(self) -> None:
        with self._lock:
            self._outage = None

    def fail_next(self, count: int = 1, error: GraphError = TEMPORARY, *, skip: int = 0) -> None:
        """Let `skip` sends through, then fail the next `count` with `error`."""
        with self._lock:
            self._let_through = skip
            self._fail_next = [error] * count

    def fail_recipient(self, recipient_id: str, error: GraphError | None) -> None:
        """Every send to `recipient_id` fails with `error` (None: succeeds again)."""
        with self._lock:
            if error is None:
                self._by_recipient.pop(recipient_id, None)
            else:
                self._by_recipient[recipient_id] = error

    def reset(self) -> None:
        """Forget the requests and clear every switch."""
        with self._lock:
            self._requests.clear()
            self._outage = None
            self._fail_next = []
            self._let_through = 0
            self._by_recipient.clear()
            self.delay = 0.0

    # ------------------------------------------------------------------ reads
    @property
    def requests(self) -> list[GraphRequest]:
        """Every request received, failed ones included."""
        with self._lock:
            return list(self._requests)

    @property
    def sent(self) -> list[GraphRequest]:
        """The sends Meta would have delivered (answered 200), in arrival order."""
        with self._lock:
            return [r for r in self._requests if r.ok]

    @property
    def failed(self) -> list[GraphRequest]:
        with self._lock:
            return [r for r in self._requests if not r.ok]

    def texts(self, recipient_id: str | None = None) -> list[str | None]:
        return [r.text for r in self.sent if recipient_id in (None, r.recipient_id)]

    def wait_for(
        self,
        count: int,
        timeout: float = 10.0,
        where: Callable[[GraphRequest], bool] = lambda r: r.ok,
    ) -> list[GraphRequest]:
        """Block until `count` requests match `where` (default: delivered); return them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self._requests if where(r)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(found)} of {count} Graph requests after {timeout}s")
                self._changed.wait(left)

    # ---------------------------------------------------------------- serving
    def _answer(
        self, method: str, path: str, query: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        status, response = self._decide(method, path, query, body)
        with self._changed:
            self._requests.append(GraphRequest(method, path, query, body, status, response))
            self._changed.notify_all()
        return status, response

    def _decide(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if (
            method != "POST"
            or len(parts) != 3
            or parts[0] != self.version
            or parts[2] != "messages"
            or not (parts[1] == "me" or parts[1].isdigit())
        ):
            error = GraphError(400, 2500, f"Unknown path components: {path}")
            return error.status, error.body()
        with self._lock:
            outage = self._outage
            injected = None
            if outage is None and self._fail_next:
                if self._let_through > 0:
                    self._let_through -= 1
                else:
                    injected = self._fail_next.pop(0)
        if outage is not None:
            return outage.status, outage.body()
        token = query.get("access_token", "")
        if not token:
            error = GraphError(
                400, 2500, "An active access token must be used to query information."
            )
            return error.status, error.body()
        if self.page_token is not None and token != self.page_token:
            return INVALID_TOKEN.status, INVALID_TOKEN.body()
        if injected is not None:
            return injected.status, injected.body()
        problem = _check(body)
        if problem is not None:
            return problem.status, problem.body()
        recipient = str(body["recipient"]["id"])
        with self._lock:
            per_recipient = self._by_recipient.get(recipient)
        if per_recipient is not None:
            return per_recipient.status, per_recipient.body()
        answer: dict[str, Any] = {"recipient_id": recipient}
        if "message" in body:
            answer["message_id"] = "m_" + uuid.uuid4().hex
        return 200, answer


def _check(body: Any) -> GraphError | None:
    """What Meta would refuse in a Send API body (the checks its error messages name)."""
    if not isinstance(body, dict):
        return _invalid("(#100) The parameter recipient is required")
    recipient = body.get("recipient")
    if not isinstance(recipient, dict) or not isinstance(recipient.get("id"), str | int):
        return _invalid("(#100) The parameter recipient is required")
    if not str(recipient["id"]).strip():
        return _invalid("(#100) param recipient must be non-empty.")
    if "sender_action" in body and "message" not in body:
        return None  # typing_on / mark_seen
    messaging_type = body.get("messaging_type")
    if messaging_type not in MESSAGING_TYPES:
        return _invalid(
            "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}"
        )
    if messaging_type == "MESSAGE_TAG" and body.get("tag") not in MESSAGE_TAGS:
        return _invalid("(#100) Param tag must be a valid message tag")
    message = body.get("message")
    if not isinstance(message, dict):
        return _invalid("(#100) The parameter message is required")
    text, attachment = message.get("text"), message.get("attachment")
    if not (isinstance(text, str) and text) and not isinstance(attachment, dict):
        return _invalid("(#100) Must send either text or attachment")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        return _invalid(
            f"(#100) Length of param message[text] must be less than or equal to {MAX_TEXT}"
        )
    replies = message.get("quick_replies", [])
    if not isinstance(replies, list) or len(replies) > MAX_QUICK_REPLIES:
        return _invalid(
            f"(#100) param message[quick_replies] must have at most {MAX_QUICK_REPLIES}"
        )
    for reply in replies:
        if not isinstance(reply, dict) or reply.get("content_type") != "text":
            continue
        title, payload = reply.get("title"), reply.get("payload")
        if not isinstance(title, str) or not title or len(title) > MAX_QUICK_REPLY_TITLE:
            return _invalid(
                "(#100) param message[quick_replies][title] must be a non-empty string of at "
                f"most {MAX_QUICK_REPLY_TITLE} characters"
            )
        if not isinstance(payload, str | int) or not str(payload):
            return _invalid("(#100) param message[quick_replies][payload] is required")
    return None


def _handler(graph: FakeGraph) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if graph.delay:
                time.sleep(graph.delay)
            status, response = graph._answer(
                self.command, url.path, dict(parse_qsl(url.query)), raw
            )
            data = json.dumps(response).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None  # quiet: the test reads `graph.requests`

    return Handler
