"""The customer side in a real browser against the running stack (headless Chromium).

Everything goes through the real hub process, the real Rasa server and the real action
server (fixture `stack`): the hub's chat page `/`, and the widget embedded with its one
`<script>` tag on a page served from another origin, as on a customer's site. Screenshots go
to var/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest
from hub_e2e import (
    SHORT,
    HostSite,
    hub_db,
    new_page,
    record_texts,
    send,
    session_id,
    shot,
    wait_count,
    wait_online,
    wait_recorded,
)

from cskh.stack import Stack, free_port

pytestmark = pytest.mark.e2e

SHIPPING_URL = "https://saomaishop.vn/ho-tro/phi-van-chuyen"


@pytest.mark.parametrize(
    "question",
    ["phí ship ra Hà Nội bao nhiêu?", "phi ship ra ha noi bao nhieu"],
    ids=["diacritics", "no-diacritics"],
)
def test_chat_page_answers_shipping_fee_from_the_article(
    browser: Any, stack: Stack, question: str
) -> None:
    hub = stack.config.hub_url
    context, page, errors = new_page(browser, 420, 820)
    try:
        page.goto(hub + "/")
        wait_online(page)
        send(page, question)

        bots = page.get_by_test_id("cskh-msg-bot")
        bots.filter(has_text="20.000đ").first.wait_for()
        source = bots.filter(has_text=SHIPPING_URL)
        source.first.wait_for()
        assert "Phí vận chuyển" in source.first.inner_text()
        # The article's address is a real link that opens the help-center page.
        link = source.first.get_by_test_id("cskh-link")
        assert link.get_attribute("href") == SHIPPING_URL
        assert link.get_attribute("rel") == "noopener noreferrer"
        # "Did this help?" with its two buttons.
        bots.filter(has_text="giúp được anh/chị không").first.wait_for()
        buttons = page.get_by_test_id("cskh-quick-reply")
        buttons.nth(1).wait_for()
        assert buttons.all_inner_texts() == ["Có, cảm ơn", "Chưa giúp được"]
        shot(page, "chat_page_" + ("no_diacritics" if "phi " in question else "diacritics"))

        # A conversation of its own (fresh browser storage), answered from that article.
        sid = session_id(page, hub)
        user_texts = page.locator("[data-testid=cskh-msg-user] .cskh-w-text").all_inner_texts()
        assert user_texts == [question]
        metas = hub_db(
            stack,
            "SELECT m.meta FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.external_id = :sid AND m.role = 'bot'",
            sid=sid,
        )
        answers = [
            meta
            for (raw,) in metas
            for meta in (_json(raw).get("cskh_meta") or [])
            if meta.get("kind") == "faq_answer"
        ]
        assert answers and answers[0]["articles"][0]["id"] == "phi-van-chuyen", metas

        # The feedback button reaches the bot, which thanks the customer.
        bot_count = bots.count()
        buttons.filter(has_text="Có, cảm ơn").click()
        page.get_by_test_id("cskh-msg-user").filter(has_text="Có, cảm ơn").wait_for()
        wait_count(page, "cskh-msg-bot", bot_count + 1)
        assert not errors, errors
    finally:
        context.close()


def test_embedded_widget_markup_reload_and_hub_restart(browser: Any, stack: Stack) -> None:
    hub = stack.config.hub_url
    site = HostSite(hub, free_port())
    context, page, errors = new_page(browser, 1024, 800)
    try:
        page.goto(site.url)
        page.get_by_test_id("cskh-launcher").click()
        wait_online(page)
        send(page, "Quên mật khẩu thì lấy lại thế nào?")
        page.get_by_test_id("cskh-msg-bot").filter(has_text="mật khẩu").first.wait_for()
        shot(page, "widget_chat")

        # Markup typed by a customer is shown as text and never executed.
        bots = page.get_by_test_id("cskh-msg-bot").count()
        evil = '<img src=x onerror="window.__xss=1"><b>đậm</b><script>window.__xss=2</script>'
        send(page, evil)
        assert page.get_by_test_id("cskh-msg-user").filter(has_text="<b>đậm</b>").count() == 1
        wait_count(page, "cskh-msg-bot", bots + 1)  # the bot answered it: fully handled
        assert page.evaluate("window.__xss") is None
        assert page.locator(".cskh-w-messages img, .cskh-w-messages b").count() == 0
        assert page.locator(".cskh-w-messages script").count() == 0

        # Reload: same session, history restored from the hub.
        sid = session_id(page, hub)
        users = page.get_by_test_id("cskh-msg-user").count()
        bots = page.get_by_test_id("cskh-msg-bot").count()
        page.reload()
        wait_count(page, "cskh-msg-user", users)
        wait_count(page, "cskh-msg-bot", bots)
        assert session_id(page, hub) == sid
        assert page.get_by_test_id("cskh-msg-user").count() == users

        # The real hub process restarts: the widget notices, reconnects by itself, keeps its
        # session, and the next question is answered by the bot again.
        wait_online(page)
        record_texts(page, "cskh-status")
        stack.restart("hub")
        wait_recorded(page, "cskh-status", "kết nối lại")  # "Mất kết nối / Đang kết nối lại…"
        wait_online(page)
        assert session_id(page, hub) == sid
        send(page, "phi ship ra ha noi bao nhieu")
        page.get_by_test_id("cskh-msg-bot").filter(has_text="20.000đ").first.wait_for()
        assert page.get_by_test_id("cskh-msg-user").count() == users + 1
        shot(page, "widget_after_restart")

        # Nothing was lost: the hub's history (stored before routing) has every turn.
        page.reload()
        wait_count(page, "cskh-msg-user", users + 1, timeout=SHORT * 2)
        assert page.get_by_test_id("cskh-msg-user").count() == users + 1
        assert not errors, errors
    finally:
        context.close()
        site.close()


def _json(raw: Any) -> dict[str, Any]:
    import json

    if isinstance(raw, str):
        return dict(json.loads(raw))
    return dict(raw or {})


def test_did_this_help_no_once_offers_more_twice_hands_over(browser: Any, stack: Stack) -> None:
    hub = stack.config.hub_url
    context, page, errors = new_page(browser, 420, 820)
    try:
        page.goto(hub + "/")
        wait_online(page)
        send(page, "đổi trả hàng được mấy ngày")
        bots = page.get_by_test_id("cskh-msg-bot")
        bots.filter(has_text="giúp được anh/chị không").first.wait_for()
        page.get_by_test_id("cskh-quick-reply").filter(has_text="Chưa giúp được").click()

        # One "no": other articles for the same question, rephrasing, or a person; the chat
        # stays with the bot.
        offer = bots.filter(has_text="chưa đúng ý")
        offer.first.wait_for()
        choices = page.get_by_test_id("cskh-quick-reply")
        titles = [t.strip() for t in choices.all_inner_texts()]
        assert titles[-1] == "Gặp nhân viên" and len(titles) >= 2, titles
        assert "Đang chờ nhân viên" not in page.get_by_test_id("cskh-status").inner_text()
        shot(page, "feedback_one_no")

        # The customer picks one; it does not help either: a person takes over.
        choices.first.click()
        bots.filter(has_text="giúp được anh/chị không").nth(1).wait_for()
        page.get_by_test_id("cskh-quick-reply").filter(has_text="Chưa giúp được").click()
        page.get_by_test_id("cskh-status").filter(has_text="Đang chờ nhân viên").wait_for()
        shot(page, "feedback_two_no_handover")
        rows = hub_db(
            stack,
            "SELECT h.reasons FROM handoffs h JOIN conversations c ON c.id = h.conversation_id "
            "WHERE c.external_id = :sid",
            sid=session_id(page, hub),
        )
        assert len(rows) == 1 and "bot_failed" in str(rows[0][0]), rows
        assert not errors, errors
    finally:
        context.close()
