"""At night, in real browsers: a customer on a phone asks for a person after closing time; an
agent opens the console the next morning. Its own stack, with business hours that do not
contain the current time (the shared stack keeps the shop's default hours).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hub_e2e import Account, cskh_agent_add, login, new_page, send, shot, wait_online

from cskh.stack import Stack, StackConfig
from handoff.core.hours import zone
from handoff.settings import HubSettings

pytestmark = pytest.mark.e2e


def _closed_hours() -> str:
    """A one-hour window that does not contain the current Vietnam time."""
    now = datetime.now(UTC).astimezone(zone(HubSettings()))
    return "01:00-02:00" if now.hour >= 12 else "20:00-21:00"


@pytest.fixture(scope="module")
def night_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("night")
    env = {"CSKH_HUB_BUSINESS_HOURS": _closed_hours(), "CSKH_HUB_BUSINESS_DAYS": "1-7"}
    running = Stack(StackConfig.isolated(run_dir, extra_env=env))
    running.start(timeout=300)
    yield running
    running.stop()


def test_out_of_hours_follow_up_on_a_phone_and_at_the_desk(
    browser: Any, night_stack: Stack
) -> None:
    hub = night_stack.config.hub_url
    lan = Account("lan", "mat-khau-lan-1", "Nguyễn Lan", "agent")
    cskh_agent_add(night_stack, lan)
    customer_ctx, customer, errors = new_page(browser, 375, 667)
    agent_ctx, agent, agent_errors = new_page(browser, 1400, 900)
    try:
        customer.goto(hub + "/")
        wait_online(customer)
        send(customer, "máy giặt giao tới bị móp, cho tôi gặp nhân viên")
        bots = customer.get_by_test_id("cskh-msg-bot")
        notices = customer.locator("[data-testid=cskh-notice], [data-testid=cskh-msg-bot]")
        # Told honestly when a person will read it, and asked for a way to call back.
        closed = notices.filter(has_text="ngoài giờ làm việc")
        closed.first.wait_for()
        told = closed.first.inner_text()
        assert "Nhân viên sẽ trả lời anh/chị từ" in told and "số điện thoại" in told, told
        said = " ".join(notices.all_inner_texts())
        # Nothing promises a person "in a moment" next to the opening time.
        assert "giây lát" not in said and "ngay" not in said, said
        customer.get_by_test_id("cskh-status").filter(has_text="Đang chờ nhân viên").wait_for()

        # The bot keeps answering meanwhile; the chat stays in the queue.
        send(customer, "đổi trả hàng trong bao lâu")
        bots.filter(has_text="7 ngày").first.wait_for()
        # A phone number is taken down and confirmed.
        send(customer, "sđt mình 0912 345 678")
        notices.filter(has_text="0912345678").first.wait_for()
        shot(customer, "out_of_hours_phone_375")

        # The next morning at the desk: the card says what it is about and how to call back;
        # no SLA breach was counted at night.
        login(agent, hub, lan.username, lan.password)
        item = agent.get_by_test_id("queue-item").filter(has_text="máy giặt")
        item.wait_for()
        assert item.get_by_test_id("item-contact").inner_text() == "0912345678"
        sla = item.locator(".sla").inner_text()
        assert "quá SLA" not in sla and sla.startswith("Chờ 0"), sla
        item.locator(".item-text").first.click()
        marked = agent.get_by_test_id("msg-bot").filter(has=agent.get_by_test_id("while-queued"))
        marked.first.wait_for()
        assert "7 ngày" in " ".join(marked.all_inner_texts())
        shot(agent, "out_of_hours_console_desktop")
        assert not errors and not agent_errors, (errors, agent_errors)
    finally:
        customer_ctx.close()
        agent_ctx.close()
