"""Helpers shared by the browser tests of the hub (chat page, widget, agent console).

Every wait is on a DOM state with a generous timeout: the tests run against the real stack
(Rasa, action server, hub) on a 2-core machine, where a bot answer can take seconds.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from cskh.paths import REPO_ROOT
from cskh.stack import Stack
from handoff.settings import HubSettings

# Playwright timeouts (ms). Bot answers go hub -> Rasa -> action server -> KB search.
WAIT = 60_000
SHORT = 15_000
SHOTS = REPO_ROOT / "var" / "screenshots"
# The stack's Messenger channel (tests/e2e/conftest.py points it at tests/fakes/graph.py).
MESSENGER_APP_SECRET = "e2e-messenger-app-secret"
MESSENGER_VERIFY_TOKEN = "e2e-verify-token"
MESSENGER_PAGE_TOKEN = "e2e-page-token"


def shot(page: Any, name: str) -> None:
    """Save a screenshot as var/screenshots/<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def new_page(browser: Any, width: int = 480, height: int = 820) -> tuple[Any, Any, list[str]]:
    """A fresh browser context (own storage, so a new conversation) and page; page errors
    are collected in the returned list."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN")
    context.set_default_timeout(WAIT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def wait_online(page: Any) -> None:
    page.get_by_test_id("cskh-status").filter(has_text="trực tuyến").wait_for()


def send(page: Any, message: str) -> None:
    """Type a customer message and press Enter; waits until the widget shows it."""
    before = page.get_by_test_id("cskh-msg-user").count()
    page.get_by_test_id("cskh-input").fill(message)
    page.get_by_test_id("cskh-input").press("Enter")
    page.get_by_test_id("cskh-msg-user").nth(before).wait_for()


def wait_count(page: Any, test_id: str, at_least: int, timeout: int = WAIT) -> None:
    page.get_by_test_id(test_id).nth(at_least - 1).wait_for(timeout=timeout)


def widget_sequence(page: Any) -> list[tuple[str, str]]:
    """(kind, text) of everything in the widget's message list, in order."""
    raw = page.evaluate(
        """() => Array.from(document.querySelectorAll(
              "[data-testid^='cskh-msg-'], [data-testid='cskh-notice']"))
            .map(n => [n.getAttribute('data-notice') !== null
                       ? 'notice:' + n.getAttribute('data-notice')
                       : n.getAttribute('data-testid').replace('cskh-msg-', ''),
                       n.innerText])"""
    )
    return [(kind, body) for kind, body in raw]


def record_texts(page: Any, test_id: str) -> None:
    """Remember every text the element takes from now on (read with `recorded_texts`), so a
    transient state (typing indicator, "reconnecting") can be asserted after the fact."""
    page.evaluate(
        """(id) => {
            const node = document.querySelector(`[data-testid='${id}']`);
            window.__seen = window.__seen || {};
            const seen = window.__seen[id] = [node.hidden ? '' : node.textContent];
            new MutationObserver(() => seen.push(node.hidden ? '' : node.textContent))
              .observe(node, {childList: true, characterData: true, subtree: true,
                              attributes: true});
        }""",
        test_id,
    )


def recorded_texts(page: Any, test_id: str) -> list[str]:
    return list(page.evaluate("(id) => (window.__seen || {})[id] || []", test_id))


def wait_recorded(page: Any, test_id: str, part: str, timeout: int = WAIT) -> None:
    """Wait until the element recorded by `record_texts` has shown a text containing `part`."""
    page.wait_for_function(
        "([id, part]) => ((window.__seen || {})[id] || []).some(t => t.includes(part))",
        arg=[test_id, part],
        timeout=timeout,
    )


def session_id(page: Any, hub_url: str) -> str:
    value = page.evaluate(f"localStorage.getItem('cskh_session_id:{hub_url}')")
    assert isinstance(value, str) and value
    return value


def login(page: Any, hub_url: str, username: str, password: str) -> None:
    page.goto(hub_url + "/console")
    page.wait_for_url(hub_url + "/console/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("#login-submit").click()
    page.wait_for_url(hub_url + "/console")
    page.locator("#conn.conn--ok").wait_for()


def rest_say(
    stack: Stack, sender: str, text: str, message_id: str | None = None, timeout: float = 60
) -> list[dict[str, Any]]:
    """One customer message through the hub's REST channel (Rasa's REST contract); its
    replies. `message_id`: the client's id of the message, for redelivery tests."""
    payload: dict[str, Any] = {"sender": sender, "message": text}
    if message_id is not None:
        payload["metadata"] = {"message_id": message_id}
    request = urllib.request.Request(
        f"{stack.config.hub_url}/webhooks/rest/webhook",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def hub_db(stack: Stack, sql: str, **params: Any) -> list[Any]:
    """Rows from the stack's hub database (the source of truth the hub writes first)."""
    assert stack.config.database_url
    engine = create_engine(HubSettings(database_url=stack.config.database_url).sqlalchemy_url())
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def rasa_user_texts(stack: Stack, conversation_id: str) -> list[str]:
    """What the real Rasa server received for a conversation (its tracker's user events)."""
    token = stack.config.rasa_auth_token
    url = f"{stack.config.rasa_url}/conversations/{conversation_id}/tracker?token={token}"
    with urllib.request.urlopen(url, timeout=30) as response:
        tracker = json.loads(response.read())
    return [e.get("text") or "" for e in tracker["events"] if e["event"] == "user"]


class StaticSite:
    """A third-party site on another origin ("localhost" vs the hub's "127.0.0.1"), serving
    fixed files by path (`{path: (body, content type)}`); anything else is a 404, and a
    missing favicon is a quiet 204 so pages log no failed request."""

    def __init__(self, files: dict[str, tuple[bytes, str]], port: int) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path not in files:
                    if path == "/favicon.ico":
                        self.send_response(204)
                        self.end_headers()
                    else:
                        self.send_error(404)
                    return
                body, kind = files[path]
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://localhost:{port}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def HostSite(hub_url: str, port: int) -> StaticSite:
    """A shop page embedding our widget with its one `<script>` tag."""
    page = (
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'><title>Shop ABC</title>"
        "</head><body><h1>Shop ABC</h1><p>Trang bán hàng.</p>"
        f"<script src='{hub_url}/widget.js' data-server='{hub_url}'></script></body></html>"
    ).encode()
    return StaticSite({"/": (page, "text/html; charset=utf-8")}, port)


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    name: str
    role: str


def cskh_agent_add(stack: Stack, account: Account, team: str | None = None) -> None:
    """`cskh agent add` (the command an operator runs) against the stack's hub database."""
    cli = Path(sys.executable).with_name("cskh")
    command = [
        str(cli),
        "agent",
        "add",
        account.username,
        "--name",
        account.name,
        "--role",
        account.role,
        "--password-stdin",
    ]
    if team:
        command += ["--team", team]
    assert stack.config.database_url
    env = {**os.environ, "CSKH_HUB_DATABASE_URL": stack.config.database_url}
    done = subprocess.run(
        command,
        input=account.password + "\n",
        text=True,
        capture_output=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert account.username in done.stdout
