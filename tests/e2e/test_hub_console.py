"""The whole handoff in real browsers: customer chat page <-> agent console, real stack.

The customer talks to the real hub process, which asks the real Rasa server (and its action
server) in bot mode and the real triage models for the escalation decision and summary. The
agent accounts are made with `cskh agent add`. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from typing import Any

import pytest
from hub_e2e import (
    hub_db,
    login,
    new_page,
    rasa_user_texts,
    record_texts,
    send,
    session_id,
    shot,
    wait_online,
    wait_recorded,
    widget_sequence,
)

from cskh.stack import Stack
from handoff.core.sessions import public_ref

pytestmark = pytest.mark.e2e

QUESTION = "phí ship ra Hà Nội bao nhiêu?"
ANGRY = "ĐÃ 2 TUẦN CHƯA THẤY HÀNG, LỪA ĐẢO À??? tôi sẽ báo công an!!!"
WHILE_ASSIGNED = "Mã đơn của mình là DH123456, bạn kiểm tra giúp nhé"
WHILE_QUEUED = "đổi trả hàng trong bao lâu vậy"
AGENT_REPLY = "Chào bạn, mình là Lan. Mình rất xin lỗi, mình kiểm tra đơn của bạn ngay."


def test_angry_customer_goes_to_an_agent_and_back_to_the_bot(
    browser: Any, stack: Stack, agents: dict[str, Any]
) -> None:
    hub = stack.config.hub_url
    lan, boss = agents["lan"], agents["boss"]
    customer_ctx, customer, errors = new_page(browser, 480, 860)
    agent_ctx, agent, agent_errors = new_page(browser, 1400, 900)
    try:
        # The console needs a login; a wrong password is refused.
        agent.goto(hub + "/console")
        agent.wait_for_url(hub + "/console/login")
        agent.locator("#username").fill(lan.username)
        agent.locator("#password").fill("sai-mat-khau")
        agent.locator("#login-submit").click()
        agent.locator("#login-error").filter(has_text="Sai").wait_for()
        login(agent, hub, lan.username, lan.password)

        # 1. A question answered by the bot.
        customer.goto(hub + "/")
        wait_online(customer)
        send(customer, QUESTION)
        customer.get_by_test_id("cskh-msg-bot").filter(has_text="20.000đ").first.wait_for()
        bot_says = customer.get_by_test_id("cskh-msg-bot")
        bot_says.filter(has_text="giúp được anh/chị").first.wait_for()

        # 2. The customer gets angry: an empathetic reply, and the chat is queued.
        send(customer, ANGRY)
        escalation = customer.get_by_test_id("cskh-msg-bot").filter(has_text="xin lỗi").last
        escalation.wait_for()
        assert "nhân viên" in escalation.inner_text()
        customer.get_by_test_id("cskh-status").filter(has_text="Đang chờ nhân viên").wait_for()

        # 2b. While waiting the bot still answers from the help center; the chat stays queued.
        send(customer, WHILE_QUEUED)
        customer.get_by_test_id("cskh-msg-bot").filter(has_text="7 ngày").first.wait_for()
        customer.get_by_test_id("cskh-status").filter(has_text="Đang chờ nhân viên").wait_for()
        bot_messages = customer.get_by_test_id("cskh-msg-bot").count()

        # 3. It appears live in the agent's queue, flagged as angry, with its summary.
        item = agent.get_by_test_id("queue-item").filter(has_text="LỪA ĐẢO")
        item.wait_for()
        assert "Bức xúc" in item.inner_text()  # reason "angry"
        cid = item.get_attribute("data-id")
        assert cid
        shot(agent, "console_queue")
        details = agent_ctx.request.get(f"{hub}/api/console/conversations/{cid}").json()
        handoff = details["conversation"]["handoff"]
        assert "angry" in handoff["reasons"]
        # Agents see a reference to the customer's session, never the session id itself.
        session = session_id(customer, hub)
        assert details["conversation"]["external_id"] == public_ref(session)
        assert session not in json.dumps(details)

        item.get_by_test_id("claim").click()
        summary = agent.get_by_test_id("summary")
        summary.wait_for()
        summary_text = summary.inner_text()
        assert "LỪA ĐẢO" in summary_text and "bức xúc" in summary_text, summary_text
        assert agent.get_by_test_id("sentiment").count() >= 2
        agent.get_by_test_id("conv-state").filter(has_text="Nguyễn Lan").wait_for()
        # The agent sees what the bot told the customer while they waited, marked as such.
        marked = agent.get_by_test_id("msg-bot").filter(has=agent.get_by_test_id("while-queued"))
        marked.first.wait_for()
        assert "7 ngày" in " ".join(marked.all_inner_texts())

        # 4. The customer is told a person joined; the agent's reply reaches them.
        customer.get_by_test_id("cskh-notice").filter(has_text="Nguyễn Lan").wait_for()
        customer.get_by_test_id("cskh-status").filter(has_text="Đang trò chuyện").wait_for()
        record_texts(customer, "cskh-typing")
        agent.get_by_test_id("reply-text").fill(AGENT_REPLY)
        agent.get_by_test_id("reply-send").click()
        customer.get_by_test_id("cskh-msg-agent").filter(has_text="mình là Lan").wait_for()
        wait_recorded(customer, "cskh-typing", "Nhân viên đang nhập")

        # 5. While a person owns the chat the bot stays silent.
        send(customer, WHILE_ASSIGNED)
        agent.get_by_test_id("msg-user").filter(has_text=WHILE_ASSIGNED).wait_for()
        # The order code said after the handoff reaches the summary, with its Vietnamese
        # label, and the summary invents no wait ("đã chờ 0 giây").
        agent.get_by_test_id("summary").filter(has_text="mã đơn DH123456").wait_for()
        assert "đã chờ" not in agent.get_by_test_id("summary").inner_text()
        assert "order_codes" not in agent.get_by_test_id("summary").inner_text()
        agent.get_by_test_id("reply-text").fill("Mình đã thấy đơn DH123456, đang giao ạ.")
        agent.get_by_test_id("reply-send").click()
        customer.get_by_test_id("cskh-msg-agent").filter(has_text="đang giao").wait_for()
        assert customer.get_by_test_id("cskh-msg-bot").count() == bot_messages
        shot(agent, "console_conversation")
        shot(customer, "widget_with_agent")

        # 6. Resolved: back to the bot, which asks for a 1-5 rating; the answer is stored.
        agent.get_by_test_id("resolve").click()
        agent.get_by_test_id("conv-state").filter(has_text="Bot").wait_for()
        customer.get_by_test_id("cskh-msg-bot").filter(has_text="hài lòng").first.wait_for()
        ratings = customer.get_by_test_id("cskh-quick-reply")
        ratings.nth(4).wait_for()
        assert [t.strip() for t in ratings.all_inner_texts()] == [f"{n} ⭐" for n in range(1, 6)]
        ratings.filter(has_text=re.compile(r"^\s*4")).click()
        bot_says.filter(has_text="cảm ơn anh/chị đã đánh giá").wait_for()
        shot(customer, "widget_csat")

        rows = hub_db(
            stack, "SELECT csat_score, reasons FROM handoffs WHERE conversation_id = :cid", cid=cid
        )
        assert len(rows) == 1 and rows[0][0] == 4, rows
        assert "angry" in _list(rows[0][1])

        # The customer saw no bot message between the escalation and the CSAT question ...
        kinds = [kind for kind, _ in widget_sequence(customer)]
        start = kinds.index("notice:agent_joined")
        end = kinds.index("notice:agent_left")
        assert "bot" not in kinds[start:end], kinds
        assert kinds[start:end].count("agent") == 2
        # ... and the real Rasa never even heard the messages sent while a person owned it.
        heard = rasa_user_texts(stack, cid)
        assert QUESTION in heard
        assert WHILE_ASSIGNED not in heard and ANGRY not in heard, heard

        # The supervisor's numbers include the rating.
        boss_ctx, boss_page, boss_errors = new_page(browser, 1400, 900)
        try:
            login(boss_page, hub, boss.username, boss.password)
            boss_page.locator("#tab-stats").click()
            boss_page.get_by_test_id("stat").filter(has_text="CSAT").wait_for()
            stats = boss_ctx.request.get(f"{hub}/api/console/stats").json()
            assert stats["last_24h"]["csat_count"] >= 1
            # Small inline SVG charts: one bar per handoff reason present, five for CSAT.
            reasons_chart = boss_page.get_by_test_id("chart-reasons")
            reasons_chart.locator("svg [data-testid=bar]").first.wait_for()
            reasons = stats["last_24h"]["reasons"]
            assert "angry" in reasons
            bars = reasons_chart.locator("svg [data-testid=bar]")
            assert bars.count() == len(reasons)
            keys = [bars.nth(i).get_attribute("data-key") for i in range(bars.count())]
            assert keys == list(reasons), keys
            assert "Bức xúc" in reasons_chart.inner_text()
            # Containment: bot-only vs. with a person, as a number and a two-bar chart.
            day = stats["last_24h"]
            assert day["conversations"] >= 1 and day["contained"] <= day["conversations"]
            boss_page.get_by_test_id("stat").filter(has_text="Bot tự giải quyết").wait_for()
            split = boss_page.get_by_test_id("chart-containment").locator("svg [data-testid=bar]")
            assert split.count() == 2
            assert float(split.nth(1).get_attribute("width") or 0) > 0  # this chat had a person
            csat_bars = boss_page.get_by_test_id("chart-csat").locator("svg [data-testid=bar]")
            assert csat_bars.count() == 5
            assert float(csat_bars.nth(3).get_attribute("width") or 0) > 0  # the 4-star rating
            # Each agent's status and load/capacity.
            lan_row = boss_page.get_by_test_id("agent-row").filter(has_text="Nguyễn Lan")
            assert lan_row.get_by_test_id("agent-load").inner_text().strip().endswith("/3")
            assert lan_row.get_by_test_id("agent-status").inner_text().strip() in (
                "Trực tuyến",
                "Vắng mặt",
            )
            shot(boss_page, "console_supervisor")
            assert not boss_errors, boss_errors
        finally:
            boss_ctx.close()
        assert not errors, errors
        assert not agent_errors, agent_errors
    finally:
        customer_ctx.close()
        agent_ctx.close()


def test_customer_markup_is_shown_as_text_in_the_console(
    browser: Any, stack: Stack, agents: dict[str, Any]
) -> None:
    hub = stack.config.hub_url
    lan = agents["lan"]
    marker = "XSS-7F3A"
    evil = (
        f'{marker} <img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
        '<b>đậm</b><a href="javascript:window.__xss=3">bấm</a>'
    )
    customer_ctx, customer, errors = new_page(browser, 480, 860)
    agent_ctx, agent, agent_errors = new_page(browser, 1400, 900)
    try:
        login(agent, hub, lan.username, lan.password)
        customer.goto(hub + "/")
        wait_online(customer)
        send(customer, "Cho tôi gặp nhân viên hỗ trợ")
        customer.get_by_test_id("cskh-status").filter(has_text="Đang chờ nhân viên").wait_for()
        send(customer, evil)  # while queued: stored and pushed to the console, not the bot

        # In the queue list (last customer message) and in the opened transcript: text only.
        item = agent.get_by_test_id("queue-item").filter(has_text=marker)
        item.wait_for()
        assert "<script>window.__xss=2</script>" in item.inner_text()
        item.locator(".item-text").first.click()  # open without claiming
        transcript = agent.get_by_test_id("transcript")
        transcript.get_by_test_id("msg-user").filter(has_text=marker).wait_for()
        shown = transcript.get_by_test_id("msg-user").filter(has_text=marker).inner_text()
        assert '<img src=x onerror="window.__xss=1">' in shown
        assert "<b>đậm</b>" in shown
        page_dom = "#queue, [data-testid=conversation]"
        for tag in ("img", "script", "b", "a"):
            assert agent.locator(f":is({page_dom}) {tag}").count() == 0, tag
        assert agent.evaluate("window.__xss") is None
        shot(agent, "console_markup_as_text")

        # Claim, answer (agent markup is text for the customer too) and close it.
        agent.get_by_role("button", name="Nhận cuộc trò chuyện").click()
        agent.get_by_test_id("reply-text").wait_for()
        agent.get_by_test_id("reply-text").fill('<img src=x onerror="window.__xss=4">Chào bạn')
        agent.get_by_test_id("reply-send").click()
        reply = customer.get_by_test_id("cskh-msg-agent").filter(has_text="Chào bạn")
        reply.wait_for()
        assert "<img src=x" in reply.inner_text()
        assert customer.locator(".cskh-w-messages img").count() == 0
        assert customer.evaluate("window.__xss") is None
        agent.get_by_test_id("handback").click()
        agent.get_by_test_id("conv-state").filter(has_text="Bot").wait_for()
        assert not errors, errors
        assert not agent_errors, agent_errors
    finally:
        customer_ctx.close()
        agent_ctx.close()


def _list(raw: Any) -> list[str]:
    return list(json.loads(raw) if isinstance(raw, str) else raw)


def test_agent_sees_the_customers_earlier_conversations_on_other_channels(
    browser: Any, stack: Stack, agents: dict[str, Any]
) -> None:
    hub = stack.config.hub_url
    lan = agents["lan"]
    # Yesterday, through the REST channel (an app): a complaint with the phone number.
    phone = "0903 111 222"
    rest_sender = f"app-{uuid.uuid4().hex[:8]}"
    for text in (f"tủ lạnh giao tới bị trầy, sđt {phone}", "gặp nhân viên"):
        body = json.dumps({"sender": rest_sender, "message": text}).encode()
        request = urllib.request.Request(
            f"{hub}/webhooks/rest/webhook", data=body,
            headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=60).read()
    customer_ctx, customer, errors = new_page(browser, 480, 860)
    agent_ctx, agent, agent_errors = new_page(browser, 1400, 900)
    try:
        login(agent, hub, lan.username, lan.password)
        customer.goto(hub + "/")
        wait_online(customer)
        send(customer, "mình gọi 0903111222 mãi không ai nghe, cho gặp nhân viên")
        customer.get_by_test_id("cskh-status").filter(has_text="Đang chờ nhân viên").wait_for()
        item = agent.get_by_test_id("queue-item").filter(has_text="không ai nghe")
        item.wait_for()
        item.locator(".item-text").first.click()  # open without claiming
        earlier = agent.get_by_test_id("earlier-item")
        earlier.first.wait_for()
        assert earlier.count() == 1
        text = earlier.first.inner_text()
        assert "REST" in text and "0903111222" in text and "tủ lạnh" in text, text
        shot(agent, "console_earlier_conversations")
        assert not errors and not agent_errors, (errors, agent_errors)
    finally:
        customer_ctx.close()
        agent_ctx.close()


def test_claim_loser_is_told_who_took_it_and_assist_follows_the_issue(
    browser: Any, stack: Stack, agents: dict[str, Any]
) -> None:
    hub = stack.config.hub_url
    lan, boss = agents["lan"], agents["boss"]
    customer_ctx, customer, errors = new_page(browser, 480, 860)
    # Lan's page logs the refused claim (HTTP 409) as a console error: expected here.
    lan_ctx, lan_page, _lan_errors = new_page(browser, 1400, 900)
    boss_ctx, boss_page, boss_errors = new_page(browser, 1400, 900)
    muted = {"on": False}
    model = f"RF{uuid.uuid4().hex[:6].upper()}"

    def relay(ws: Any) -> None:
        # Lan's console socket, with the hub's side silenced on demand: her page keeps a card
        # that someone else has just taken, as a slow network would.
        server = ws.connect_to_server()
        server.on_message(lambda message: None if muted["on"] else ws.send(message))

    lan_page.route_web_socket("**/socket.io/**", relay)
    try:
        login(lan_page, hub, lan.username, lan.password)
        login(boss_page, hub, boss.username, boss.password)
        customer.goto(hub + "/")
        wait_online(customer)
        # The model number tells this card apart from other tests' chats on the shared stack.
        send(customer, f"tủ lạnh {model} giao tới bị móp cửa, tôi muốn đổi trả hàng")
        send(customer, "mã đơn DH100004")
        send(customer, "cho tôi gặp nhân viên")
        customer.get_by_test_id("cskh-status").filter(has_text="Đang chờ nhân viên").wait_for()
        card = lan_page.get_by_test_id("queue-item").filter(has_text=model)
        card.wait_for()
        # The suggestions follow what the chat is about, not its last line ("gặp nhân viên").
        card.locator(".item-text").first.click()
        hits = lan_page.get_by_test_id("assist-hit")
        hits.first.wait_for()
        # A dented fridge: the first suggestion is a remedy (returns, complaint, warranty),
        # although the last lines were an order code and "gặp nhân viên".
        titles = [t.split("\n", 1)[0].lower() for t in hits.all_inner_texts()]
        remedies = ("đổi trả", "trả hàng", "khiếu nại", "bảo hành")
        assert any(r in titles[0] for r in remedies), titles

        muted["on"] = True
        boss_page.get_by_test_id("queue-item").filter(has_text=model).get_by_test_id(
            "claim"
        ).click()
        boss_page.get_by_test_id("conv-state").filter(has_text=boss.name).wait_for()
        card.get_by_test_id("claim").click()  # too late: her page did not hear of it
        flash = lan_page.get_by_test_id("flash")
        flash.wait_for()
        assert f"{boss.name} đã nhận cuộc trò chuyện này" in flash.inner_text()
        shot(lan_page, "console_claim_lost")
        assert not errors and not boss_errors
    finally:
        customer_ctx.close()
        lan_ctx.close()
        boss_ctx.close()
