"""What a customer sees first, on a phone and on a desktop, in headless Chromium.

Against the running stack (fixture `stack`: the real hub, Rasa and action server, started
once per test session): the greeting and suggested topics of an empty chat, a topic answered
by the bot like a typed question, no greeting over the history after a reload, and room left
for the conversation while the bot offers a choice list. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from hub_e2e import (
    HostSite,
    hub_db,
    new_page,
    rasa_user_texts,
    send,
    session_id,
    shot,
    wait_count,
    wait_online,
)

from cskh.stack import Stack, free_port

pytestmark = pytest.mark.e2e

# A short, ambiguous question: the bot offers the matching article titles as buttons.
AMBIGUOUS = "thanh toán"
# Remembers, from the first script on, whether the greeting was ever attached to the page,
# so a greeting flashed over the history and removed again is caught too.
WATCH_WELCOME = """
window.__welcomeSeen = false;
new MutationObserver(() => {
  if (document.querySelector("[data-testid=cskh-welcome]")) window.__welcomeSeen = true;
}).observe(document, {childList: true, subtree: true});
"""
SCROLLED_TO_END = """() => {
  const list = document.querySelector("[data-testid=cskh-messages]");
  return list.scrollTop + list.clientHeight >= list.scrollHeight - 1;
}"""
LAYOUT = """() => {
  const box = (n) => { const r = n.getBoundingClientRect();
                       return {top: r.top, bottom: r.bottom, height: r.height}; };
  const list = document.querySelector("[data-testid=cskh-messages]");
  const bots = document.querySelectorAll("[data-testid=cskh-msg-bot]");
  return {
    viewport: {width: innerWidth, height: innerHeight},
    pageWidth: document.documentElement.scrollWidth,
    list: box(list),
    question: box(bots[bots.length - 1]),
    choices: Array.from(document.querySelectorAll("[data-testid=cskh-quick-reply]")).map(box),
    inputFont: parseFloat(getComputedStyle(
      document.querySelector("[data-testid=cskh-input]")).fontSize),
  };
}"""


def _topics(hub: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(hub + "/api/widget/topics", timeout=30) as response:
        body = json.loads(response.read())
    return list(body["topics"])


def _conversation(stack: Stack, sid: str) -> str:
    rows = hub_db(stack, "SELECT id FROM conversations WHERE external_id = :sid", sid=sid)
    assert len(rows) == 1, rows
    return str(rows[0][0])


def _faq_answers(stack: Stack, cid: str) -> list[dict[str, Any]]:
    rows = hub_db(
        stack, "SELECT meta FROM messages WHERE conversation_id = :cid AND role = 'bot'", cid=cid
    )
    metas = [json.loads(raw) if isinstance(raw, str) else dict(raw or {}) for (raw,) in rows]
    return [m for meta in metas for m in meta.get("cskh_meta") or [] if m["kind"] == "faq_answer"]


def test_empty_chat_greets_and_a_topic_is_answered_not_shown_again_over_history(
    browser: Any, stack: Stack
) -> None:
    hub = stack.config.hub_url
    offered = _topics(hub)
    assert 3 <= len(offered) <= 4, offered
    context, page, errors = new_page(browser, 1280, 800)
    context.add_init_script(WATCH_WELCOME)
    try:
        page.goto(hub + "/")
        welcome = page.get_by_test_id("cskh-welcome")
        welcome.wait_for()
        topics = page.get_by_test_id("cskh-topic")
        topics.nth(len(offered) - 1).wait_for()
        greeting = welcome.locator(".cskh-w-welcome-text").inner_text()
        # The bot's voice (the hub's persona): it calls itself "em" and the customer "anh/chị".
        assert "anh/chị" in greeting and "Em " in greeting and "mình" not in greeting, greeting
        assert topics.all_inner_texts() == [t["title"] for t in offered]
        wait_online(page)
        # Drawn by the widget alone: no message was stored or sent for it.
        assert page.get_by_test_id("cskh-msg-bot").count() == 0
        sid = session_id(page, hub)
        assert hub_db(stack, "SELECT id FROM conversations WHERE external_id = :sid", sid=sid) == []
        shot(page, "experience_welcome_desktop")
        # A customer's page: how to embed the widget is for the README, not for them.
        seen = page.locator("body").inner_text()
        for developer_text in ("widget.js", "<script", "data-server", "CSKH_HUB_", "make run"):
            assert developer_text not in seen, seen

        chosen = offered[0]
        topics.first.click()
        page.get_by_test_id("cskh-msg-user").filter(has_text=chosen["title"]).wait_for()
        page.get_by_test_id("cskh-msg-bot").first.wait_for()
        # Once the conversation has messages, the greeting and the topics are gone.
        assert welcome.count() == 0 and topics.count() == 0

        page.get_by_test_id("cskh-quick-reply").first.wait_for()  # "did this help?": all in
        # Answered like a typed question: the title reached the real Rasa as the customer's
        # text, and the bot answered from that very article, whose address it shows.
        cid = _conversation(stack, sid)
        assert rasa_user_texts(stack, cid) == [chosen["title"]]
        answers = _faq_answers(stack, cid)
        assert answers and answers[0]["confident"], answers
        article = answers[0]["articles"][0]
        assert article["title"] == chosen["title"], article
        if chosen["article_id"]:
            assert article["id"] == chosen["article_id"]
        page.get_by_test_id("cskh-link").and_(page.locator(f"[href='{article['url']}']")).wait_for()
        shot(page, "experience_topic_answered")

        # A reload shows the history, never the greeting on top of it, not even briefly.
        users = page.get_by_test_id("cskh-msg-user").count()
        bots = page.get_by_test_id("cskh-msg-bot").count()
        page.reload()
        wait_count(page, "cskh-msg-user", users)
        wait_count(page, "cskh-msg-bot", bots)
        wait_online(page)
        assert page.evaluate("window.__welcomeSeen") is False
        assert welcome.count() == 0 and topics.count() == 0
        assert page.get_by_test_id("cskh-msg-user").count() == users
        shot(page, "experience_reload_history")
        assert not errors, errors
    finally:
        context.close()


def test_a_topic_clicked_before_the_connection_is_sent_once_connected(
    browser: Any, stack: Stack
) -> None:
    """A new visitor is greeted at once, before the socket library has even loaded."""
    hub = stack.config.hub_url
    context, page, errors = new_page(browser, 375, 667)
    held: list[Any] = []
    page.route("**/static/vendor/socket.io.min.js", lambda route: held.append(route))
    try:
        # Not "load": that waits for the held script.
        page.goto(hub + "/", wait_until="domcontentloaded")
        topics = page.get_by_test_id("cskh-topic")
        topics.first.wait_for()
        assert held, "the socket library was requested"
        title = topics.first.inner_text()
        topics.first.click()
        page.get_by_test_id("cskh-msg-user").filter(has_text=title).wait_for()
        held[0].continue_()

        wait_online(page)
        page.get_by_test_id("cskh-msg-bot").first.wait_for()
        # Still shown once after the history was drawn from the server, and sent once.
        shown = page.get_by_test_id("cskh-msg-user").all_inner_texts()
        assert len(shown) == 1 and shown[0].startswith(title), shown
        cid = _conversation(stack, session_id(page, hub))
        assert rasa_user_texts(stack, cid) == [title]
        shot(page, "experience_topic_before_connect")
        assert not errors, errors
    finally:
        context.close()


def test_a_message_sent_while_the_history_loads_stays_on_screen(browser: Any, stack: Stack) -> None:
    """The history redraws the message list when the session is confirmed; the status says
    "online" at that moment, so a customer may already be typing."""
    hub = stack.config.hub_url
    context, page, errors = new_page(browser, 375, 667)
    late: list[tuple[Any, Any]] = []

    def answer_late(route: Any) -> None:
        # Answered by the hub now (before the message below exists), delivered later.
        late.append((route, route.fetch()))

    page.route("**/api/conversations/*/history", answer_late)
    try:
        page.goto(hub + "/")
        wait_online(page)
        for _ in range(100):
            if late:
                break
            page.wait_for_timeout(50)
        assert late, "the widget asked for its history"
        question = "phí ship ra Hà Nội bao nhiêu?"
        send(page, question)
        route, response = late.pop()
        route.fulfill(response=response)

        page.get_by_test_id("cskh-msg-bot").first.wait_for()
        shown = [t.split("\n")[0] for t in page.get_by_test_id("cskh-msg-user").all_inner_texts()]
        assert shown == [question]
        cid = _conversation(stack, session_id(page, hub))
        assert rasa_user_texts(stack, cid) == [question]
        shot(page, "experience_sent_while_history_loads")
        assert not errors, errors
    finally:
        context.close()


@pytest.mark.parametrize(
    ("width", "height", "embedded"),
    [(375, 667, False), (375, 667, True), (1280, 800, False)],
    ids=["phone-page", "phone-embedded", "desktop-page"],
)
def test_the_conversation_keeps_the_room_while_choices_are_open(
    browser: Any, stack: Stack, width: int, height: int, embedded: bool
) -> None:
    hub = stack.config.hub_url
    site = HostSite(hub, free_port()) if embedded else None
    context, page, errors = new_page(browser, width, height)
    name = f"experience_{'embedded' if embedded else 'page'}_{width}"
    try:
        if site:
            # The shop's own page (another origin): the bubble opens over it.
            page.goto(site.url)
            page.get_by_test_id("cskh-launcher").click()
        else:
            page.goto(hub + "/")
        wait_online(page)
        page.get_by_test_id("cskh-topic").nth(2).wait_for()  # fetched across origins too
        shot(page, name + "_welcome")

        send(page, AMBIGUOUS)
        page.get_by_test_id("cskh-msg-bot").first.wait_for()
        page.get_by_test_id("cskh-quick-reply").nth(1).wait_for()
        page.wait_for_function(SCROLLED_TO_END)
        got = page.evaluate(LAYOUT)
        shot(page, name + "_choices")

        vh = got["viewport"]["height"]
        assert got["list"]["height"] >= 0.6 * vh, got
        assert got["inputFont"] >= 16, got
        assert got["pageWidth"] <= got["viewport"]["width"], got  # no sideways scrolling
        # The bot's question and every choice it offers are on screen together.
        for box in [got["question"], *got["choices"]]:
            assert got["list"]["top"] <= box["top"] and box["bottom"] <= got["list"]["bottom"], got
        if width < 480:
            # The headers above the conversation shrink to a thin band on a phone.
            assert got["list"]["top"] <= 0.12 * vh, got
        assert not errors, errors
    finally:
        context.close()
        if site:
            site.close()
