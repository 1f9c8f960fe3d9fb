"""The stock `rasa-webchat` widget (1.0.1, from npm, unmodified) against the real hub.

The hub speaks Rasa's socketio channel on namespace `/`, so a site that used to embed
rasa-webchat in front of Rasa can point it at the hub instead. This test proves it with the
real widget bundle (`tests/e2e/webchat/node_modules/rasa-webchat/lib/index.js`, installed by
`make test` with `npm ci`) on a page served from another origin, called the way its README
documents, in headless Chromium against the real stack (hub, Rasa, action server).

rasa-webchat renders a `bot_uttered` payload only when its keys are exactly Rasa's
(`{"text"}`, or `{"text", "quick_replies"}`): anything extra and the message is dropped
silently, which this test would catch as a missing bubble.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hub_e2e import WAIT, StaticSite, hub_db, new_page, rasa_user_texts, shot

from cskh.stack import Stack, free_port

pytestmark = pytest.mark.e2e

WEBCHAT_DIR = Path(__file__).parent / "webchat"
WEBCHAT_JS = WEBCHAT_DIR / "node_modules" / "rasa-webchat" / "lib" / "index.js"
WEBCHAT_VERSION = "1.0.1"
SHIPPING_URL = "https://saomaishop.vn/ho-tro/phi-van-chuyen"
HELPFUL_BUTTONS = ["Có, cảm ơn", "Chưa giúp được"]  # bot/domain.yml: utter_ask_helpful

# rasa-webchat 1.x markup (lib/index.js; README "Styles"): every bubble is a `.rw-message`
# holding a `.rw-client` (customer) or `.rw-response` (bot) with its `.rw-message-text`;
# the quick replies of the last bot message are `.rw-reply` elements inside `.rw-replies`.
LAUNCHER = "button.rw-launcher"
CONTAINER = ".rw-widget-container .rw-conversation-container"
TITLE = ".rw-header .rw-title"
INPUT = ".rw-sender .rw-new-message"
CLIENT = ".rw-message .rw-client"
RESPONSE = ".rw-message .rw-response"
REPLIES = ".rw-replies"
REPLY = ".rw-replies .rw-reply"


def _page_html(hub_url: str) -> bytes:
    """A shop page embedding the widget with the README's documented call."""
    options = {
        "socketUrl": hub_url,
        "socketPath": "/socket.io/",
        "initPayload": "/greet",
        "customData": {"language": "vi"},
        "title": "Sao Mai Shop",
        "subtitle": "Hỗ trợ khách hàng",
        "inputTextFieldHint": "Nhập tin nhắn…",
        "params": {"storage": "session"},
    }
    return (
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'><title>Shop ABC</title>"
        "</head><body><h1>Shop ABC</h1><p>Trang bán hàng.</p>"
        "<script src='/rasa-webchat/lib/index.js'></script>"
        # README: `WebChat.default(props, null)`; null root = a div the widget appends itself.
        f"<script>window.WebChat.default({json.dumps(options, ensure_ascii=False)}, null);"
        "</script></body></html>"
    ).encode()


def WebchatSite(hub_url: str, port: int) -> StaticSite:
    """The shop page and the widget bundle straight from node_modules."""
    return StaticSite(
        {
            "/": (_page_html(hub_url), "text/html; charset=utf-8"),
            "/rasa-webchat/lib/index.js": (
                WEBCHAT_JS.read_bytes(),
                "application/javascript; charset=utf-8",
            ),
        },
        port,
    )


def _installed_webchat() -> None:
    package = WEBCHAT_JS.parent.parent / "package.json"
    if not WEBCHAT_JS.exists() or not package.exists():
        pytest.fail(
            f"rasa-webchat is not installed in {WEBCHAT_DIR}: run the tests with `make test` "
            "(it runs `npm ci` there)"
        )
    version = json.loads(package.read_text(encoding="utf-8")).get("version")
    if version != WEBCHAT_VERSION:
        pytest.fail(f"rasa-webchat {version} installed, the test needs {WEBCHAT_VERSION}")


def _send(page: Any, text: str) -> None:
    """Type a message and press Enter; waits until the widget shows it as the customer's."""
    before = page.locator(CLIENT).count()
    page.locator(INPUT).fill(text)
    page.locator(INPUT).press("Enter")
    page.locator(CLIENT).nth(before).wait_for()
    assert page.locator(CLIENT).nth(before).inner_text().strip() == text


def _wait_response(page: Any, part: str, after: int = 0) -> Any:
    """Wait until a bot bubble from index `after` on contains `part`; return the last bubble
    containing it."""
    page.wait_for_function(
        """([sel, after, part]) => Array.from(document.querySelectorAll(sel))
               .slice(after).some(n => n.innerText.includes(part))""",
        arg=[RESPONSE, after, part],
        timeout=WAIT,
    )
    return page.locator(RESPONSE).filter(has_text=part).last


def test_stock_rasa_webchat_talks_to_the_hub(browser: Any, stack: Stack) -> None:
    _installed_webchat()
    site = WebchatSite(stack.config.hub_url, free_port())
    context, page, errors = new_page(browser, 1024, 800)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    failed: list[str] = []

    def on_response(response: Any) -> None:
        if response.status >= 400:
            failed.append(f"{response.url}: {response.status}")

    page.on("response", on_response)
    page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    # The widget's stylesheet @imports the Inter font from Google: no internet needed here.
    page.route(
        "https://fonts.googleapis.com/**",
        lambda route: route.fulfill(status=200, content_type="text/css", body=""),
    )
    try:
        page.goto(site.url)
        # The launcher shows once the socket is connected (hideWhenNotConnected); opening the
        # chat sends the init payload ("/greet").
        page.locator(LAUNCHER).click()
        page.locator(CONTAINER).wait_for()
        assert page.locator(TITLE).inner_text() == "Sao Mai Shop"
        _wait_response(page, "xin chào")
        assert page.locator(CLIENT).count() == 0  # an init payload is not shown as typed

        # (1) A greeting is answered with a bot text.
        before = page.locator(RESPONSE).count()
        _send(page, "xin chào")
        _wait_response(page, "xin chào", after=before)

        # (2) An FAQ answer from the help center, with its article's address as a link.
        before = page.locator(RESPONSE).count()
        _send(page, "phí ship ra Hà Nội bao nhiêu?")
        _wait_response(page, "20.000đ", after=before)
        source = _wait_response(page, SHIPPING_URL, after=before)
        assert "Phí vận chuyển" in source.inner_text()
        link = source.locator(f"a[href='{SHIPPING_URL}']")
        assert link.count() == 1, source.inner_html()
        assert link.get_attribute("target") == "_blank"

        # (3) "Did this help?" with its two buttons as the widget's quick replies.
        _wait_response(page, "giúp được anh/chị không", after=before)
        page.locator(REPLY).nth(len(HELPFUL_BUTTONS) - 1).wait_for()
        assert page.locator(REPLY).all_inner_texts() == HELPFUL_BUTTONS
        assert page.locator(REPLIES).count() == 1
        shot(page, "rasa_webchat_faq")

        # Clicking one sends its payload; the widget shows the title as the customer's turn
        # and the bot answers the feedback.
        before = page.locator(RESPONSE).count()
        page.locator(REPLY).filter(has_text=HELPFUL_BUTTONS[0]).click()
        page.locator(CLIENT).filter(has_text=HELPFUL_BUTTONS[0]).wait_for()
        _wait_response(page, "cảm ơn anh/chị đã phản hồi", after=before)
        assert page.locator(REPLY).count() == 0  # answered: the buttons are gone
        shot(page, "rasa_webchat_feedback")

        # The session the widget keeps (params.storage "session") is the hub conversation that
        # reached the real Rasa, which heard the init payload and the button's payload.
        stored = page.evaluate("sessionStorage.getItem('chat_session')")
        session = json.loads(stored)["session_id"]
        rows = hub_db(stack, "SELECT id FROM conversations WHERE external_id = :sid", sid=session)
        assert len(rows) == 1, rows
        heard = rasa_user_texts(stack, str(rows[0][0]))
        assert heard == ["/greet", "xin chào", "phí ship ra Hà Nội bao nhiêu?", "/feedback_helpful"]

        assert not errors, errors
        assert not console_errors, console_errors
        assert not failed, failed
    finally:
        context.close()
        site.close()
