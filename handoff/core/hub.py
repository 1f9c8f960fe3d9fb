"""The hub's use cases: every customer and agent action, and every read the adapters serve.

Routes and socket handlers translate a protocol into one call here and the typed result
back; they hold no rule. Each step that changes something is one database transaction
(`_tx_*`, run in a worker thread so a slow database never stalls the event loop), and
everything a customer must receive because of that change is written in the same
transaction: returned inline to channels that answer in the request itself, or put in the
outbox for the delivery worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ParamSpec, Protocol, TypeVar

import anyio.to_thread
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cskh import query_vector
from cskh.text import fold
from triage.facts import EMAIL, find_phones

from .. import auth, logs
from ..channels.base import Channel, InboundMessage
from ..errors import Conflict, Forbidden, NotFound, RateLimited
from ..inputs import clean_metadata
from ..metrics import HubMetrics
from ..rasa import RasaClient, RasaUnavailable
from ..settings import HubSettings
from ..store import (
    Store,
    agents,
    contacts,
    conversations,
    lifecycle,
    messages,
    outbox,
    reporting,
)
from ..store.db import lock_key
from ..store.models import (
    ANSWERED,
    ASSIGNED,
    AWAY,
    BOT,
    FAILED_ANSWER,
    ONLINE,
    PENDING,
    QUEUED,
    RESUMING,
    Conversation,
    Handoff,
    Message,
    utcnow,
)
from ..triage_port import Decision, Triage
from . import copy_vi
from .accounts import Accounts
from .hours import business_seconds, business_status, format_local, wait_estimate_seconds
from .locks import KeyedLocks
from .presence import Presence, PresencePort
from .ratelimit import MemoryRateLimiter, RateLimiter
from .sessions import public_ref
from .views import (
    AgentInfo,
    AgentRow,
    AssistHit,
    AssistResult,
    ConversationDetail,
    ConversationView,
    CustomerMessage,
    Delivery,
    EarlierConversation,
    History,
    Me,
    MessageView,
    QueueStatus,
    ReplyResult,
)
from .waiting import asks_about_the_wait, wants_to_stop_waiting

log = logging.getLogger(__name__)

# The hub's own buttons for a customer waiting for a person, by payload.
_WAIT_BUTTON_TITLES = {b["payload"]: b["title"] for b in copy_vi.LEAVE_QUEUE_BUTTONS}

P = ParamSpec("P")
T = TypeVar("T")

# bot/serve.py MESSAGE_ID_KEY: the hub's id of the message Rasa answers.
RASA_MESSAGE_ID_KEY = "cskh_message_id"
IN_HANDOFF = (QUEUED, ASSIGNED)
# The bot answers until a person claims the conversation.
BOT_ANSWERS = (BOT, QUEUED)


async def run_sync(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


CSAT_RE = re.compile(r'^\s*(?:/csat\{"score":\s*([1-5])\}|([1-5])(?:\s*(?:sao|\*|⭐))?)\s*$')


def parse_csat(text: str) -> int | None:
    match = CSAT_RE.match(text)
    if not match:
        return None
    return int(match.group(1) or match.group(2))


def pick_button(offered: Sequence[dict[str, str]], text: str) -> str | None:
    """The payload of the offered button a customer named by number ("2") or by title."""
    said = fold(text).strip(" .)")
    for i, button in enumerate(offered, start=1):
        if said == str(i) or said == fold(button.get("title", "")).strip():
            return button.get("payload") or None
    return None


def find_contact(text: str) -> tuple[list[str], list[str]]:
    """Phone numbers (normalised, order codes excluded) and e-mails in a customer message."""
    emails = list(dict.fromkeys(m.group(0).lower() for m in EMAIL.finditer(text)))
    return find_phones(text), emails


class ConsoleNotifier(Protocol):
    """Pushes live updates to the agents' consoles (best effort: the console can re-read)."""

    async def to_console(self, event: str, data: dict[str, Any]) -> None: ...

    async def end_login(self, token_hash: str) -> None:
        """Close the console sockets opened with that login session."""
        ...


class NullConsole:
    async def to_console(self, event: str, data: dict[str, Any]) -> None:
        return None

    async def end_login(self, token_hash: str) -> None:
        return None


Analyse = Callable[[str], Awaitable[tuple[dict[str, Any] | None, dict[str, Any] | None]]]


@dataclass
class InboundResult:
    """What became of one customer message."""

    conversation: ConversationView
    replies: list[CustomerMessage] = field(default_factory=list)
    duplicate: bool = False


@dataclass
class _Step:
    """What one transaction produced: the conversation after it, the messages it added (for
    the console), those the customer sees, and whether the outbox got rows."""

    conversation: ConversationView
    added: list[MessageView] = field(default_factory=list)
    customer: list[MessageView] = field(default_factory=list)
    queued_outbox: bool = False
    changed_hands: bool = False  # the conversation entered or left people's hands


@dataclass
class _Inbound:
    step: _Step
    duplicate: bool = False
    admitted: bool = True  # may this message's address still queue for a person
    message_id: int | None = None  # the stored customer message the bot answers
    # False when nobody waits on a request for the replies (a message answered after a
    # crash): push channels get them through the outbox.
    inline: bool = True
    # Earlier messages of this customer that a crash left unanswered: answered first.
    earlier: list[_Inbound] = field(default_factory=list)
    to_bot: bool = False  # bot mode: Rasa should answer
    # The message has just queued the conversation (`step` says so); Rasa is asked only for
    # the help center's answer to show while the customer waits (`_advice_while_queued`).
    advice_only: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    user_turn: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    bot_text: str = ""  # what Rasa reads: the text, or the payload of the chosen button


class Hub:
    def __init__(
        self,
        settings: HubSettings,
        store: Store,
        rasa: RasaClient,
        triage: Triage,
        *,
        channels: Mapping[str, Channel] | None = None,
        console: ConsoleNotifier | None = None,
        presence: PresencePort | None = None,
        analyse: Analyse | None = None,
        knowledge_base: Callable[[], Awaitable[Any]] | None = None,
        metrics: HubMetrics | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.persona = settings.persona()
        self.store = store
        self.rasa = rasa
        self.triage = triage
        self.channels: dict[str, Channel] = dict(channels or {})
        self.console: ConsoleNotifier = console or NullConsole()
        self.presence: PresencePort = presence or Presence()
        self._analyse = analyse
        self._knowledge_base = knowledge_base
        self.accounts = Accounts(store)
        self.metrics = metrics or HubMetrics()
        self.limiter: RateLimiter = limiter or MemoryRateLimiter()
        self._hash_pool = ThreadPoolExecutor(
            max_workers=settings.login_hash_workers, thread_name_prefix="cskh-login"
        )
        self._locks = KeyedLocks()
        self._background: set[asyncio.Task[InboundResult]] = set()
        # Set by the delivery worker: called after a transaction wrote outbox rows.
        self.outbox_written: Callable[[], None] = lambda: None

    # ================================================================ customers
    async def customer_message(
        self, inbound: InboundMessage, stored: asyncio.Future[None] | None = None
    ) -> InboundResult:
        """Store, triage and route one customer message; the replies the channel should show
        in its answer to this request (for channels that reply through the outbox they are
        already in it). `stored` is resolved as soon as the message is committed."""
        # A customer's id on a channel is personal (and a web one a credential): logs carry
        # a reference derived from it.
        logs.conversation_id.set(f"{inbound.channel}:{public_ref(inbound.sender_id)}")
        arrived = time.perf_counter()
        admitted = await self._admit(inbound)
        self.metrics.messages.inc(channel=inbound.channel, direction="in")
        # An allow-list, so a client cannot pass the keys only the hub may set for the bot
        # (the query vector, the message id) or fill the database with its own payloads.
        metadata = clean_metadata(
            inbound.metadata,
            self.settings.client_metadata_keys,
            self.settings.client_metadata_max_chars,
        )
        sentiment, vector = await self._score(inbound.text)
        async with self._customer_lock(inbound.channel, inbound.sender_id):
            got = await run_sync(self._tx_inbound, inbound, metadata, sentiment, admitted)
            if stored is not None and not stored.done():
                stored.set_result(None)
            if got.duplicate or not got.to_bot:
                await self._count_handoff(got.step, inbound)
                await self._after(got.step)
                return InboundResult(
                    got.step.conversation,
                    [m.for_customer() for m in got.step.customer],
                    got.duplicate,
                )
            if got.advice_only:
                # The handover is said and on the consoles before the bot is asked anything.
                await self._count_handoff(got.step, inbound)
                await self._after(got.step)
                advice = await self._ask_bot(got, got.bot_text, metadata, vector)
                await self._after(advice)
                replies = [m.for_customer() for m in [*got.step.customer, *advice.customer]]
                return InboundResult(advice.conversation, replies)
            # Earlier messages a crash left unanswered are answered first, in order (Rasa
            # replays any it had already handled: bot/serve.py `replay`).
            earlier_replies: list[CustomerMessage] = []
            for earlier in got.earlier:
                done = await self._ask_bot(earlier, earlier.bot_text, {}, None)
                await self._after(done)
                earlier_replies += [m.for_customer() for m in done.customer]
            step = await self._ask_bot(got, got.bot_text, metadata, vector)
        await self._count_handoff(step, inbound)
        if any(m.role == "bot" for m in step.added):
            self.metrics.reply_seconds.observe(
                time.perf_counter() - arrived, channel=inbound.channel
            )
        await self._after(step)
        replies = [*earlier_replies, *(m.for_customer() for m in step.customer)]
        return InboundResult(step.conversation, replies)

    async def _count_handoff(self, step: _Step, inbound: InboundMessage) -> None:
        """A conversation this message queued counts against its address's hourly handoffs,
        whether the triage handed over before the bot (anger, "gặp nhân viên", a complex
        case) or after it (the bot's own handover)."""
        if step.changed_hands and step.conversation.state == QUEUED and inbound.client_ip:
            await self.limiter.hit(
                f"handoff:ip:{inbound.client_ip}", self.settings.rate_handoffs_per_ip_per_hour, 3600
            )

    async def _admit(self, inbound: InboundMessage) -> bool:
        """Rate limits of a message from a customer whose address we know (web, REST):
        raises RateLimited before anything is stored. Answers whether this address may still
        queue a conversation for a person this hour."""
        if not inbound.rate_limited:
            return True
        settings = self.settings
        ip = inbound.client_ip
        limits = [(f"msg:session:{inbound.channel}:{inbound.sender_id}",
                   settings.rate_messages_per_session_per_minute)]
        if ip:
            limits.append((f"msg:ip:{ip}", settings.rate_messages_per_ip_per_minute))
        for key, limit in limits:
            wait = await self.limiter.hit(key, limit, 60)
            if wait:
                raise RateLimited(retry_after=wait)
        if not ip:
            return True
        wait = await self.limiter.peek(f"handoff:ip:{ip}", settings.rate_handoffs_per_ip_per_hour)
        return not wait

    async def admit_session(self, client_ip: str | None) -> None:
        """A new widget session from this address (raises RateLimited)."""
        if client_ip is None:
            return
        wait = await self.limiter.hit(
            f"session:ip:{client_ip}", self.settings.rate_sessions_per_ip_per_minute, 60
        )
        if wait:
            raise RateLimited(retry_after=wait)

    async def accept(self, inbound: InboundMessage) -> None:
        """Store a message now and answer it in the background: for platforms that want
        their webhook answered at once (Messenger, Zalo) and get the replies by the outbox.
        Returns when the message is committed; raises if it could not be stored."""
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self.customer_message(inbound, stored))
        self._background.add(task)
        task.add_done_callback(self._finished_in_background)
        waiting: set[asyncio.Future[Any]] = {stored, task}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if not stored.done():
            task.result()  # failed before storing: the caller must not acknowledge
            raise RuntimeError("message was not stored")

    async def platform_event(
        self, channel: str, sender_id: str, name: str, data: dict[str, Any]
    ) -> None:
        """A platform event that is not a message (e.g. Zalo's user_seen_message): kept in the
        conversation's audit trail, nothing else."""

        def record(s: Session) -> None:
            conv = messages.conversation_for(s, channel, sender_id)
            messages.add_event(s, conv.id, "platform", name[:255], data)

        await run_sync(self._write, record)

    def _finished_in_background(self, task: asyncio.Task[InboundResult]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("answering a stored message failed", exc_info=task.exception())

    def close(self) -> None:
        self._hash_pool.shutdown(wait=False)

    async def drain(self) -> None:
        """Wait for messages being answered in the background (shutdown, tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def _score(self, text: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        if not text:
            return None, None
        if self._analyse is not None:
            return await self._analyse(text)
        return await run_sync(self.triage.analyse, text)

    def _inline(self, conv: Conversation) -> bool:
        channel = self.channels.get(conv.channel)
        return channel is None or channel.replies_inline

    def _tx_inbound(
        self,
        inbound: InboundMessage,
        metadata: dict[str, Any],
        sentiment: dict[str, Any] | None,
        admitted: bool = True,
    ) -> _Inbound:
        for attempt in range(3):
            try:
                with self.store.write() as s:
                    return self._store_inbound(s, inbound, metadata, sentiment, admitted)
            except IntegrityError:
                # Lost a race creating the conversation or storing the same platform message
                # id from another process: the next attempt sees the winner's row.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _store_inbound(
        self,
        s: Session,
        inbound: InboundMessage,
        metadata: dict[str, Any],
        sentiment: dict[str, Any] | None,
        admitted: bool = True,
    ) -> _Inbound:
        # Another replica may hold a message of the same customer: one decides at a time,
        # so a double-send cannot be escalated twice.
        lock_key(s, f"inbound:{inbound.channel}:{inbound.sender_id}")
        conv = messages.conversation_for(s, inbound.channel, inbound.sender_id)
        if inbound.message_id is not None:
            earlier = messages.by_channel_id(s, conv.id, inbound.message_id)
            if earlier is not None:
                # A redelivery. Answered (or being answered right now): dropped. Stored but
                # never answered (the hub died, Rasa timed out): answered now.
                if conv.state in BOT_ANSWERS and messages.take_if_unanswered(
                    s, earlier.id, utcnow() - timedelta(seconds=self._resume_after())
                ):
                    return self._resume_inbound(s, conv, earlier, admitted)
                return _Inbound(_Step(conversations.light_view(conv)), duplicate=True)
        channel = self.channels.get(inbound.channel)
        if getattr(channel, "numbered_buttons", False) and inbound.text and not inbound.payload:
            # The platform shows buttons as a numbered list: "2" or a title picks one.
            offered = messages.last_buttons(s, conv.id)
            choice = pick_button(offered, inbound.text)
            if choice is not None:
                inbound = dataclasses.replace(inbound, payload=choice)
        meta: dict[str, Any] = {}
        if metadata:
            meta["channel_meta"] = metadata
        if inbound.attachments:
            meta["attachments"] = [a.as_dict() for a in inbound.attachments]
        if inbound.payload:
            meta["payload"] = inbound.payload
        history = messages.transcript(s, conv.id) if conv.state == BOT else []
        said = inbound.text or inbound.bot_text
        if said in _WAIT_BUTTON_TITLES:
            # The web widget sends a button's payload as the text: an agent who took the chat
            # meanwhile reads "Hủy yêu cầu", not "/leave_queue".
            meta["payload"] = said
            said = _WAIT_BUTTON_TITLES[said]
        msg = messages.add_inbound(s, conv, said, meta, inbound.message_id, sentiment)
        s.flush()
        added = [messages.view(msg)]
        # A phone number or e-mail links this conversation to the customer's others.
        phones, emails = find_contact(inbound.text) if inbound.text else ([], [])
        contacts.remember(s, conv.id, phones, emails)
        if not inbound.bot_text or conv.state not in BOT_ANSWERS or conv.csat_pending:
            msg.answer_status = ANSWERED  # not the bot's to answer (a person, a rating...)
        if not inbound.bot_text:
            # An image, sticker or file: kept for the agent, acknowledged, not for the bot.
            ack = []
            if conv.state != ASSIGNED:
                notice = {"notice": "attachment"}
                ack.append(self._add(s, conv.id, "bot", copy_vi.ATTACHMENT_RECEIVED, notice))
            return _Inbound(self._finish(s, conv, added, ack))
        if conv.state == ASSIGNED:
            self._refresh_summary(s, conv)
            return _Inbound(self._finish(s, conv, added, []))  # a person has it: no bot
        if conv.state == QUEUED:
            history = messages.transcript(s, conv.id, before_id=msg.id)
            user_turn = messages.turn(msg)
            self._refresh_summary(s, conv, [*history, user_turn])
            # Waiting for a person is no reason to wait for an answer the help center has:
            # the bot keeps answering (its turns are marked for the agent); the place in
            # the queue does not change.
            if inbound.bot_text == copy_vi.LEAVE_QUEUE:
                msg.answer_status = ANSWERED
                lifecycle.leave_queue(s, conv)
                left = self._add(s, conv.id, "bot", copy_vi.LEFT_QUEUE, {"notice": "left_queue"})
                return _Inbound(self._finish(s, conv, added, [left], changed_hands=True))
            noted = self._while_waiting(s, conv, phones, emails)
            if not noted and inbound.bot_text == copy_vi.KEEP_WAITING:
                kept = self._add(s, conv.id, "bot", copy_vi.KEPT_WAITING, {"notice": "kept"})
                s.flush()
                noted = [kept, self._queue_notice(s, conv)]
            if not noted and asks_about_the_wait(inbound.bot_text):
                noted = self._still_waiting(s, conv)
            if (
                not noted and wants_to_stop_waiting(inbound.bot_text)
                # An angry "thôi khỏi" is not offered the way out: a person should call back.
                and not (sentiment or {}).get("angry")
            ):
                noted = [self._add(
                    s, conv.id, "bot", copy_vi.LEAVE_QUEUE_QUESTION,
                    {"buttons": copy_vi.LEAVE_QUEUE_BUTTONS, "notice": "leave_queue?"},
                )]
            if noted:
                msg.answer_status = ANSWERED
                return _Inbound(self._finish(s, conv, added, noted))
            return _Inbound(
                self._finish(s, conv, added, []),
                admitted=admitted,
                message_id=msg.id,
                to_bot=True,
                history=history,
                user_turn=user_turn,
                profile=dict(conv.profile or {}),
                bot_text=inbound.bot_text,
            )
        if inbound.bot_text in _WAIT_BUTTON_TITLES:
            # A button of a question about the wait, pressed after the wait ended: not a
            # message for the bot, which knows no such intent.
            msg.answer_status = ANSWERED
            told = self._add(s, conv.id, "bot", copy_vi.NOT_WAITING, {"notice": "not_waiting"})
            return _Inbound(self._finish(s, conv, added, [told]))
        if conv.csat_pending:
            score = parse_csat(inbound.bot_text)
            if score is not None:
                lifecycle.record_csat(s, conv, score)
                thanks = self._add(s, conv.id, "bot", copy_vi.CSAT_THANKS)
                return _Inbound(self._finish(s, conv, added, [thanks]))
            conv.csat_pending = False  # the customer moved on: do not ask again

        user_turn = messages.turn(msg)
        profile = dict(conv.profile or {})
        decision = self.triage.decide(history, user_turn, profile)
        if decision.escalate:
            msg.answer_status = ANSWERED
            replies = self._escalate(s, conv, decision, [*history, user_turn], admitted)
            step = self._finish(s, conv, added, replies, changed_hands=True)
            advise = (
                conv.state == QUEUED and bool(decision.reasons)
                and set(decision.reasons) <= _ADVISED_REASONS
            )
            return _Inbound(
                step, admitted=admitted, to_bot=advise, advice_only=advise, history=history,
                user_turn=user_turn, profile=profile, bot_text=inbound.bot_text,
            )
        # Earlier messages a crash left unanswered go to the bot first (same transaction).
        unanswered = [
            self._resume_inbound(s, conv, row, admitted)
            for row in messages.take_earlier_unanswered(s, conv.id, before_id=msg.id)
        ]
        return _Inbound(
            self._finish(s, conv, added, []),
            admitted=admitted,
            message_id=msg.id,
            earlier=unanswered,
            to_bot=True,
            history=history,
            user_turn=user_turn,
            profile=profile,
            bot_text=inbound.bot_text,
        )

    def _add(
        self, s: Session, conversation_id: str, role: str, text: str,
        meta: dict[str, Any] | None = None,
    ) -> Message:
        """Store a message; what the bot and the hub say is rendered in the persona's voice
        here, the one place every such text passes (agents' own words are left alone)."""
        if role in ("bot", "system"):
            text = self.persona.render(text)
            if meta and meta.get("buttons"):
                meta = {**meta, "buttons": [
                    {**b, "title": self.persona.render(str(b.get("title", "")))}
                    for b in meta["buttons"]
                ]}
        return messages.add(s, conversation_id, role, text, meta)

    def _customer_lock(
        self, channel: str, sender_id: str
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Serialises one customer's messages in this process (replicas: `lock_key`)."""
        return self._locks(f"{channel}:{sender_id}")

    def _resume_after(self) -> float:
        # Longer than any answer in flight can take (Rasa's timeout, with margin).
        settings = self.settings
        return max(settings.resume_after_seconds, 2 * settings.rasa_timeout_seconds)

    def _resume_inbound(
        self, s: Session, conv: Conversation, msg: Message, admitted: bool, inline: bool = True
    ) -> _Inbound:
        """The bot's turn for a stored message that was never answered."""
        meta = msg.meta or {}
        return _Inbound(
            _Step(conversations.light_view(conv)),
            admitted=admitted,
            message_id=msg.id,
            inline=inline,
            to_bot=True,
            history=messages.transcript(s, conv.id, before_id=msg.id),
            user_turn=messages.turn(msg),
            profile=dict(conv.profile or {}),
            bot_text=str(meta.get("payload") or msg.text),
        )

    async def resume_unanswered(self) -> int:
        """Answer the customer messages a crash or a timeout left unanswered (at start-up and
        then periodically, on every replica: each message is taken by one). How many."""
        older_than = utcnow() - timedelta(seconds=self._resume_after())
        ids = await run_sync(self._write, messages.take_unanswered, older_than)
        for message_id in ids:
            try:
                await self._answer_stored(message_id)
            except Exception:
                log.exception("answering stored message %s failed", message_id)
        return len(ids)

    async def _answer_stored(self, message_id: int) -> None:
        def customer(s: Session) -> tuple[str, str] | None:
            msg = s.get(Message, message_id)
            conv = s.get(Conversation, msg.conversation_id) if msg else None
            return (conv.channel, conv.external_id) if conv else None

        def load(s: Session) -> _Inbound | None:
            msg = s.get(Message, message_id)
            if msg is None or msg.answer_status != RESUMING:
                return None  # a newer message of the customer answered it meanwhile
            conv = conversations.load(s, msg.conversation_id, for_update=True)
            if conv.state not in BOT_ANSWERS:
                msg.answer_status = ANSWERED  # a person has it now
                return None
            return self._resume_inbound(s, conv, msg, admitted=True, inline=False)

        who = await run_sync(self._read, customer)
        if who is None:
            return
        # The customer's own messages hold the same lock: one answer at a time, in order.
        async with self._customer_lock(*who):
            got = await run_sync(self._write, load)
            if got is None:
                return
            step = await self._ask_bot(got, got.bot_text, {}, None)
        await self._after(step)

    def _finish(
        self,
        s: Session,
        conv: Conversation,
        added: list[MessageView],
        replies: Sequence[Message],
        *,
        changed_hands: bool = False,
        inline: bool = True,
    ) -> _Step:
        """Flush `replies`, put them in the outbox when the customer's channel does not
        answer inline, and describe the step."""
        s.flush()
        shown = [messages.view(m) for m in replies]
        customer = [m for m in shown if m.visible_to_customer]
        queued = False
        if customer and not (inline and self._inline(conv)) and conv.channel in self.channels:
            for row, view in zip(replies, shown, strict=True):
                if view.visible_to_customer:
                    outbox.add(s, row, conv.channel, conv.external_id)
                    queued = True
            s.flush()
            pending = {"delivery": _pending()}
            shown = [m.model_copy(update=pending) if m.visible_to_customer else m for m in shown]
            customer = [m for m in shown if m.visible_to_customer]
        # A full card costs three queries; only the consoles need one, and only for
        # conversations on their lists.
        on_console = changed_hands or conv.state in IN_HANDOFF or bool(conv.flag)
        card = conversations.view(s, conv) if on_console else conversations.light_view(conv)
        return _Step(card, [*added, *shown], customer, queued, changed_hands)

    async def _ask_bot(
        self, got: _Inbound, text: str, metadata: dict[str, Any], vector: dict[str, Any] | None
    ) -> _Step:
        conv = got.step.conversation
        rasa_metadata = {**metadata, "channel": conv.channel}
        if got.message_id is not None:
            # Rasa answers a message it already handled from its tracker (bot/serve.py
            # `replay`): the hub may send it again after a crash.
            rasa_metadata[RASA_MESSAGE_ID_KEY] = got.message_id
        if vector and self.settings.share_query_vector:
            # The sentiment model has just embedded this text; the FAQ search reuses it.
            rasa_metadata[query_vector.METADATA_KEY] = vector
        try:
            bot_msgs = await self.rasa.send(conv.id, text, rasa_metadata)
        except RasaUnavailable as exc:
            if got.advice_only:
                return _Step(got.step.conversation)  # the handover stands; no advice
            return await run_sync(self._tx_bot_down, got, str(exc))
        if not bot_msgs:
            # Every intent of our bot answers; Rasa answers nothing when a custom action
            # failed (e.g. the action server restarting). Silence would leave the customer
            # waiting for a reply that never comes.
            return await run_sync(self._tx_bot_down, got, "Rasa sent no reply (action failed?)")
        return await run_sync(self._tx_bot_turn, got, bot_msgs)

    def _tx_bot_turn(self, got: _Inbound, bot_msgs: list[dict[str, Any]]) -> _Step:
        visible, metas = _split_bot_messages(bot_msgs)
        with self.store.write() as s:
            conv = conversations.load(s, got.step.conversation.id, for_update=True)
            if got.message_id is not None:
                messages.set_answer_status(s, got.message_id, ANSWERED)
            if got.advice_only:
                if conv.state != QUEUED:  # a person took it meanwhile: no bot any more
                    return _Step(conversations.light_view(conv))
                return self._advice_while_queued(s, conv, visible, metas, got.inline)
            prior = got.step.added
            if conv.state == QUEUED:
                return self._bot_turn_while_queued(s, conv, prior, visible, metas, got.inline)
            if conv.state != BOT:
                # People took the conversation while Rasa was answering: the bot must not
                # talk over them, so its answer is dropped.
                return _Step(conversations.light_view(conv), prior)
            recovered = conv.flag == "bot_unavailable"
            if recovered:
                lifecycle.clear_bot_failures(conv)  # its card leaves the consoles' lists
            decision = Decision(False)
            if metas:
                # The bot may itself report a handoff request or a failure: decide again with
                # the bot's reading of this message (`latest["replies"]`, triage's contract).
                latest = {
                    **got.user_turn,
                    "replies": [{"role": "bot", "meta": m} for m in metas],
                }
                decision = self.triage.decide(got.history, latest, got.profile)
            # The bot announcing a handoff ("em đã chuyển ngay cho nhân viên...") and the hub
            # handing over would say it twice, the second time in the words of another reason
            # ("em hiểu anh/chị muốn trao đổi trực tiếp với nhân viên" to a complaint): the
            # hub's reply, which knows the reason and the hour, is said instead. It carries
            # the bot's cskh_meta, so the transcript still records what the bot read.
            announced = _announces_handoff(metas)
            said_by_hub = decision.escalate and announced
            if not decision.escalate and decision.reply:
                # The triage did not follow the bot's handover (praise read as a complaint):
                # its "em đã chuyển cho nhân viên" would promise a person nobody calls. Or
                # the bot made small talk of a negative message ("Dạ vâng ạ" to "chán").
                stored = [self._add(s, conv.id, "bot", decision.reply, {"cskh_meta": metas})]
            elif said_by_hub:
                stored = []
            else:
                stored = [self._add(s, conv.id, "bot", t, meta) for t, meta in visible]
            if decision.escalate:
                s.flush()
                turns = [*got.history, got.user_turn, *(messages.turn(m) for m in stored)]
                if said_by_hub:
                    turns.append({"role": "bot", "text": "", "meta": metas[-1]})
                stored += self._escalate(
                    s, conv, decision, turns, got.admitted,
                    reply_meta={"cskh_meta": metas} if said_by_hub else None,
                )
                return self._finish(s, conv, prior, stored, changed_hands=True, inline=got.inline)
            return self._finish(s, conv, prior, stored, changed_hands=recovered, inline=got.inline)

    def _tx_bot_down(self, got: _Inbound, error: str) -> _Step:
        log.warning("bot unavailable for conversation %s: %s", got.step.conversation.id, error)
        with self.store.write() as s:
            conv = conversations.load(s, got.step.conversation.id, for_update=True)
            if got.message_id is not None:
                messages.set_answer_status(s, got.message_id, FAILED_ANSWER)
            failures = lifecycle.note_bot_failure(s, conv, error)
            replies = [
                self._add(
                    s, conv.id, "bot", copy_vi.BOT_DOWN_REPLY, {"notice": "bot_unavailable"}
                )
            ]
            escalated = False
            if conv.state == BOT and failures >= self.settings.bot_failures_before_queue:
                # Repeatedly down: a person takes over rather than apologising forever.
                s.flush()
                turns = [*got.history, got.user_turn]
                replies += self._escalate(s, conv, Decision(True, ["bot_unavailable"]), turns)
                escalated = True
            return self._finish(
                s, conv, got.step.added, replies, changed_hands=escalated, inline=got.inline
            )

    def _escalate(
        self,
        s: Session,
        conv: Conversation,
        decision: Decision,
        transcript: Sequence[dict[str, Any]],
        admitted: bool = True,
        reply_meta: dict[str, Any] | None = None,
    ) -> list[Message]:
        """Queue the conversation and say so; `reply_meta` is added to the meta of what is
        said (the bot's cskh_meta when its own announcement is not sent)."""
        extra = reply_meta or {}
        if not admitted and "bot_unavailable" not in decision.reasons:
            # This address queued too many conversations this hour: the customers already
            # waiting keep their places; the bot keeps helping this one.
            reasons = {"reasons": decision.reasons}
            messages.add_event(s, conv.id, "handoff_not_admitted", "", reasons)
            return [
                self._add(
                    s, conv.id, "bot", copy_vi.HANDOFF_NOT_ADMITTED,
                    {"notice": "not_admitted", **extra},
                )
            ]
        # No wait in the summary: it is read later, and the console shows the live clock.
        summary = self.triage.summarize(transcript, decision.reasons, conv.channel, None)
        if not lifecycle.enqueue(s, conv, decision.reasons, decision.priority, summary):
            return []
        for reason in decision.reasons:
            self.metrics.handoffs.inc(reason=reason)
        replies = []
        if decision.reply or "bot_unavailable" not in decision.reasons:
            reply = decision.reply or copy_vi.ESCALATION_REPLY
            if not business_status(self.settings, utcnow())[0]:
                # The escalation replies promise a person "in a moment"; at night the notice
                # that follows says when one will read it, and nothing may contradict it.
                reply = decision.reply_out_of_hours or copy_vi.HANDED_OVER_CLOSED
            replies.append(
                self._add(s, conv.id, "bot", reply, {"notice": "escalated", **extra})
            )
        s.flush()
        replies.append(self._queue_notice(s, conv))
        return replies

    def _refresh_summary(
        self, s: Session, conv: Conversation, turns: list[dict[str, Any]] | None = None
    ) -> None:
        """The customer said more after the handoff (an order code, a phone number...): the
        summary the agent reads is rebuilt from the whole conversation (`turns` when the
        caller has read it already), same reasons."""
        handoff = s.get(Handoff, conv.current_handoff_id) if conv.current_handoff_id else None
        if handoff is None or handoff.summary is None:
            return
        if turns is None:
            s.flush()
            turns = messages.transcript(s, conv.id)
        summary = self.triage.summarize(turns, handoff.reasons, conv.channel, None)
        if summary != handoff.summary:
            handoff.summary = summary

    def _while_waiting(
        self, s: Session, conv: Conversation, phones: list[str], emails: list[str]
    ) -> list[Message]:
        """A queued customer writes again: out of hours a phone or e-mail they gave is taken
        down (and that is the whole answer); otherwise nothing, the bot answers."""
        if (phones or emails) and not business_status(self.settings, utcnow())[0]:
            contact = lifecycle.add_contact(s, conv, phones, emails)
            if contact is not None:
                thanks = copy_vi.contact_thanks(contact["phones"], contact["emails"])
                return [self._add(s, conv.id, "system", thanks, {"notice": "contact"})]
        return []

    def _bot_turn_while_queued(
        self,
        s: Session,
        conv: Conversation,
        prior: list[MessageView],
        visible: Sequence[tuple[str, dict[str, Any]]],
        metas: list[dict[str, Any]],
        inline: bool,
    ) -> _Step:
        """The bot's answer to a customer waiting for a person. An answer from the help
        center or an order look-up is given (marked for the agent); what the bot cannot
        answer, or another request for a person, is acknowledged instead: the agent will
        read it, and the wait is restated at most once a minute."""
        if visible and all(_is_an_answer(m) for m in metas):
            stored = [
                self._add(s, conv.id, "bot", text, {**meta, "while_queued": True})
                for text, meta in (copy_vi.for_a_waiting_customer(*m) for m in visible)
            ]
            if any(m.get("kind") == "order_status" for m in metas):
                self._refresh_summary(s, conv)  # the order the bot looked up is a fact
            return self._finish(s, conv, prior, stored, inline=inline)
        if _announces_handoff(metas):
            # Asking for a person again: they are told they still wait, and where.
            return self._finish(s, conv, prior, self._still_waiting(s, conv, metas),
                                inline=inline)
        # The bot's reading stays on the notice: reports count what it could not answer.
        noted: dict[str, Any] = {"notice": "noted"}
        if metas:
            noted["cskh_meta"] = metas
        replies = [self._add(s, conv.id, "bot", copy_vi.FOLLOW_UP_NOTED, noted)]
        last = messages.last_notice_at(s, conv.id)
        if not last or (utcnow() - last).total_seconds() >= self.settings.queue_notice_min_seconds:
            s.flush()
            replies.append(self._queue_notice(s, conv))
        return self._finish(s, conv, prior, replies, inline=inline)

    def _advice_while_queued(
        self,
        s: Session,
        conv: Conversation,
        visible: Sequence[tuple[str, dict[str, Any]]],
        metas: list[dict[str, Any]],
        inline: bool,
    ) -> _Step:
        """The help center's answer to the message that has just queued the conversation,
        when the bot is sure of it (no list of other articles to choose from): a dented
        parcel's "báo trong 48 giờ, gửi ảnh mở hộp kèm mã đơn" lets the customer get it
        ready for the agent, who may come only in the morning. Its "did this help?" is left
        out: a person is handling the case. Nothing when the bot has no sure answer."""
        sure = any(m.get("kind") == "faq_answer" and m.get("confident") for m in metas)
        answer = []
        for i, (said, meta) in enumerate(visible):
            buttons = meta.get("buttons") or []
            kept = [b for b in buttons if b.get("payload") not in _FEEDBACK_PAYLOADS]
            if i and buttons and not kept:
                continue  # the question that follows the answer only to hold those buttons
            if said:
                answer.append((said, {**meta, "buttons": kept} if kept else
                               {k: v for k, v in meta.items() if k != "buttons"}))
        if not sure or not answer:
            return self._finish(s, conv, [], [], inline=inline)
        stored = [self._add(s, conv.id, "bot", copy_vi.WHILE_YOU_WAIT,
                            {"notice": "advice", "cskh_meta": metas})]
        for said, meta in answer:
            said, meta = copy_vi.for_a_waiting_customer(said, meta)
            meta.pop("cskh_meta", None)
            stored.append(self._add(s, conv.id, "bot", said, {**meta, "while_queued": True}))
        return self._finish(s, conv, [], stored, inline=inline)

    def _still_waiting(
        self, s: Session, conv: Conversation, metas: Sequence[Mapping[str, Any]] = ()
    ) -> list[Message]:
        """A queued customer asks whether anyone is there, or for a person again: an apology
        and their place, whenever they ask (the once-a-minute limit is for the restatements
        nobody asked for)."""
        told: dict[str, Any] = {"notice": "still_waiting"}
        if metas:
            told["cskh_meta"] = list(metas)
        apology = self._add(s, conv.id, "bot", copy_vi.STILL_HERE, told)
        s.flush()
        return [apology, self._queue_notice(s, conv)]

    def _queue_notice(
        self, s: Session, conv: Conversation, status: QueueStatus | None = None
    ) -> Message:
        status = status or self._queue_status(s, conv)
        told: dict[str, Any] = {"notice": "queued", "position": status.position}
        if not status.open and status.opens_at is not None:
            text = copy_vi.out_of_hours(
                self.settings.business_hours,
                format_local(datetime.fromisoformat(status.opens_at), self.settings),
                invite=not contacts.known(s, conv.id),
            )
        elif status.position is None:
            text = copy_vi.WAIT_SHORT
        elif status.eta_seconds is None:
            # In business hours with nobody signed in: no estimate is better than a made-up
            # "2 minutes"; the bot keeps answering meanwhile.
            text = copy_vi.nobody_online(status.position)
        else:
            minutes = max(1, round(status.eta_seconds / 60))
            told["eta_minutes"] = minutes
            text = copy_vi.queue_position(status.position, minutes)
        return self._add(s, conv.id, "system", text, told)

    def _queue_status(
        self, s: Session, conv: Conversation, position: int | None = None
    ) -> QueueStatus:
        """`position`: the place when the caller has it already (the queue listing)."""
        position = position or reporting.queue_position(s, conv)
        is_open, opens_at = business_status(self.settings, utcnow())
        eta = None
        online = self.presence.online_agent_ids()
        if position and online:
            handle = reporting.average_handle_seconds(s, self.settings.default_handle_seconds)
            free = agents.free_slots(s, online)
            eta = wait_estimate_seconds(position, len(online), handle, free)
        return QueueStatus(
            position=position,
            eta_seconds=eta,
            open=is_open,
            opens_at=opens_at.isoformat() if opens_at else None,
        )

    async def push_queue_updates(self) -> int:
        """Tell waiting customers their new place when it changed (people ahead were
        served, agents signed in), at most once a minute each. How many were told."""
        steps = await run_sync(self._write, self._tx_queue_updates)
        for step in steps:
            await self._after(step)
        return len(steps)

    def _tx_queue_updates(self, s: Session) -> list[_Step]:
        if not business_status(self.settings, utcnow())[0]:
            return []  # out of hours the place does not move and the opening time holds
        steps = []
        for item in reporting.queue(s):
            conv = conversations.load(s, item.id, for_update=True)
            if conv.state != QUEUED:
                continue
            last = messages.last_queue_notice(s, conv.id)
            if last is None or utcnow() - last.created_at < timedelta(
                seconds=self.settings.queue_notice_min_seconds
            ):
                continue
            status = self._queue_status(s, conv, item.position)
            told = last.meta or {}
            eta = round(status.eta_seconds / 60) if status.eta_seconds else None
            if told.get("position") == status.position and told.get("eta_minutes") == eta:
                continue
            notice = self._queue_notice(s, conv, status)
            steps.append(self._finish(s, conv, [], [notice], inline=False))
        return steps

    async def history(self, channels: Sequence[str], session_id: str) -> History:
        """A customer's own view of their conversation (widget reload, REST polling)."""
        return await run_sync(self._read_history, channels, session_id)

    def _read_history(self, channels: Sequence[str], session_id: str) -> History:
        with self.store.read() as s:
            conv = conversations.find_row(s, channels, session_id)
            if conv is None:
                return History(session_id=session_id, state=BOT, messages=[])
            shown = messages.visible(messages.recent(s, conv.id, 200))
            view = conversations.view(s, conv)
            return History(
                session_id=session_id,
                state=conv.state,
                agent_name=view.assigned_agent.display_name if view.assigned_agent else None,
                messages=[m.for_customer() for m in shown],
                queue=self._queue_status(s, conv) if conv.state == QUEUED else None,
            )

    # =================================================================== agents
    async def claim(self, cid: str, agent: AgentInfo) -> ConversationView:
        step = await run_sync(self._tx_claim, cid, agent)
        await self._after(step)
        return self._with_window(step.conversation)

    def _tx_claim(self, cid: str, agent: AgentInfo) -> _Step:
        with self.store.write() as s:
            conv = lifecycle.claim(s, cid, agent)
            notice = self._add(
                s,
                cid,
                "system",
                copy_vi.agent_joined(agent.display_name),
                {"notice": "agent_joined", "agent_name": agent.display_name},
            )
            return self._finish(s, conv, [], [notice], changed_hands=True, inline=False)

    async def agent_reply(self, cid: str, agent: AgentInfo, text: str) -> ReplyResult:
        step = await run_sync(self._tx_agent_reply, cid, agent, text)
        await self._after(step)
        message = step.added[-1]
        return ReplyResult(message=message, conversation=self._with_window(step.conversation))

    def _tx_agent_reply(self, cid: str, agent: AgentInfo, text: str) -> _Step:
        with self.store.write() as s:
            conv = lifecycle.owned(s, cid, agent)
            ends = self._window_end(conv.channel, conv.last_customer_at, by_person=True)
            if ends is not None and utcnow() > ends:
                # The platform would refuse it: say so now, not after a failed delivery.
                raise Conflict("outside_reply_window", until=format_local(ends, self.settings))
            msg = messages.add(  # the agent's own words: no persona rendering
                s, cid, "agent", text, {"agent_name": agent.display_name}, agent_id=agent.id
            )
            lifecycle.note_agent_reply(s, conv)
            return self._finish(s, conv, [], [msg], inline=False)

    async def transfer(
        self,
        cid: str,
        agent: AgentInfo,
        *,
        to_agent_id: int | None,
        to_team: str | None,
        note: str,
    ) -> ConversationView:
        step = await run_sync(self._tx_transfer, cid, agent, to_agent_id, to_team, note)
        await self._after(step)
        return step.conversation

    def _tx_transfer(
        self, cid: str, agent: AgentInfo, to_agent_id: int | None, to_team: str | None, note: str
    ) -> _Step:
        with self.store.write() as s:
            conv = lifecycle.owned(s, cid, agent)
            target = lifecycle.transfer(
                s, conv, agent, to_agent_id=to_agent_id, to_team=to_team, note=note
            )
            added = []
            if note:
                internal = messages.add(  # the agent's note, for agents only
                    s,
                    cid,
                    "system",
                    copy_vi.transfer_note(note),
                    {"notice": "internal_note", "internal": True},
                    agent_id=agent.id,
                )
                s.flush()
                added.append(messages.view(internal))
            if target is not None:
                text, kind = copy_vi.agent_took_over(target.display_name), "agent_joined"
            else:
                text, kind = copy_vi.TRANSFERRED_TO_TEAM, "transferred"
            notice = self._add(s, cid, "system", text, {"notice": kind})
            return self._finish(s, conv, added, [notice], changed_hands=True, inline=False)

    async def resolve(self, cid: str, agent: AgentInfo, note: str = "") -> ConversationView:
        step = await run_sync(self._tx_resolve, cid, agent, note)
        await self._after(step)
        return step.conversation

    def _tx_resolve(self, cid: str, agent: AgentInfo, note: str) -> _Step:
        with self.store.write() as s:
            conv = lifecycle.owned(s, cid, agent)
            lifecycle.resolve(s, conv, agent, note)
            left = self._add(
                s, cid, "system", copy_vi.agent_left(agent.display_name), {"notice": "agent_left"}
            )
            csat = self._add(
                s,
                cid,
                "bot",
                copy_vi.CSAT_QUESTION,
                {"buttons": copy_vi.CSAT_BUTTONS, "notice": "csat"},
            )
            return self._finish(s, conv, [], [left, csat], changed_hands=True, inline=False)

    async def handback(self, cid: str, agent: AgentInfo, note: str = "") -> ConversationView:
        step = await run_sync(self._tx_handback, cid, agent, note)
        await self._after(step)
        return step.conversation

    def _tx_handback(self, cid: str, agent: AgentInfo, note: str) -> _Step:
        with self.store.write() as s:
            conv = lifecycle.handback(s, cid, agent, note)
            left = self._add(s, cid, "system", copy_vi.HANDED_BACK, {"notice": "agent_left"})
            return self._finish(s, conv, [], [left], changed_hands=True, inline=False)

    async def may_type(self, cid: str, agent: AgentInfo) -> ConversationView | None:
        """The conversation when this agent may show the customer a typing indicator."""
        try:
            conv = await self.conversation(cid)
        except NotFound:
            return None
        owner = conv.assigned_agent
        if conv.state == ASSIGNED and (agent.is_supervisor or (owner and owner.id == agent.id)):
            return conv
        return None

    # ==================================================================== reads
    async def find_conversation(
        self, channels: Sequence[str], external_id: str
    ) -> ConversationView | None:
        return await run_sync(self._read, conversations.find, channels, external_id)

    async def queue_status(self, cid: str) -> QueueStatus:
        def read(s: Session) -> QueueStatus:
            return self._queue_status(s, conversations.load(s, cid))

        return await run_sync(self._read, read)

    async def conversation(self, cid: str) -> ConversationView:
        return self._with_window(await run_sync(self._read, conversations.get, cid))

    async def conversation_detail(self, cid: str, limit: int = 500) -> ConversationDetail:
        def read(s: Session) -> ConversationDetail:
            return ConversationDetail(
                conversation=self._with_window(conversations.get(s, cid)),
                messages=messages.recent(s, cid, limit),
                events=messages.events(s, cid),
            )

        return await run_sync(self._read, read)

    async def queue(self) -> list[ConversationView]:
        return [self._with_window(v) for v in await run_sync(self._read, reporting.queue)]

    async def mine(self, agent: AgentInfo) -> list[ConversationView]:
        views = await run_sync(
            self._read, reporting.conversations_for, None if agent.is_supervisor else agent
        )
        return [self._with_window(v) for v in views]

    async def agents(self) -> list[AgentRow]:
        rows = await run_sync(self._read, agents.rows)
        return [r for r in rows if r.active]

    async def stats(self) -> dict[str, Any]:
        def read(s: Session) -> dict[str, Any]:
            data = reporting.stats(
                s, self.settings.sla_first_response_seconds, self.settings.sla_resolution_seconds
            )
            data["outbox"] = reporting.outbox_backlog(s)
            return data

        data = await run_sync(self._read, read)
        data["agents_online"] = self.presence.agents_online()
        return data

    async def earlier_conversations(self, cid: str) -> list[EarlierConversation]:
        """The customer's other conversations on every channel, found by a phone number or
        e-mail they gave in both."""
        def read(s: Session) -> list[EarlierConversation]:
            conversations.load(s, cid)  # 404 for an unknown id
            return contacts.earlier(s, cid)

        return await run_sync(self._read, read)

    async def assist(self, cid: str) -> AssistResult:
        """Help-center passages for the customer's recent words (agent assist)."""
        kb = await self._knowledge_base() if self._knowledge_base else None
        if kb is None:
            return AssistResult(available=False, hits=[])
        def read(s: Session) -> tuple[list[str], str | None]:
            turns = messages.transcript(s, cid, 50)
            said = [t["text"] for t in turns if t["role"] == "user"]
            conv = s.get(Conversation, cid)
            if conv is None or conv.current_handoff_id is None:
                return said, None
            handoff = s.get(Handoff, conv.current_handoff_id)
            return said, (handoff.summary or {}).get("issue") if handoff else None

        said, issue = await run_sync(self._read, read)
        hits = await run_sync(functools.partial(kb.search_conversation, said, 3, focus=issue))
        return AssistResult(
            available=True,
            hits=[
                AssistHit(
                    article_id=h.article_id,
                    title=h.title,
                    section=h.section,
                    url=h.url,
                    text=h.text,
                    score=round(float(h.score), 3),
                )
                for h in hits
            ],
        )

    async def health(self) -> dict[str, Any]:
        def ping(s: Session) -> bool:
            s.execute(text("SELECT 1"))
            return True

        try:
            db = await run_sync(self._read, ping)
        except Exception:
            db = False
        rasa_ok = await self.rasa.healthy()
        return {"status": "ok" if db else "error", "database": db, "rasa": rasa_ok}

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        with self.store.read() as s:
            return fn(s, *args)

    def _write(self, fn: Callable[..., T], *args: Any) -> T:
        with self.store.write() as s:
            return fn(s, *args)

    # ========================================================== accounts, presence
    async def login(
        self, username: str, password: str, client_ip: str | None = None
    ) -> tuple[str, AgentInfo] | None:
        """The session token and agent, or None for wrong credentials. Raises RateLimited
        while the username or the address is locked after too many failures."""
        settings = self.settings
        keys = [(f"login:user:{username.casefold()}", settings.login_failures_per_user)]
        if client_ip:
            keys.append((f"login:ip:{client_ip}", settings.login_failures_per_ip))
        for key, limit in keys:
            wait = await self.limiter.peek(key, limit)
            if wait:
                raise RateLimited("login_locked", retry_after=wait)
        info, hashed = await run_sync(self._read_credentials, username)
        # scrypt (~50 ms, memory-hard) in its own pool, never in the database threads.
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(
            self._hash_pool, auth.verify_password, password, hashed or auth.dummy_hash()
        )
        if info is None or hashed is None or not ok:
            for key, limit in keys:
                await self.limiter.hit(key, limit, settings.login_lock_seconds)
            return None
        await self.limiter.reset(keys[0][0])
        token = await run_sync(self._write, self._start_session, info.id)
        return token, info

    def _read_credentials(self, username: str) -> tuple[AgentInfo | None, str | None]:
        with self.store.read() as s:
            agent, hashed = agents.password_hash(s, username)
            return (conversations.agent_info(agent) if agent else None), hashed

    def _start_session(self, s: Session, agent_id: int) -> str:
        agents.purge_expired_sessions(s)  # a login is rare enough to carry the clean-up
        return agents.start_session(s, agent_id, self.settings.session_hours)

    async def logout(self, token: str) -> None:
        await run_sync(self._write, agents.end_session, token)
        # This replica's consoles of that login close now; other replicas' at their next
        # session check (ConsoleGateway).
        await self.console.end_login(auth.token_hash(token))

    async def live_logins(self, hashes: Collection[str]) -> set[str]:
        return await run_sync(self._read, agents.live_session_hashes, hashes)

    async def session_agent(self, token: str) -> AgentInfo | None:
        return await run_sync(self._read, agents.session_agent, token)

    async def me(self, agent: AgentInfo) -> Me:
        status = await run_sync(self._read, agents.status, agent.id)
        return Me(**agent.public().model_dump(), **status.model_dump())

    async def set_status(self, agent: AgentInfo, status: str) -> Me:
        await run_sync(self._write, agents.set_status, agent.id, status)
        await self.console.to_console("agent_status", {"agent_id": agent.id, "status": status})
        return await self.me(agent)

    async def agent_connected(self, agent: AgentInfo) -> None:
        """A console socket opened: an agent set away only because their last console
        closed is online again."""
        async with self.presence.lock(agent.id):
            if await self.presence.connected(agent.id):
                await self._set_status_if(agent.id, ONLINE, only_if=AWAY)
        await self.console.to_console("presence", {"online": self.presence.agents_online()})

    async def agent_disconnected(self, agent: AgentInfo) -> None:
        """A console socket closed: with none left nobody can answer, so no new claims."""
        async with self.presence.lock(agent.id):
            if await self.presence.disconnected(agent.id) and await self._set_status_if(
                agent.id, AWAY, only_if=ONLINE
            ):
                await self.presence.mark_auto_away(agent.id)
        await self.console.to_console("presence", {"online": self.presence.agents_online()})

    async def _set_status_if(self, agent_id: int, status: str, *, only_if: str) -> bool:
        def change(s: Session) -> bool:
            if agents.status(s, agent_id).status != only_if:
                return False
            agents.set_status(s, agent_id, status)
            return True

        try:
            changed = await run_sync(self._write, change)
        except Exception:
            log.warning("could not set agent %s %s", agent_id, status, exc_info=True)
            return False
        if changed:
            await self.console.to_console("agent_status", {"agent_id": agent_id, "status": status})
        return changed

    # ================================================================= plumbing
    def _window_end(
        self, channel_name: str, last_customer_at: datetime | None, *, by_person: bool
    ) -> datetime | None:
        """Until when the customer's platform accepts a message (None: no limit)."""
        window = getattr(self.channels.get(channel_name), "reply_window", None)
        if window is None or last_customer_at is None:
            return None
        end: datetime | None = window(last_customer_at, by_person)
        return end

    def _with_window(self, view: ConversationView) -> ConversationView:
        """A card as consoles show it: the platform's reply window and the SLA clock."""
        last = datetime.fromisoformat(view.last_customer_at) if view.last_customer_at else None
        end = self._window_end(view.channel, last, by_person=True)
        view.reply_window_ends_at = end.isoformat() if end else None
        h = view.handoff
        if h is not None and h.queued_at:
            # Both SLA clocks (first response, then resolution) run from the queue entry
            # until the card leaves the lists, in business hours only.
            now = utcnow()
            queued = datetime.fromisoformat(h.queued_at)
            h.sla_elapsed = business_seconds(self.settings, queued, now)
            h.sla_running = business_status(self.settings, now)[0]
            h.sla_measured_at = now.isoformat()
        return view

    async def _after(self, step: _Step) -> None:
        """After a commit: wake the delivery worker and tell the consoles what changed."""
        if step.queued_outbox:
            self.outbox_written()
        conv = step.conversation
        for m in step.added:
            if m.role in ("bot", "agent", "system"):
                self.metrics.messages.inc(channel=conv.channel, direction="out")
        if step.changed_hands and conv.state == ASSIGNED and conv.handoff is not None:
            queued, assigned = conv.handoff.queued_at, conv.handoff.assigned_at
            if queued and assigned and step.added and step.added[-1].notice == "agent_joined":
                wait = datetime.fromisoformat(assigned) - datetime.fromisoformat(queued)
                self.metrics.queue_wait_seconds.observe(wait.total_seconds())
        if not (step.changed_hands or conv.state in IN_HANDOFF or conv.flag):
            return  # a bot-mode conversation is not on any console list
        await self.console.to_console(
            "conversation",
            {
                "conversation": self._with_window(conv).model_dump(mode="json"),
                "messages": [m.model_dump(mode="json") for m in step.added],
            },
        )


def _pending() -> Delivery:
    return Delivery(status=PENDING, attempts=0)


def _announces_handoff(metas: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the bot's turn (by its `cskh_meta`) reports a request for a person."""
    return any(m.get("kind") == "handoff_request" for m in metas)


# Handovers after which the customer is shown the help center's answer while waiting: a
# calm report of a case a person must settle. Not to an angry customer (an article reads as
# being brushed off), nor one who asked for a person or whom the bot already failed.
_ADVISED_REASONS = frozenset({"complex"})
_FEEDBACK_PAYLOADS = frozenset({"/feedback_helpful", "/feedback_not_helpful"})


def _is_an_answer(meta: Mapping[str, Any]) -> bool:
    """Whether a bot reply (by its `cskh_meta`) answers something, for a customer already
    waiting for a person: not "I did not understand", not "I am calling a person", not
    "sorry that did not help, ask a person"."""
    kind = meta.get("kind")
    # A question about one product is answered by "ask a person": the customer already has.
    if kind in ("handoff_request", "fallback", "clarify", "product_question"):
        return False
    if kind == "faq_choices" and not meta.get("articles"):
        return False
    return not (kind == "feedback" and not meta.get("helpful"))


def _split_bot_messages(
    bot_msgs: list[dict[str, Any]],
) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """Rasa's messages as (text, meta) to store, and the hub-only `cskh_meta` payloads."""
    metas: list[dict[str, Any]] = []
    visible: list[tuple[str, dict[str, Any]]] = []
    for m in bot_msgs:
        custom = m.get("custom")
        if isinstance(custom, dict) and "cskh_meta" in custom:
            # Hub-only payload (contracts.md): kept for triage, never shown.
            if isinstance(custom["cskh_meta"], dict):
                metas.append(custom["cskh_meta"])
            continue
        meta: dict[str, Any] = {}
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in m.get("buttons") or []
            if isinstance(b, dict)
        ]
        if buttons:
            meta["buttons"] = buttons
        for key in ("image", "attachment", "custom"):
            if m.get(key) is not None:
                meta[key] = m[key]
        text = m.get("text")
        if not text and not meta:
            continue
        visible.append((str(text or ""), meta))
    if metas:
        if visible:
            visible[-1][1]["cskh_meta"] = metas
        else:
            visible.append(("", {"cskh_meta": metas, "hidden": True}))
    return visible, metas


__all__ = ["Conflict", "Forbidden", "Hub", "InboundResult", "NotFound", "run_sync"]
