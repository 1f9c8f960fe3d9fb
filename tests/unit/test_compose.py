"""docker-compose.yml checked against the code, since nothing can pull images here.

Every setting the file names must be one the code reads (renaming a setting fails this
test), every command must exist, ports and health checks must agree with each other and
with the URLs the services are given, and no two services may share a table.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from actions.settings import ActionSettings
from cskh.diacritics import EVERYDAY_SOURCES
from cskh.paths import REPO_ROOT
from handoff.settings import HubSettings
from handoff.store.models import Base

COMPOSE = REPO_ROOT / "docker-compose.yml"
# Read by others than our settings objects: uvicorn, the images' entrypoints.
FOREIGN_ENV = {
    "hub": {"FORWARDED_ALLOW_IPS"},
    "postgres": {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
}
# What bot/serve.py reads (besides Rasa's own), and what endpoints.docker.yml interpolates.
RASA_ENV = {"CSKH_RASA_AUTH_TOKEN", "CSKH_RASA_LOCK_POLL_SECONDS", "CSKH_RASA_PATCHES",
            "POSTGRES_PASSWORD"}
# Rasa's SQLTrackerStore creates exactly this table.
RASA_TABLES = {"events"}


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(COMPOSE.read_text("utf-8"))
    return data["services"]  # type: ignore[no-any-return]


def _kind(name: str) -> str:
    return re.sub(r"-\d+$", "", name)


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", "")
    return command if isinstance(command, list) else shlex.split(command)


def _env_names(settings: type[Any]) -> set[str]:
    prefix = settings.model_config.get("env_prefix", "")
    names = {f"{prefix}{field}".upper() for field in settings.model_fields}
    for field in settings.model_fields.values():
        alias = field.validation_alias
        names |= {str(c).upper() for c in getattr(alias, "choices", [])}
    return names


def _arg(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_every_setting_named_is_read_by_the_code(services: dict[str, dict[str, Any]]) -> None:
    readers = {
        "hub": _env_names(HubSettings),
        "migrate": _env_names(HubSettings),
        "actions": _env_names(ActionSettings) | {"CSKH_ACTIONS_METRICS_TOKEN"},
        "rasa": RASA_ENV,
    }
    actions_source = (REPO_ROOT / "actions" / "serve.py").read_text("utf-8")
    assert "CSKH_ACTIONS_METRICS_TOKEN" in actions_source
    serve_source = (REPO_ROOT / "bot" / "serve.py").read_text("utf-8")
    for name in RASA_ENV - {"POSTGRES_PASSWORD"}:
        assert name in serve_source
    checked = 0
    for name, service in services.items():
        kind = _kind(name)
        known = readers.get(kind, set()) | FOREIGN_ENV.get(kind, set())
        if kind == "migrate":
            known |= FOREIGN_ENV["hub"]
        for var in service.get("environment") or {}:
            assert var in known, f"{name}: {var} is read by nothing"
            checked += 1
    assert checked > 20


def test_commands_ports_and_health_checks_agree(services: dict[str, dict[str, Any]]) -> None:
    hub_env = services["hub-1"]["environment"]
    rasa_urls = hub_env["CSKH_HUB_RASA_URLS"].split(",")
    assert sorted(urlsplit(u).hostname for u in rasa_urls) == ["rasa-1", "rasa-2"]
    for url in rasa_urls:
        rasa = services[str(urlsplit(url).hostname)]
        command = _command(rasa)
        assert command[:2] == ["python", "bot/serve.py"] and (REPO_ROOT / command[1]).exists()
        assert _arg(command, "--port") == str(urlsplit(url).port)
        assert f":{urlsplit(url).port}/" in " ".join(rasa["healthcheck"]["test"])
        # The API reads and rewrites transcripts: never on without a token.
        assert "--enable-api" not in command or "--auth-token" in command
        endpoints = yaml.safe_load((REPO_ROOT / _arg(command, "--endpoints")).read_text("utf-8"))
        action_url = urlsplit(endpoints["action_endpoint"]["url"])
        actions = services[str(action_url.hostname)]
        assert _command(actions)[:3] == ["python", "-m", "actions.serve"]
        assert _arg(_command(actions), "--port") == str(action_url.port)
        assert f":{action_url.port}/health" in " ".join(actions["healthcheck"]["test"])
        assert endpoints["lock_store"]["type"] == "redis"
        assert endpoints["lock_store"]["url"] in services

    for name in ("hub-1", "hub-2"):
        hub = services[name]
        assert _command(hub) == ["python", "-m", "handoff"]
        port = hub["environment"]["CSKH_HUB_PORT"]
        assert f":{port}/healthz" in " ".join(hub["healthcheck"]["test"])
        # The hub accepts the file's settings as they are (secrets filled in).
        settings = HubSettings(**{
            k[len("CSKH_HUB_"):].lower(): re.sub(r"\$\{[^}]*\}", "from-env", str(v))
            for k, v in hub["environment"].items()
            if k.startswith("CSKH_HUB_")
        })
        assert settings.is_production and len(settings.rasa_url_list()) == 2
        assert settings.migrate_on_start is False  # the one-off `migrate` service does it
        assert hub["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert urlsplit(hub["environment"]["CSKH_HUB_REDIS_URL"]).hostname in services
    assert _command(services["migrate"]) == ["cskh", "hub", "migrate"]

    proxy_conf = (REPO_ROOT / "docker" / "nginx.conf").read_text("utf-8")
    upstreams = re.findall(r"server (hub-\d):(\d+)", proxy_conf)
    assert sorted(upstreams) == [("hub-1", "8000"), ("hub-2", "8000")]
    listen = re.search(r"listen (\d+);", proxy_conf)
    assert listen and services["proxy"]["ports"] == [f"8000:{listen.group(1)}"]
    assert "ip_hash" in proxy_conf  # socket.io long-polling needs sticky sessions


def test_every_service_is_healthchecked_restarted_and_unprivileged(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "no"
            continue
        assert service.get("healthcheck", {}).get("test"), name
        assert service.get("restart") == "unless-stopped", name
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in services
            assert cond["condition"] in ("service_healthy", "service_completed_successfully")
        if "build" in service:
            user = str(service.get("user", ""))
            assert user and not user.startswith("0"), name
            dockerfile = REPO_ROOT / service["build"]["dockerfile"]
            assert f"USER {user}" in dockerfile.read_text("utf-8"), name
    # Only the proxy is reachable from outside.
    assert [n for n, s in services.items() if s.get("ports")] == ["proxy"]


def test_secrets_come_from_the_environment(services: dict[str, dict[str, Any]]) -> None:
    text = COMPOSE.read_text("utf-8")
    for secret in ("POSTGRES_PASSWORD", "CSKH_HUB_SECRET_KEY", "CSKH_HUB_METRICS_TOKEN"):
        assert f"${{{secret}:?" in text, f"{secret} must be required, not defaulted"
    for name, service in services.items():
        for var, value in (service.get("environment") or {}).items():
            if any(w in var for w in ("SECRET", "TOKEN", "PASSWORD")):
                assert str(value).startswith("${") or "${" in str(value), (name, var)


def test_no_two_services_share_a_table(services: dict[str, dict[str, Any]]) -> None:
    hub_db = urlsplit(services["hub-1"]["environment"]["CSKH_HUB_DATABASE_URL"]).path
    endpoints = yaml.safe_load((REPO_ROOT / "bot" / "endpoints.docker.yml").read_text("utf-8"))
    tracker_db = endpoints["tracker_store"]["db"]
    assert hub_db.lstrip("/") != tracker_db
    init = (REPO_ROOT / "docker" / "postgres-init.sql").read_text("utf-8")
    assert f"CREATE DATABASE {tracker_db}" in init
    # Even in one database (as a small install may do) the table names would not meet.
    assert not set(Base.metadata.tables) & RASA_TABLES


def test_dockerfiles_copy_what_the_commands_run() -> None:
    app = (REPO_ROOT / "docker" / "app.Dockerfile").read_text("utf-8")
    for package in ("handoff", "actions", "cskh", "triage", "knowledge_base"):
        assert f"COPY {package} {package}" in app
    # The search reads everyday Vietnamese from these to put marks back on queries.
    for source in EVERYDAY_SOURCES:
        top = source.relative_to(REPO_ROOT).parts[0]
        assert f"COPY {top} {top}" in app
    rasa = (REPO_ROOT / "docker" / "rasa.Dockerfile").read_text("utf-8")
    assert "COPY bot bot" in rasa and "--fixed-model-name cskh" in rasa
    assert Path(REPO_ROOT / "bot" / "credentials.yml").exists()
