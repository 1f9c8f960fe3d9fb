"""The running stack for end-to-end tests: the real action server, Rasa server and hub.

Started once per test session through `cskh.stack` (what `make run` uses), on their own ports
and with their own hub database and Rasa tracker store, so a developer's `make run` can keep
running beside the tests. Agent accounts are made with the real `cskh agent add` command
pointed at the stack's database; the browser is Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hub_e2e import (
    MESSENGER_APP_SECRET,
    MESSENGER_PAGE_TOKEN,
    MESSENGER_VERIFY_TOKEN,
    Account,
    cskh_agent_add,
)

from cskh.paths import DEFAULT_INDEX_DIR
from cskh.stack import RASA_MODEL, Stack, StackConfig
from tests.fakes.graph import FakeGraph
from tests.fakes.zalo import FakeZalo
from tests.fakes.zalo import settings_env as zalo_env

CHROMIUM = os.environ.get("CSKH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def fake_graph() -> Iterator[FakeGraph]:
    """Meta's Send API, faked from its documented payloads, for the stack's Messenger channel."""
    with FakeGraph(page_token=MESSENGER_PAGE_TOKEN) as graph:
        yield graph


@pytest.fixture(scope="session")
def fake_zalo() -> Iterator[FakeZalo]:
    """Zalo's OA API and OAuth server, faked from their documented payloads."""
    zalo = FakeZalo().start()
    yield zalo
    zalo.stop()


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, fake_graph: FakeGraph, fake_zalo: FakeZalo
) -> Iterator[Stack]:
    missing = [p for p in (DEFAULT_INDEX_DIR / "manifest.json",) if not p.exists()]
    if missing or not RASA_MODEL.exists():
        pytest.fail("the index or the Rasa model is missing: run the tests with `make test`")
    run_dir: Path = tmp_path_factory.mktemp("stack")
    # Both platform channels on, pointed at the fakes: the platforms' side of the HTTP
    # boundary is the only part not real.
    env = {
        "CSKH_HUB_MESSENGER_APP_SECRET": MESSENGER_APP_SECRET,
        "CSKH_HUB_MESSENGER_VERIFY_TOKEN": MESSENGER_VERIFY_TOKEN,
        "CSKH_HUB_MESSENGER_PAGE_ACCESS_TOKEN": MESSENGER_PAGE_TOKEN,
        "CSKH_HUB_MESSENGER_GRAPH_URL": fake_graph.url,
        **zalo_env(fake_zalo),
    }
    running = Stack(StackConfig.isolated(run_dir, extra_env=env))
    running.start(timeout=300)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def agents(stack: Stack) -> dict[str, Account]:
    lan = Account("lan", "mat-khau-lan-1", "Nguyễn Lan", "agent")
    boss = Account("boss", "mat-khau-boss-1", "Trần Minh", "supervisor")
    cskh_agent_add(stack, lan, team="billing")
    cskh_agent_add(stack, boss)
    return {"lan": lan, "boss": boss}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
