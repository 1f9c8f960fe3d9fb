"""Session-scoped fixture: the real action server + Rasa server on free localhost ports.

Use it from any test module with `from conftest_rasa import rasa_bot  # noqa: F401` (pytest's
default "prepend" import mode puts tests/e2e on sys.path) or list this module in a root
conftest's `pytest_plugins`. Reuses, in this order:
  - model: $CSKH_RASA_MODEL, else var/models/rasa/cskh.tar.gz (trained here once if missing);
  - index: $CSKH_ACTIONS_INDEX_DIR, else var/index if built, else a temporary index built
    from the demo articles with `cskh kb build`.
Started by `cskh.stack` (`StackConfig.rasa_only`), the launcher of `make run` and the
benchmarks, without the hub.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cskh.paths import DEFAULT_INDEX_DIR, REPO_ROOT
from cskh.stack import RASA_MODEL, RASA_PYTHON, BotFiles, Stack, StackConfig, http_json, train


class RasaBot:
    """A running bot: send customer messages through Rasa's REST webhook."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    @property
    def webhook(self) -> str:
        return self.stack.rasa_webhook

    def send(self, sender: str, text: str) -> list[dict[str, Any]]:
        status, body = http_json(
            self.webhook, {"sender": sender, "message": text, "metadata": {"channel": "web"}}
        )
        assert status == 200, status
        assert isinstance(body, list)
        return body

    def parse(self, text: str) -> dict[str, Any]:
        status, body = http_json(f"{self.stack.config.rasa_url}/model/parse", {"text": text})
        assert status == 200 and isinstance(body, dict)
        return body


def _model() -> Path:
    bot = BotFiles(model=Path(os.environ.get("CSKH_RASA_MODEL", RASA_MODEL)))
    if not bot.model.exists():
        train(bot)
    return bot.model


def _index_dir(tmp_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("CSKH_ACTIONS_INDEX_DIR"):
        return Path(os.environ["CSKH_ACTIONS_INDEX_DIR"])
    if (DEFAULT_INDEX_DIR / "manifest.json").exists():
        return DEFAULT_INDEX_DIR
    index = tmp_factory.mktemp("kb-index")
    subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "cskh"), "kb", "build", "--index", str(index),
         "--quiet"],
        cwd=REPO_ROOT, check=True, timeout=900,
    )
    return index


@pytest.fixture(scope="session")
def rasa_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaBot]:
    if not RASA_PYTHON.exists():
        pytest.skip(".venv-rasa is not installed")
    config = StackConfig.rasa_only(
        tmp_path_factory.mktemp("rasa-stack"), rasa_model=_model(),
        index_dir=_index_dir(tmp_path_factory),
    )
    with Stack(config) as stack:
        yield RasaBot(stack)
