"""Waiting for a person, in real browsers: the estimate is honest (none while nobody is
signed in) and the place in the queue is pushed to the customer when it changes. Its own
stack, always open, re-checking the queue every second (the shop's default is every 20 s,
each customer told at most once a minute).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hub_e2e import (
    Account,
    cskh_agent_add,
    hub_db,
    login,
    new_page,
    rest_say,
    send,
    session_id,
    shot,
    wait_online,
)

from cskh.stack import Stack, StackConfig

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def queue_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("waiting")
    env = {
        "CSKH_HUB_QUEUE_UPDATE_CHECK_SECONDS": "1",
        "CSKH_HUB_QUEUE_NOTICE_MIN_SECONDS": "2",
    }
    running = Stack(StackConfig.isolated(run_dir, extra_env=env))
    running.start(timeout=300)
    yield running
    running.stop()


def _notices(page: Any) -> Any:
    return page.get_by_test_id("cskh-notice")


def test_place_and_estimate_are_honest_and_pushed(browser: Any, queue_stack: Stack) -> None:
    hub = queue_stack.config.hub_url
    lan = Account("lan", "mat-khau-lan-1", "Nguyễn Lan", "agent")
    cskh_agent_add(queue_stack, lan)
    first_ctx, first, errors = new_page(browser, 1280, 800)
    second_ctx, second, second_errors = new_page(browser, 375, 667)
    agent_ctx, agent, agent_errors = new_page(browser, 1400, 900)
    try:
        # Nobody signed in: the place, and no invented estimate.
        first.goto(hub + "/")
        wait_online(first)
        send(first, "đơn hàng giao sai màu, cho tôi gặp nhân viên")
        _notices(first).filter(has_text="chưa có nhân viên nào trực tuyến").wait_for()
        assert "phút" not in " ".join(_notices(first).all_inner_texts())

        # An agent signs in: the waiting customer is told the estimate without asking.
        login(agent, hub, lan.username, lan.password)
        _notices(first).filter(has_text="Thời gian chờ dự kiến").wait_for()
        shot(first, "waiting_estimate_pushed_desktop")

        # A second customer queues behind; when the first is taken, they move up, live.
        second.goto(hub + "/")
        wait_online(second)
        send(second, "tôi muốn đổi địa chỉ nhận hàng, gặp nhân viên giúp tôi")
        _notices(second).filter(has_text="vị trí số 2").wait_for()
        item = agent.get_by_test_id("queue-item").filter(has_text="giao sai màu")
        item.get_by_test_id("claim").click()
        _notices(second).filter(has_text="vị trí số 1").wait_for()
        shot(second, "waiting_moved_up_375")
        # Told once per change, not on every check.
        second.wait_for_timeout(3000)
        told = [t for t in _notices(second).all_inner_texts() if "vị trí số" in t]
        assert len(told) == 2, told
        assert not errors and not second_errors and not agent_errors
    finally:
        first_ctx.close()
        second_ctx.close()
        agent_ctx.close()


def test_alo_while_waiting_gets_the_place_not_a_greeting(stack: Stack) -> None:
    # Through the real bot "alo alo" was greeted as a new chat ("Em là trợ lý tự động ...
    # cần hỗ trợ gì ạ?") and "sao lâu vậy, chưa ai vào à" answered with delivery areas.
    sender = f"waiting-{uuid.uuid4().hex[:8]}"
    rest_say(stack, sender, "cho mình gặp nhân viên", timeout=120)
    for ping in ("alo alo", "sao lâu vậy, chưa ai vào à"):
        texts = [r.get("text") or "" for r in rest_say(stack, sender, ping, timeout=120)]
        assert texts[0].startswith("Dạ em vẫn ở đây ạ"), texts
        assert "trong hàng chờ" in texts[1] and len(texts) == 2, texts


def test_a_customer_who_no_longer_needs_a_person_leaves_the_queue(
    browser: Any, stack: Stack
) -> None:
    # "thôi khỏi, không cần nữa" got the bot's goodbye and the chat stayed queued for an
    # agent to open later. Now the hub asks, and the widget's button takes them out.
    context, page, errors = new_page(browser, 420, 820)
    try:
        page.goto(stack.config.hub_url + "/")
        wait_online(page)
        status = page.get_by_test_id("cskh-status")
        send(page, "cho mình gặp nhân viên")
        status.filter(has_text="Đang chờ nhân viên").wait_for()
        send(page, "thôi khỏi, không cần nữa")
        bots = page.get_by_test_id("cskh-msg-bot")
        bots.filter(has_text="hủy yêu cầu gặp nhân viên phải không").first.wait_for()
        buttons = page.get_by_test_id("cskh-quick-reply")
        assert [t.strip() for t in buttons.all_inner_texts()] == ["Hủy yêu cầu", "Tiếp tục chờ"]
        buttons.filter(has_text="Hủy yêu cầu").click()
        bots.filter(has_text="đã hủy yêu cầu gặp nhân viên").first.wait_for()
        status.filter(has_text="Trợ lý tự động").wait_for()
        shot(page, "left_the_queue")
        # The bot answers again.
        send(page, "phí ship ra Hà Nội bao nhiêu?")
        bots.filter(has_text="20.000đ").first.wait_for()
        rows = hub_db(
            stack,
            "SELECT c.state, e.reason FROM conversations c JOIN conversation_events e "
            "ON e.conversation_id = c.id WHERE c.external_id = :sid ORDER BY e.id",
            sid=session_id(page, stack.config.hub_url),
        )
        assert tuple(rows[-1]) == ("bot", "customer_left_queue"), rows
        assert not errors, errors
    finally:
        context.close()
