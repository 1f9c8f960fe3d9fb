"""Remake the README's screenshots (docs/img/widget.png, docs/img/console.png) from the real
stack in headless Chromium.

    .venv/bin/python docs/img/make_screenshots.py

Starts its own throw-away stack (hub, Rasa, action server on free ports, database in a
temporary folder, as the e2e tests do), so a running `make run` is left alone. Needs what
`make test` needs: the index, the Rasa model, `.venv-rasa` and Debian's `chromium`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from cskh.paths import REPO_ROOT
from cskh.stack import Stack, StackConfig

OUT = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CSKH_CHROMIUM", "/usr/bin/chromium")
WAIT = 60_000
MAX_BYTES = 200_000
AGENT = ("lan", "mat-khau-lan-1", "Nguyễn Lan")
QUESTION = "phí ship ra Hà Nội bao nhiêu?"
ANGRY = "Đã 2 tuần chưa nhận được hàng, mã đơn DH123456, tôi rất bực mình!!!"


def add_agent(database_url: str) -> None:
    username, password, name = AGENT
    subprocess.run(
        [str(Path(sys.executable).with_name("cskh")), "agent", "add", username, "--name", name,
         "--password-stdin"],
        input=password + "\n", text=True, capture_output=True, check=True, cwd=REPO_ROOT,
        env={**os.environ, "CSKH_HUB_DATABASE_URL": database_url}, timeout=180,
    )  # fmt: skip


def ask(page: Any, text: str) -> None:
    before = page.get_by_test_id("cskh-msg-bot").count()
    page.get_by_test_id("cskh-input").fill(text)
    page.get_by_test_id("cskh-input").press("Enter")
    page.get_by_test_id("cskh-msg-bot").nth(before).wait_for()


def widget_shot(browser: Any, hub: str) -> None:
    """A phone-sized chat: a question answered from the help center, with its source."""
    context = browser.new_context(viewport={"width": 420, "height": 900}, locale="vi-VN")
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.goto(hub + "/")
    page.get_by_test_id("cskh-status").filter(has_text="trực tuyến").wait_for()
    page.get_by_test_id("cskh-topic").first.wait_for()
    ask(page, QUESTION)
    page.get_by_test_id("cskh-link").first.wait_for()
    page.get_by_test_id("cskh-quick-reply").first.wait_for()
    page.wait_for_timeout(300)
    page.screenshot(path=str(OUT / "widget.png"))
    context.close()


def console_shot(browser: Any, hub: str) -> None:
    """An agent who claimed an upset customer's chat: the summary, sentiment and transcript."""
    customer_ctx = browser.new_context(viewport={"width": 400, "height": 720}, locale="vi-VN")
    customer_ctx.set_default_timeout(WAIT)
    customer = customer_ctx.new_page()
    agent_ctx = browser.new_context(viewport={"width": 1280, "height": 620}, locale="vi-VN")
    agent_ctx.set_default_timeout(WAIT)
    agent = agent_ctx.new_page()

    username, password, _ = AGENT
    agent.goto(hub + "/console")
    agent.locator("#username").fill(username)
    agent.locator("#password").fill(password)
    agent.locator("#login-submit").click()
    agent.locator("#conn.conn--ok").wait_for()

    customer.goto(hub + "/")
    customer.get_by_test_id("cskh-status").filter(has_text="trực tuyến").wait_for()
    ask(customer, QUESTION)
    ask(customer, ANGRY)
    customer.get_by_test_id("cskh-status").filter(has_text="Đang chờ nhân viên").wait_for()

    item = agent.get_by_test_id("queue-item").filter(has_text="DH123456")
    item.wait_for()
    item.get_by_test_id("claim").click()
    agent.get_by_test_id("summary").wait_for()
    agent.get_by_test_id("reply-text").fill("Chào anh/chị, em là Lan. Em kiểm tra đơn ngay ạ.")
    agent.get_by_test_id("reply-send").click()
    customer.get_by_test_id("cskh-msg-agent").first.wait_for()
    agent.wait_for_timeout(500)
    agent.screenshot(path=str(OUT / "console.png"))
    agent_ctx.close()
    customer_ctx.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cskh-shots-") as tmp:
        stack = Stack(StackConfig.isolated(Path(tmp)))
        stack.start()
        try:
            assert stack.config.database_url
            add_agent(stack.config.database_url)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
                )
                widget_shot(browser, stack.config.hub_url)
                console_shot(browser, stack.config.hub_url)
                browser.close()
        finally:
            stack.stop()
    for name in ("widget.png", "console.png"):
        size = (OUT / name).stat().st_size
        print(f"{OUT / name}: {size / 1000:.0f} kB")
        # They live in git and in every clone: keep them light.
        if size > MAX_BYTES:
            raise SystemExit(f"{name} is over {MAX_BYTES // 1000} kB: use a smaller viewport")


if __name__ == "__main__":
    main()
