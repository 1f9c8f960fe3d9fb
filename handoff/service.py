"""The hub's routing logic: store first, triage, then bot or people.

Channel adapters (REST webhook, socket.io, later Messenger/Zalo) call
`Hub.handle_customer_message`; the agent console calls the agent actions. DB work runs in
worker threads so a slow database never stalls the event loop (and so two claims really
race in tests).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ParamSpec, Protocol, TypeVar
from zoneinfo import ZoneInfo

import anyio.to_thread

from cskh import query_vector
from triage.facts import EMAIL, find_phones

from .models import ASSIGNED, BOT, QUEUED, utcnow
from .rasa import RasaClient, RasaUnavailable
from .settings import HubSettings
from .store import AgentInfo, HubError, Store, customer_message, parse_csat, wait_estimate_seconds
from .triage_port import DEFAULT_ESCALATION_REPLY, Decision, Triage

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

BOT_DOWN_REPLY = (
    "Xin lỗi bạn, trợ lý tự động đang tạm thời gặp sự cố. Tin nhắn của bạn đã được lưu lại "
    "và chúng tôi sẽ phản hồi sớm nhất có thể."
)
CSAT_QUESTION = (
    "Cuộc trò chuyện với nhân viên đã kết thúc. Bạn hài lòng với sự hỗ trợ ở mức nào? "
    "(1 = rất không hài lòng, 5 = rất hài lòng)"
)
CSAT_THANKS = "Cảm ơn bạn đã đánh giá! Nếu cần thêm gì, bạn cứ nhắn cho mình nhé."
CSAT_BUTTONS = [{"title": f"{n} ⭐", "payload": f'/csat{{"score":{n}}}'} for n in range(1, 6)]
STILL_WAITING_NOTICE_SECONDS = 60
CONTACT_INVITE = (
    "Nếu muốn, bạn có thể để lại số điện thoại hoặc email, nhân viên sẽ liên hệ lại với bạn."
)


def contact_thanks(contact: dict[str, list[str]]) -> str:
    left = ", ".join([*contact["phones"], *contact["emails"]])
    return f"Cảm ơn bạn! Chúng tôi đã ghi nhận thông tin liên hệ ({left}) và sẽ liên hệ lại sớm."


def find_contact(text: str) -> tuple[list[str], list[str]]:
    """Phone numbers (normalised, order codes excluded) and e-mails in a customer message."""
    emails = list(dict.fromkeys(m.group(0).lower() for m in EMAIL.finditer(text)))
    return find_phones(text), emails


class Notifier(Protocol):
    """Pushes to connected clients; the REST channel has no push, so these are best effort."""

    async def to_customer(self, conv: dict[str, Any], messages: list[dict[str, Any]]) -> None: ...

    async def to_console(self, event: str, data: dict[str, Any]) -> None: ...

    def agents_online(self) -> int: ...


class NullNotifier:
    async def to_customer(self, conv: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        return None

    async def to_console(self, event: str, data: dict[str, Any]) -> None:
        return None

    def agents_online(self) -> int:
        return 0


async def run_sync(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


class KeyedLocks:
    """One asyncio lock per conversation key, dropped when nobody holds or waits for it.

    Messages of one conversation are handled in order (a customer double-sending must not
    produce two escalations); different conversations run concurrently.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __call__(self, key: str) -> _KeyedLock:
        return _KeyedLock(self, key)


class _KeyedLock:
    def __init__(self, owner: KeyedLocks, key: str) -> None:
        self._owner, self._key = owner, key

    async def __aenter__(self) -> None:
        lock, users = self._owner._locks.get(self._key, (asyncio.Lock(), 0))
        self._owner._locks[self._key] = (lock, users + 1)
        await lock.acquire()

    async def __aexit__(self, *exc: object) -> None:
        lock, users = self._owner._locks[self._key]
        lock.release()
        if users <= 1:
            del self._owner._locks[self._key]
        else:
            self._owner._locks[self._key] = (lock, users - 1)


class Hub:
    def __init__(
        self,
        settings: HubSettings,
        store: Store,
        rasa: RasaClient,
        triage: Triage,
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.rasa = rasa
        self.triage = triage
        self.notifier: Notifier = notifier or NullNotifier()
        self._locks = KeyedLocks()
        self._last_wait_notice: dict[str, datetime] = {}

    # ---------------------------------------------------------------- customers
    async def handle_customer_message(
        self,
        channel: str,
        external_id: str,
        text: str,
        metadata: dict[str, Any] | None = None,
        channel_message_id: str | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Store, triage and route one customer message; return the customer-visible replies."""
        # Only the hub may attach a query vector for the bot (cskh/query_vector.py).
        metadata = {k: v for k, v in (metadata or {}).items() if k != query_vector.METADATA_KEY}
        async with self._locks(f"{channel}:{external_id}"):
            conv, msg = await run_sync(
                self.store.record_inbound,
                channel,
                external_id,
                text,
                {"channel_meta": metadata} if metadata else {},
                channel_message_id,
            )
            if msg is None:
                return conv, []  # duplicate delivery: already handled once
            sentiment, vector = await run_sync(self.triage.analyse, text)
            if sentiment:
                await run_sync(self.store.set_sentiment, msg["id"], sentiment)
                msg["sentiment"] = sentiment
            replies = await self._route(conv, msg, text, metadata, vector)
            if conv["state"] == BOT and replies:
                # Routing may have queued the conversation: report the state it is in now.
                conv = await run_sync(self.store.get_conversation, conv["id"])
        return conv, [customer_message(r) for r in replies]

    async def _route(
        self, conv: dict[str, Any], msg: dict[str, Any], text: str, metadata: dict[str, Any],
        vector: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        cid = conv["id"]
        if conv["state"] in (QUEUED, ASSIGNED):
            # A person owns (or is about to own) the conversation: never call the bot.
            await self.notifier.to_console("message", {"conversation_id": cid, "message": msg})
            if conv["state"] == QUEUED:
                left = await self._take_contact(conv, text)
                if left is not None:
                    return left
                return await self._still_waiting_notice(conv)
            return []

        if conv["csat_pending"]:
            score = parse_csat(text)
            if score is not None:
                await run_sync(self.store.record_csat, cid, score)
                thanks = await run_sync(self.store.add_message, cid, "bot", CSAT_THANKS)
                return [thanks]
            # Anything else means the customer moved on: do not ask again.
            await run_sync(self.store.clear_csat_pending, cid)

        user_turn = {"role": "user", "text": text, "ts": msg["created_at"]}
        if msg.get("sentiment"):
            user_turn["sentiment"] = msg["sentiment"]
        history = await run_sync(self.store.transcript, cid)
        decision = await run_sync(
            self.triage.decide, history[:-1], user_turn, dict(conv.get("profile") or {})
        )
        if decision.escalate:
            return await self._escalate(conv, decision)

        rasa_metadata = {**metadata, "channel": conv["channel"]}
        if vector and self.settings.share_query_vector:
            # The sentiment model has just embedded this text; the FAQ search reuses it.
            rasa_metadata[query_vector.METADATA_KEY] = vector
        try:
            bot_msgs = await self.rasa.send(cid, text, rasa_metadata)
        except RasaUnavailable as exc:
            return await self._bot_down(conv, str(exc))
        if not bot_msgs:
            # Every intent of our bot answers; Rasa answers nothing when a custom action
            # failed (e.g. the action server restarting). Silence would leave the customer
            # waiting for a reply that never comes.
            return await self._bot_down(conv, "Rasa sent no reply (custom action failed?)")
        if conv.get("flag") == "bot_unavailable":
            await run_sync(self.store.clear_bot_failures, cid)

        stored, metas = await self._store_bot_turn(cid, bot_msgs)
        if metas:
            # The bot may itself report a handoff request or a failure: decide again with the
            # bot's reading of this message (`latest["replies"]`, the triage contract).
            latest = {**user_turn, "replies": [{"role": "bot", "meta": m} for m in metas]}
            decision = await run_sync(
                self.triage.decide, history[:-1], latest, dict(conv.get("profile") or {})
            )
            if decision.escalate:
                stored += await self._escalate(conv, decision)
        return stored

    async def _store_bot_turn(
        self, cid: str, bot_msgs: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
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
        stored = []
        for text, meta in visible:
            stored.append(await run_sync(self.store.add_message, cid, "bot", text, meta))
        return [m for m in stored if m["text"] or m["buttons"]], metas

    async def _bot_down(self, conv: dict[str, Any], error: str) -> list[dict[str, Any]]:
        cid = conv["id"]
        log.warning("Rasa unavailable for conversation %s: %s", cid, error)
        failures = await run_sync(self.store.note_bot_failure, cid, error)
        reply = await run_sync(
            self.store.add_message, cid, "bot", BOT_DOWN_REPLY, {"notice": "bot_unavailable"}
        )
        await self.notifier.to_console("conversation", {"conversation_id": cid})
        if failures >= self.settings.bot_failures_before_queue:
            # Repeatedly down: a person takes over rather than apologising forever.
            decision = Decision(True, ["bot_unavailable"], 0, None)
            return [reply, *await self._escalate(conv, decision)]
        return [reply]

    async def _escalate(self, conv: dict[str, Any], decision: Decision) -> list[dict[str, Any]]:
        cid = conv["id"]
        transcript = await run_sync(self.store.transcript, cid)
        summary = await run_sync(
            self.triage.summarize, transcript, decision.reasons, conv["channel"], 0.0
        )
        conv = await run_sync(self.store.enqueue, cid, decision.reasons, decision.priority, summary)
        replies = []
        if decision.reply or "bot_unavailable" not in decision.reasons:
            replies.append(
                await run_sync(
                    self.store.add_message,
                    cid,
                    "bot",
                    decision.reply or DEFAULT_ESCALATION_REPLY,
                    {"notice": "escalated"},
                )
            )
        replies.append(await self._queue_notice(conv))
        self._last_wait_notice[cid] = utcnow()
        await self.notifier.to_console("queue", {"conversation_id": cid})
        return replies

    async def _take_contact(self, conv: dict[str, Any], text: str) -> list[dict[str, Any]] | None:
        """Outside business hours a queued customer may leave a phone number or e-mail."""
        if business_status(self.settings, utcnow())[0]:
            return None
        phones, emails = find_contact(text)
        if not phones and not emails:
            return None
        cid = conv["id"]
        contact = await run_sync(self.store.add_contact, cid, phones, emails)
        if contact is None:
            return None  # nothing new: the usual still-waiting notice
        await self.notifier.to_console("conversation", {"conversation_id": cid})
        self._last_wait_notice[cid] = utcnow()  # the confirmation replaces the wait notice
        thanks = await run_sync(
            self.store.add_message, cid, "system", contact_thanks(contact), {"notice": "contact"}
        )
        return [thanks]

    async def _still_waiting_notice(self, conv: dict[str, Any]) -> list[dict[str, Any]]:
        cid = conv["id"]
        last = self._last_wait_notice.get(cid)
        now = utcnow()
        if last and (now - last).total_seconds() < STILL_WAITING_NOTICE_SECONDS:
            return []
        self._last_wait_notice[cid] = now
        return [await self._queue_notice(conv)]

    async def _queue_notice(self, conv: dict[str, Any]) -> dict[str, Any]:
        cid = conv["id"]
        text = await self.queue_status_text(cid)
        return await run_sync(self.store.add_message, cid, "system", text, {"notice": "queued"})

    async def queue_status(self, cid: str) -> dict[str, Any]:
        position = await run_sync(self.store.queue_position, cid)
        handle = await run_sync(self.store.average_handle_seconds)
        now = utcnow()
        is_open, opens_at = business_status(self.settings, now)
        eta = (
            wait_estimate_seconds(position, self.notifier.agents_online(), handle)
            if position
            else None
        )
        return {"position": position, "eta_seconds": eta, "open": is_open, "opens_at": opens_at}

    async def queue_status_text(self, cid: str) -> str:
        st = await self.queue_status(cid)
        if not st["open"] and st["opens_at"] is not None:
            return (
                "Hiện đã ngoài giờ làm việc của bộ phận hỗ trợ "
                f"({self.settings.business_hours.replace('-', '–')}). "
                f"Nhân viên sẽ trả lời bạn từ {format_local(st['opens_at'], self.settings)}. "
                "Tin nhắn của bạn đã được lưu lại. " + CONTACT_INVITE
            )
        if st["position"] is None:
            return "Nhân viên sẽ phản hồi bạn trong giây lát."
        minutes = max(1, round(st["eta_seconds"] / 60))
        return (
            f"Bạn đang ở vị trí số {st['position']} trong hàng chờ. "
            f"Thời gian chờ dự kiến khoảng {minutes} phút."
        )

    # ------------------------------------------------------------------- agents
    async def claim(self, cid: str, agent: AgentInfo) -> dict[str, Any]:
        conv = await run_sync(self.store.claim, cid, agent)
        notice = await run_sync(
            self.store.add_message,
            cid,
            "system",
            f"Nhân viên {agent.display_name} đã tham gia cuộc trò chuyện.",
            {"notice": "agent_joined", "agent_name": agent.display_name},
        )
        await self._push(conv, [notice])
        await self.notifier.to_console("queue", {"conversation_id": cid})
        return conv

    async def agent_reply(self, cid: str, agent: AgentInfo, text: str) -> dict[str, Any]:
        msg = await run_sync(self.store.agent_reply, cid, agent, text)
        conv = await run_sync(self.store.get_conversation, cid)
        await self._push(conv, [msg])
        return msg

    async def transfer(
        self,
        cid: str,
        agent: AgentInfo,
        *,
        to_agent_id: int | None,
        to_team: str | None,
        note: str,
    ) -> dict[str, Any]:
        conv, target = await run_sync(
            self.store.transfer, cid, agent, to_agent_id=to_agent_id, to_team=to_team, note=note
        )
        if target is not None:
            text = f"Nhân viên {target.display_name} sẽ tiếp tục hỗ trợ bạn."
            notice_kind = "agent_joined"
        else:
            text = "Cuộc trò chuyện đang được chuyển tới bộ phận phù hợp, bạn vui lòng chờ nhé."
            notice_kind = "transferred"
        notice = await run_sync(
            self.store.add_message, cid, "system", text, {"notice": notice_kind}
        )
        await self._push(conv, [notice])
        await self.notifier.to_console("queue", {"conversation_id": cid})
        return conv

    async def resolve(self, cid: str, agent: AgentInfo, note: str = "") -> dict[str, Any]:
        conv = await run_sync(self.store.resolve, cid, agent, note)
        left = await run_sync(
            self.store.add_message,
            cid,
            "system",
            f"Nhân viên {agent.display_name} đã rời cuộc trò chuyện. Trợ lý tự động sẽ tiếp tục "
            "hỗ trợ bạn.",
            {"notice": "agent_left"},
        )
        csat = await run_sync(
            self.store.add_message,
            cid,
            "bot",
            CSAT_QUESTION,
            {"buttons": CSAT_BUTTONS, "notice": "csat"},
        )
        await self._push(conv, [left, csat])
        await self.notifier.to_console("queue", {"conversation_id": cid})
        return conv

    async def handback(self, cid: str, agent: AgentInfo, note: str = "") -> dict[str, Any]:
        conv = await run_sync(self.store.handback, cid, agent, note)
        left = await run_sync(
            self.store.add_message,
            cid,
            "system",
            "Trợ lý tự động sẽ tiếp tục hỗ trợ bạn.",
            {"notice": "agent_left"},
        )
        await self._push(conv, [left])
        await self.notifier.to_console("queue", {"conversation_id": cid})
        return conv

    async def _push(self, conv: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        await self.notifier.to_customer(conv, [customer_message(m) for m in messages])
        for m in messages:
            await self.notifier.to_console("message", {"conversation_id": conv["id"], "message": m})


def _zone(settings: HubSettings) -> Any:
    try:
        return ZoneInfo(settings.timezone)
    except Exception:  # no tzdata: Vietnam has no DST, a fixed offset is exact
        from datetime import timezone

        return timezone(timedelta(hours=7))


def business_status(settings: HubSettings, now: datetime) -> tuple[bool, datetime | None]:
    """(open now?, next opening time in UTC if closed)."""
    tz = _zone(settings)
    local = now.astimezone(tz)
    start, end = settings.hours()
    days = settings.business_day_set()

    def is_open(dt: datetime) -> bool:
        return dt.isoweekday() in days and start <= dt.time() < end

    if is_open(local):
        return True, None
    for offset in range(0, 8):
        day = (local + timedelta(days=offset)).date()
        candidate = datetime.combine(day, start, tzinfo=tz)
        if candidate > local and candidate.isoweekday() in days:
            return False, candidate.astimezone(now.tzinfo)
    return False, None


def format_local(dt: datetime, settings: HubSettings) -> str:
    local = dt.astimezone(_zone(settings))
    today = utcnow().astimezone(_zone(settings)).date()
    when = local.strftime("%H:%M")
    if local.date() == today:
        return f"{when} hôm nay"
    if local.date() == today + timedelta(days=1):
        return f"{when} sáng mai" if local.hour < 12 else f"{when} ngày mai"
    return f"{when} ngày {local.strftime('%d/%m')}"


__all__ = ["BOT", "Hub", "HubError", "Notifier", "business_status"]
