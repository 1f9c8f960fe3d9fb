"""Session-scoped fixture: the real action server + Rasa server on free localhost ports.

Use it from any test module with `from conftest_rasa import rasa_bot  # noqa: F401` (pytest's
default "prepend" import mode puts tests/e2e on sys.path) or list this module in a root
conftest's `pytest_plugins`. Reuses, in this order:
  - model: $CSKH_RASA_MODEL, else var/models/rasa/cskh.tar.gz (trained here once if missing);
  - index: $CSKH_ACTIONS_INDEX_DIR, else var/index if built, else a temporary index built
    from the demo articles with `cskh kb build`.
Process management lives in benchmarks/rasa_stack.py, shared with the latency benchmarks.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import rasa_stack  # noqa: E402


class RasaBot:
    """A running bot: send customer messages through Rasa's REST webhook."""

    def __init__(self, stack: rasa_stack.RasaStack) -> None:
        self.stack = stack

    @property
    def webhook(self) -> str:
        return self.stack.webhook

    def send(self, sender: str, text: str) -> list[dict[str, Any]]:
        status, body = rasa_stack.http_json(
            self.webhook, {"sender": sender, "message": text, "metadata": {"channel": "web"}}
        )
        assert status == 200, status
        assert isinstance(body, list)
        return body

    def parse(self, text: str) -> dict[str, Any]:
        status, body = rasa_stack.http_json(f"{self.stack.rasa.url}/model/parse", {"text": text})
        assert status == 200 and isinstance(body, dict)
        return body


def _model() -> Path:
    model = Path(os.environ.get("CSKH_RASA_MODEL", rasa_stack.DEFAULT_MODEL))
    if not model.exists():
        rasa_stack.train(
            REPO_ROOT / "bot" / "config.yml", REPO_ROOT / "bot" / "domain.yml",
            [REPO_ROOT / "nlu_data"], model.parent, model.name.removesuffix(".tar.gz"),
        )
    return model


def _index_dir(tmp_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("CSKH_ACTIONS_INDEX_DIR"):
        return Path(os.environ["CSKH_ACTIONS_INDEX_DIR"])
    default = REPO_ROOT / "var" / "index"
    if (default / "manifest.json").exists():
        return default
    index = tmp_factory.mktemp("kb-index")
    subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "cskh"), "kb", "build", "--index", str(index),
         "--quiet"],
        cwd=REPO_ROOT, check=True, timeout=900,
    )
    return index


@pytest.fixture(scope="session")
def rasa_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaBot]:
    if not rasa_stack.RASA_PYTHON.exists():
        pytest.skip(".venv-rasa is not installed")
    env = {"CSKH_ACTIONS_INDEX_DIR": str(_index_dir(tmp_path_factory))}
    workdir = tmp_path_factory.mktemp("rasa-stack")
    with rasa_stack.rasa_stack(_model(), action_env=env, workdir=workdir) as stack:
        yield RasaBot(stack)
