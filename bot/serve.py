"""Launch the Rasa 3.6 server with small, measured latency patches (run with .venv-rasa).

    .venv-rasa/bin/python bot/serve.py --model var/models/rasa/cskh.tar.gz --port 5005

is `rasa run` with our defaults (bound to 127.0.0.1, bot/endpoints.yml, bot/credentials.yml,
telemetry off; Rasa's HTTP API, which can read and rewrite any transcript or load a model, only
with a token: `CSKH_RASA_AUTH_TOKEN` set turns on `--enable-api --auth-token`; the hub needs
only the REST channel webhook) plus the patches below, applied before Rasa's own
`rasa.__main__.main()`. Each patch targets one per-message cost found in the Rasa 3.6.21
source; before/after numbers are in bot/MEASUREMENTS.md. `CSKH_RASA_PATCHES=none` (or a
comma list such as `jsonschema,session`) selects patches, to re-measure each of them.

1. jsonschema (rasa/core/actions/action.py `RemoteAction._validate_action_result`): every
   custom-action response was validated with `jsonschema.validate()`, which first checks the
   large events schema against the meta-schema and builds a new validator, on every call. We
   build one validator once and reuse it (same schema, same errors).
2. session (rasa/utils/endpoints.py `EndpointConfig.request`): a new aiohttp ClientSession,
   hence a new TCP connection, per action call. We keep one session per endpoint and event
   loop, so calls reuse a keep-alive connection.
3. domain (RemoteAction._action_call_format): the whole domain was serialised and sent with
   every action call. We send it once and afterwards only a `domain_digest`, which
   rasa-sdk >= 3.8 understands (it caches the domain); if the action server answers 449
   (restarted, no cached domain) the call is retried once with the domain. The same patch
   drops the hub's query vector (`cskh_query_vector`, 2 KB, cskh/query_vector.py) from the
   metadata of every past user event sent along: the action reads it from the latest
   message only, and a long conversation would otherwise resend all of them on every call.
4. lock (rasa/core/lock_store.py `LockStore.lock`): a second message of the same conversation
   polled for the conversation lock once per SECOND; we poll every 20 ms
   (`CSKH_RASA_LOCK_POLL_SECONDS`), so bursts in one conversation are not serialised by 1 s.
5. replay (rasa/core/processor.py `MessageProcessor.handle_message`): a message the hub sends
   again (same `cskh_message_id` in its metadata) gets the answer stored in the tracker the
   first time instead of being processed twice (see `patch_replay`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
ALL_PATCHES = ("jsonschema", "session", "domain", "lock", "replay")
# cskh/query_vector.py METADATA_KEY (this file runs in the Rasa venv, without our packages).
QUERY_VECTOR_KEY = "cskh_query_vector"
# The hub's id of the customer message (handoff/core/hub.py `_ask_bot`): a message sent again
# (the hub answering after a crash) is answered from the tracker, not processed twice.
MESSAGE_ID_KEY = "cskh_message_id"


def without_past_query_vectors(state: dict[str, Any]) -> dict[str, Any]:
    """The tracker state with the query vector removed from every event's metadata.

    `latest_message` keeps it. Events are copied, never mutated: Rasa's own events share
    their metadata dicts with this serialised state.
    """
    events = []
    for event in state.get("events") or []:
        metadata = event.get("metadata")
        if isinstance(metadata, dict) and QUERY_VECTOR_KEY in metadata:
            kept = {k: v for k, v in metadata.items() if k != QUERY_VECTOR_KEY}
            event = {**event, "metadata": kept}
        events.append(event)
    return {**state, "events": events}

logger = logging.getLogger("cskh.serve")


def selected_patches(value: str | None) -> set[str]:
    if value is None or value.strip().lower() in ("", "all"):
        return set(ALL_PATCHES)
    if value.strip().lower() == "none":
        return set()
    chosen = {p.strip() for p in value.split(",") if p.strip()}
    unknown = chosen - set(ALL_PATCHES)
    if unknown:
        raise SystemExit(f"serve.py: unknown patch(es) {sorted(unknown)}; known: {ALL_PATCHES}")
    return chosen


def patch_jsonschema() -> None:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)  # once, instead of once per action call
    validator = validator_class(schema)
    original = RemoteAction._validate_action_result

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if validator.is_valid(result):
            return True
        return original(self, result)  # the slow path only to raise Rasa's exact error

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


def patch_session() -> None:
    import aiohttp
    from rasa.utils.endpoints import EndpointConfig

    sessions: dict[tuple[int, int], aiohttp.ClientSession] = {}

    class _Borrowed:
        """`async with endpoint.session()` must not close the shared session."""

        def __init__(self, session: aiohttp.ClientSession) -> None:
            self._session = session

        async def __aenter__(self) -> aiohttp.ClientSession:
            return self._session

        async def __aexit__(self, *exc: object) -> None:
            return None

    original_session = EndpointConfig.session

    def session(self: EndpointConfig) -> Any:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return original_session(self)
        key = (id(self), id(loop))
        shared = sessions.get(key)
        if shared is None or shared.closed:
            shared = original_session(self)
            sessions[key] = shared
        return _Borrowed(shared)

    EndpointConfig.session = session  # type: ignore[method-assign]


def patch_domain() -> None:
    import rasa
    from rasa.core.actions import action as action_module
    from rasa.shared.core.trackers import EventVerbosity
    from rasa.shared.exceptions import RasaException
    from rasa.utils.endpoints import ClientResponseError

    RemoteAction = action_module.RemoteAction
    # id(domain) -> (domain kept alive so the id is not reused, digest, serialised domain)
    cache: dict[int, tuple[Any, str, dict[str, Any]]] = {}
    delivered: set[tuple[str, str]] = set()  # (action server url, digest)

    def _domain_entry(domain: Any) -> tuple[str, dict[str, Any]]:
        entry = cache.get(id(domain))
        if entry is None or entry[0] is not domain:
            as_dict = domain.as_dict()
            digest = hashlib.sha256(
                json.dumps(as_dict, sort_keys=True, default=str).encode()
            ).hexdigest()
            entry = (domain, digest, as_dict)
            cache[id(domain)] = entry
        return entry[1], entry[2]

    def _action_call_format(self: Any, tracker: Any, domain: Any) -> dict[str, Any]:
        digest, as_dict = _domain_entry(domain)
        url = self.action_endpoint.url if self.action_endpoint else ""
        result: dict[str, Any] = {
            "next_action": self._name,
            "sender_id": tracker.sender_id,
            "tracker": without_past_query_vectors(tracker.current_state(EventVerbosity.ALL)),
            "version": rasa.__version__,
            "domain_digest": digest,
        }
        if (url, digest) not in delivered:
            result["domain"] = as_dict
            delivered.add((url, digest))  # optimistic; a 449 below undoes it
        return result

    original_run = RemoteAction.run

    async def run(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> Any:
        try:
            return await original_run(self, output_channel, nlg, tracker, domain)
        except RasaException as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientResponseError) and cause.status == 449:
                url = self.action_endpoint.url if self.action_endpoint else ""
                delivered.discard((url, _domain_entry(domain)[0]))
                logger.info("Action server lost the domain (restart?); resending it")
                return await original_run(self, output_channel, nlg, tracker, domain)
            raise

    RemoteAction._action_call_format = _action_call_format  # type: ignore[method-assign]
    RemoteAction.run = run  # type: ignore[method-assign]


def patch_lock() -> None:
    import contextlib

    from rasa.core.lock_store import LockStore

    poll = float(os.environ.get("CSKH_RASA_LOCK_POLL_SECONDS", "0.02"))
    original_lock = LockStore.lock

    @contextlib.asynccontextmanager
    async def lock(
        self: LockStore,
        conversation_id: str,
        lock_lifetime: float | None = None,
        wait_time_in_seconds: float = poll,
    ) -> Any:
        kwargs: dict[str, Any] = {"wait_time_in_seconds": wait_time_in_seconds}
        if lock_lifetime is not None:
            kwargs["lock_lifetime"] = lock_lifetime
        async with original_lock(self, conversation_id, **kwargs) as ticket_lock:
            yield ticket_lock

    LockStore.lock = lock  # type: ignore[method-assign,assignment]


def answered_before(events: list[Any], message_id: Any) -> list[dict[str, Any]] | None:
    """The bot messages that followed the user message carrying `message_id` in this
    tracker's events, or None when no such message was processed."""
    from rasa.shared.core.events import BotUttered, UserUttered

    if message_id is None:
        return None
    replies: list[dict[str, Any]] | None = None
    for event in events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break  # the next customer message: the answer ended
            if (event.metadata or {}).get(MESSAGE_ID_KEY) == message_id:
                replies = []
        elif isinstance(event, BotUttered) and replies is not None:
            replies.append(event.message())
    return replies


def patch_replay() -> None:
    """5. replay: the hub may send a message again when it cannot know whether Rasa handled
    it (it died between Rasa's answer and storing it). Rasa would process it a second time
    (a second user event, slots and actions run twice); with the hub's message id in the
    metadata we answer from the tracker what it answered the first time."""
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.processor import MessageProcessor

    original = MessageProcessor.handle_message

    async def handle_message(self: MessageProcessor, message: Any) -> Any:
        message_id = (message.metadata or {}).get(MESSAGE_ID_KEY)
        if message_id is not None and isinstance(message.output_channel,
                                                 CollectingOutputChannel):
            tracker = await self.get_tracker(message.sender_id)
            replies = answered_before(list(tracker.events), message_id)
            # Processed without any answer (the action server was down): the hub got
            # nothing to store either, so the message is handled again.
            if replies:
                logger.info("replaying the answer to message %s", message_id)
                for reply in replies:
                    reply = {k: v for k, v in reply.items() if v is not None}
                    reply.pop("timestamp", None)
                    await message.output_channel.send_response(message.sender_id, reply)
                return message.output_channel.messages
        return await original(self, message)

    MessageProcessor.handle_message = handle_message  # type: ignore[method-assign]


PATCHERS = {
    "jsonschema": patch_jsonschema,
    "session": patch_session,
    "domain": patch_domain,
    "lock": patch_lock,
    "replay": patch_replay,
}


def build_argv(args: list[str]) -> list[str]:
    """`rasa run` arguments with our defaults for whatever the caller did not pass."""
    argv = ["rasa", "run", *args]

    def has(*flags: str) -> bool:
        return any(a == f or a.startswith(f + "=") for a in args for f in flags)

    token = os.environ.get("CSKH_RASA_AUTH_TOKEN")
    if token and not has("--enable-api"):
        argv.append("--enable-api")
    if token and not has("--auth-token"):
        # One argument, "--auth-token=…": a token that starts with "-" (token_urlsafe makes
        # one in 64) would otherwise be read by argparse as an option and Rasa would not start.
        argv += [f"--auth-token={token}"]
    if not has("-i", "--interface"):
        argv += ["--interface", "127.0.0.1"]
    if not has("--endpoints"):
        argv += ["--endpoints", str(REPO_ROOT / "bot" / "endpoints.yml")]
    if not has("--credentials"):
        argv += ["--credentials", str(REPO_ROOT / "bot" / "credentials.yml")]
    return argv


def main() -> None:
    # Before importing rasa: no telemetry, no TensorFlow chatter, no SQLAlchemy 2.0 banner.
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    patches = selected_patches(os.environ.get("CSKH_RASA_PATCHES"))
    for name in ALL_PATCHES:
        if name in patches:
            PATCHERS[name]()
    # bot/endpoints.yml keeps the SQLite tracker store in var/rasa/; SQLite creates the file
    # but not its folder.
    (REPO_ROOT / "var" / "rasa").mkdir(parents=True, exist_ok=True)
    sys.argv = build_argv(sys.argv[1:])
    shown = " ".join("***" if prev == "--auth-token" or a.startswith("--auth-token=") else a
                     for prev, a in zip(["", *sys.argv], sys.argv, strict=False))
    print(f"serve.py: patches {sorted(patches) or 'none'}; {shown}", flush=True)

    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
