"""Synchronous persistence operations of the hub (one transaction per method).

Each public method is called from a worker thread (see `service.Hub`), returns plain dicts
rather than ORM objects (no lazy loading across threads), and is the one place where the
conversation state machine is enforced.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import auth
from .db import session_factory
from .models import (
    AGENT_ROLES,
    AGENT_STATUSES,
    ASSIGNED,
    AWAY,
    BOT,
    DEFAULT_CAPACITY,
    QUEUED,
    RESOLVED,
    Agent,
    AgentSession,
    Conversation,
    Event,
    Handoff,
    Message,
    utcnow,
)

ALLOWED_TRANSITIONS = {
    (BOT, QUEUED),  # escalation decision / repeated bot failure
    (QUEUED, ASSIGNED),  # claim
    (ASSIGNED, ASSIGNED),  # transfer to another agent
    (ASSIGNED, QUEUED),  # transfer to a team / release
    (ASSIGNED, RESOLVED),  # resolve
    (RESOLVED, BOT),  # automatic after resolve
    (ASSIGNED, BOT),  # hand back to the bot without resolving
    (QUEUED, BOT),  # supervisor cancels a queued handoff
}


class HubError(Exception):
    status_code = 400

    def __init__(self, message: str, code: str = "bad_request") -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def with_status(self, status_code: int) -> HubError:
        self.status_code = status_code
        return self


class NotFound(HubError):
    status_code = 404


class Conflict(HubError):
    status_code = 409


class Forbidden(HubError):
    status_code = 403


@dataclass(frozen=True)
class AgentInfo:
    id: int
    username: str
    display_name: str
    role: str
    team: str | None

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "team": self.team,
        }


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _agent_info(a: Agent) -> AgentInfo:
    return AgentInfo(a.id, a.username, a.display_name, a.role, a.team)


def message_dict(m: Message, agent_name: str | None = None) -> dict[str, Any]:
    meta = m.meta or {}
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "role": m.role,
        "text": m.text,
        "buttons": meta.get("buttons") or [],
        "notice": meta.get("notice"),
        "cskh_meta": meta.get("cskh_meta") or [],
        "sentiment": m.sentiment,
        "agent_id": m.agent_id,
        "agent_name": agent_name or meta.get("agent_name"),
        "created_at": _iso(m.created_at),
    }


def customer_message(m: dict[str, Any]) -> dict[str, Any]:
    """What a customer may see of a message: never cskh_meta, sentiment or agent ids."""
    return {
        "id": m["id"],
        "role": m["role"],
        "text": m["text"],
        "buttons": m["buttons"],
        "notice": m["notice"],
        "agent_name": m["agent_name"] if m["role"] == "agent" else None,
        "created_at": m["created_at"],
    }


CSAT_RE = re.compile(r'^\s*(?:/csat\{"score":\s*([1-5])\}|([1-5])(?:\s*(?:sao|\*|⭐))?)\s*$')


def parse_csat(text: str) -> int | None:
    match = CSAT_RE.match(text)
    if not match:
        return None
    return int(match.group(1) or match.group(2))


class Store:
    def __init__(self, engine: Engine, *, default_handle_seconds: int = 240) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)
        self._default_handle = default_handle_seconds

    def _session(self) -> Session:
        return self._sessions()

    # ------------------------------------------------------------------ agents
    def create_agent(
        self,
        username: str,
        password: str,
        display_name: str | None = None,
        role: str = "agent",
        team: str | None = None,
        capacity: int = DEFAULT_CAPACITY,
    ) -> AgentInfo:
        _check_capacity(capacity)
        if role not in AGENT_ROLES:
            raise HubError(f"role must be one of {', '.join(AGENT_ROLES)}")
        username = username.strip()
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{2,64}", username):
            raise HubError("username: 2-64 letters, digits or _.@-")
        if len(password) < 8:
            raise HubError("password must be at least 8 characters")
        agent = Agent(
            username=username,
            display_name=(display_name or username).strip()[:128],
            password_hash=auth.hash_password(password),
            role=role,
            team=team,
            capacity=capacity,
        )
        with self._session() as s, s.begin():
            s.add(agent)
            try:
                s.flush()
            except IntegrityError as exc:
                raise Conflict(f"agent {username!r} already exists", "agent_exists") from exc
            return _agent_info(agent)

    def set_password(self, username: str, password: str) -> None:
        if len(password) < 8:
            raise HubError("password must be at least 8 characters")
        with self._session() as s, s.begin():
            agent = s.scalar(select(Agent).where(Agent.username == username))
            if agent is None:
                raise NotFound(f"no agent {username!r}")
            agent.password_hash = auth.hash_password(password)
            # A password change logs the agent out everywhere.
            s.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))

    def list_agents(self) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.scalars(select(Agent).order_by(Agent.username)).all()
            return [
                {
                    **_agent_info(a).public(),
                    "active": a.active,
                    "status": a.status,
                    "capacity": a.capacity,
                }
                for a in rows
            ]

    def set_capacity(self, username: str, capacity: int) -> None:
        _check_capacity(capacity)
        with self._session() as s, s.begin():
            agent = s.scalar(select(Agent).where(Agent.username == username))
            if agent is None:
                raise NotFound(f"no agent {username!r}")
            agent.capacity = capacity

    def agent_status(self, agent_id: int) -> dict[str, Any]:
        """Status, capacity and current load (assigned conversations) of one agent."""
        with self._session() as s:
            agent = s.get(Agent, agent_id)
            if agent is None:
                raise NotFound("không tìm thấy nhân viên", "agent_not_found")
            return {
                "status": agent.status,
                "capacity": agent.capacity,
                "load": self._load(s, agent_id),
            }

    def set_status(self, agent_id: int, status: str) -> dict[str, Any]:
        if status not in AGENT_STATUSES:
            raise HubError(
                f"trạng thái phải là một trong: {', '.join(AGENT_STATUSES)}", "invalid_status"
            )
        with self._session() as s, s.begin():
            s.execute(update(Agent).where(Agent.id == agent_id).values(status=status))
        return self.agent_status(agent_id)

    @staticmethod
    def _load(s: Session, agent_id: int) -> int:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Conversation)
                .where(Conversation.state == ASSIGNED, Conversation.assigned_agent_id == agent_id)
            )
            or 0
        )

    def _require_available(self, s: Session, agent: Agent, *, for_self: bool) -> None:
        """Refuse (409) work for an agent who is away or at capacity: claims and transfers.

        The caller has locked the agent's row, so concurrent requests count each other."""
        if agent.status == AWAY:
            if for_self:
                raise Conflict(
                    "Bạn đang ở trạng thái Vắng mặt: hãy chuyển sang Trực tuyến để nhận "
                    "cuộc trò chuyện.",
                    "agent_away",
                )
            raise Conflict(
                f"{agent.display_name} đang Vắng mặt: hãy chuyển cho nhóm để người rảnh "
                "tiếp nhận.",
                "target_away",
            )
        load = self._load(s, agent.id)
        if load < agent.capacity:
            return
        if for_self:
            raise Conflict(
                f"Bạn đang phụ trách {load}/{agent.capacity} cuộc trò chuyện (đã đủ sức chứa): "
                "hãy giải quyết bớt trước khi nhận thêm.",
                "at_capacity",
            )
        raise Conflict(
            f"{agent.display_name} đang phụ trách {load}/{agent.capacity} cuộc trò chuyện "
            "(đã đủ sức chứa): hãy chuyển cho nhóm.",
            "target_at_capacity",
        )

    def set_active(self, username: str, active: bool) -> None:
        with self._session() as s, s.begin():
            agent = s.scalar(select(Agent).where(Agent.username == username))
            if agent is None:
                raise NotFound(f"no agent {username!r}")
            agent.active = active
            if not active:
                s.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))

    def login(self, username: str, password: str, hours: int) -> tuple[str, AgentInfo] | None:
        with self._session() as s:
            agent = s.scalar(select(Agent).where(Agent.username == username))
        if agent is None or not agent.active:
            auth.verify_password(password, auth.dummy_hash())
            return None
        if not auth.verify_password(password, agent.password_hash):
            return None
        token = auth.new_session_token()
        with self._session() as s, s.begin():
            s.add(
                AgentSession(
                    token_hash=auth.token_hash(token),
                    agent_id=agent.id,
                    expires_at=utcnow() + timedelta(hours=hours),
                )
            )
        return token, _agent_info(agent)

    def session_agent(self, token: str) -> AgentInfo | None:
        if not token or len(token) > 200:
            return None
        with self._session() as s:
            row = s.execute(
                select(Agent, AgentSession.expires_at)
                .join(AgentSession, AgentSession.agent_id == Agent.id)
                .where(AgentSession.token_hash == auth.token_hash(token))
            ).first()
        if row is None:
            return None
        agent, expires_at = row
        if expires_at < utcnow() or not agent.active:
            return None
        return _agent_info(agent)

    def logout(self, token: str) -> None:
        with self._session() as s, s.begin():
            s.execute(delete(AgentSession).where(AgentSession.token_hash == auth.token_hash(token)))

    def get_agent(self, agent_id: int) -> AgentInfo | None:
        with self._session() as s:
            agent = s.get(Agent, agent_id)
            return _agent_info(agent) if agent and agent.active else None

    # ----------------------------------------------------------- conversations
    def record_inbound(
        self,
        channel: str,
        external_id: str,
        text: str,
        meta: dict[str, Any],
        channel_message_id: str | None,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Persist a customer message (creating the conversation on first contact).

        Returns (conversation, message); message is None when `channel_message_id` was
        already stored (a channel retry), so the caller does nothing twice.
        """
        for _attempt in range(3):
            try:
                with self._session() as s, s.begin():
                    conv = s.scalar(
                        select(Conversation).where(
                            Conversation.channel == channel, Conversation.external_id == external_id
                        )
                    )
                    if conv is None:
                        conv = Conversation(channel=channel, external_id=external_id, profile={})
                        s.add(conv)
                        s.flush()
                    if channel_message_id is not None:
                        dup = s.scalar(
                            select(Message.id).where(
                                Message.conversation_id == conv.id,
                                Message.channel_message_id == channel_message_id,
                            )
                        )
                        if dup is not None:
                            return self._conv_dict(s, conv), None
                    now = utcnow()
                    msg = Message(
                        conversation_id=conv.id,
                        role="user",
                        text=text,
                        meta=meta,
                        channel_message_id=channel_message_id,
                        created_at=now,
                    )
                    s.add(msg)
                    conv.last_customer_at = now
                    conv.updated_at = now
                    s.flush()
                    return self._conv_dict(s, conv), message_dict(msg)
            except IntegrityError:
                # Lost a race creating the conversation or inserting the same channel
                # message id from another process: re-read and try again.
                continue
        raise Conflict("could not store the message, please retry", "store_conflict")

    def set_sentiment(self, message_id: int, sentiment: dict[str, Any]) -> None:
        with self._session() as s, s.begin():
            s.execute(update(Message).where(Message.id == message_id).values(sentiment=sentiment))

    def add_message(
        self,
        conversation_id: str,
        role: str,
        text: str,
        meta: dict[str, Any] | None = None,
        agent_id: int | None = None,
    ) -> dict[str, Any]:
        with self._session() as s, s.begin():
            msg = Message(
                conversation_id=conversation_id,
                role=role,
                text=text,
                meta=meta or {},
                agent_id=agent_id,
                created_at=utcnow(),
            )
            s.add(msg)
            s.flush()
            return message_dict(msg)

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        with self._session() as s:
            conv = s.get(Conversation, conversation_id)
            if conv is None:
                raise NotFound("không tìm thấy cuộc trò chuyện", "not_found")
            return self._conv_dict(s, conv)

    def find_conversation(self, channels: Sequence[str], external_id: str) -> dict[str, Any] | None:
        with self._session() as s:
            conv = s.scalar(
                select(Conversation)
                .where(Conversation.channel.in_(channels), Conversation.external_id == external_id)
                .order_by(Conversation.updated_at.desc())
                .limit(1)
            )
            return self._conv_dict(s, conv) if conv else None

    def messages(self, conversation_id: str, limit: int = 500) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.execute(
                select(Message, Agent.display_name)
                .outerjoin(Agent, Agent.id == Message.agent_id)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.id.desc())
                .limit(limit)
            ).all()
            return [message_dict(m, name) for m, name in reversed(rows)]

    def transcript(self, conversation_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """Turns in the shape triage expects: {role, text, ts, meta?, sentiment?}."""
        turns: list[dict[str, Any]] = []
        for m in self.messages(conversation_id, limit):
            if m["role"] == "system":
                continue
            turn: dict[str, Any] = {"role": m["role"], "text": m["text"], "ts": m["created_at"]}
            if m["cskh_meta"]:
                # The last cskh_meta of a bot turn is the one that describes it.
                turn["meta"] = m["cskh_meta"][-1]
            if m["sentiment"]:
                turn["sentiment"] = m["sentiment"]
            turns.append(turn)
        return turns

    def events(self, conversation_id: str) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.scalars(
                select(Event).where(Event.conversation_id == conversation_id).order_by(Event.id)
            ).all()
            return [
                {
                    "id": e.id,
                    "kind": e.kind,
                    "from_state": e.from_state,
                    "to_state": e.to_state,
                    "reason": e.reason,
                    "actor_agent_id": e.actor_agent_id,
                    "data": e.data,
                    "created_at": _iso(e.created_at),
                }
                for e in rows
            ]

    def note_bot_failure(self, conversation_id: str, error: str) -> int:
        """Flag the conversation (visible in the console); returns consecutive failures."""
        with self._session() as s, s.begin():
            conv = s.get(Conversation, conversation_id)
            if conv is None:
                raise NotFound("không tìm thấy cuộc trò chuyện", "not_found")
            conv.bot_failures += 1
            conv.flag = "bot_unavailable"
            conv.updated_at = utcnow()
            s.add(
                Event(
                    conversation_id=conv.id,
                    kind="flag",
                    reason="bot_unavailable",
                    data={"error": error[:500], "failures": conv.bot_failures},
                )
            )
            return conv.bot_failures

    def clear_bot_failures(self, conversation_id: str) -> None:
        with self._session() as s, s.begin():
            s.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.bot_failures != 0)
                .values(bot_failures=0, flag=None)
            )

    # ------------------------------------------------------------- state machine
    def _transition(
        self,
        s: Session,
        conv: Conversation,
        to_state: str,
        reason: str,
        actor: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        if (conv.state, to_state) not in ALLOWED_TRANSITIONS:
            raise Conflict(
                f"không thể chuyển trạng thái {conv.state} -> {to_state}", "invalid_transition"
            )
        s.add(
            Event(
                conversation_id=conv.id,
                kind="transition",
                from_state=conv.state,
                to_state=to_state,
                reason=reason,
                actor_agent_id=actor,
                data=data or {},
            )
        )
        conv.state = to_state
        conv.updated_at = utcnow()

    def enqueue(
        self,
        conversation_id: str,
        reasons: Sequence[str],
        priority: int,
        summary: dict[str, Any] | None,
    ) -> dict[str, Any]:
        with self._session() as s, s.begin():
            conv = s.get(Conversation, conversation_id, with_for_update=True)
            if conv is None:
                raise NotFound("không tìm thấy cuộc trò chuyện", "not_found")
            if conv.state != BOT:
                return self._conv_dict(s, conv)  # already with people: nothing to do
            now = utcnow()
            handoff = Handoff(
                conversation_id=conv.id,
                reasons=list(reasons),
                priority=priority,
                summary=summary,
                queued_at=now,
            )
            s.add(handoff)
            s.flush()
            self._transition(
                s, conv, QUEUED, ",".join(reasons) or "escalated", data={"priority": priority}
            )
            conv.priority = priority
            conv.queued_at = now
            conv.team = None
            conv.current_handoff_id = handoff.id
            conv.csat_pending = False
            return self._conv_dict(s, conv)

    def claim(self, conversation_id: str, agent: AgentInfo) -> dict[str, Any]:
        """Atomically take a queued conversation: exactly one concurrent claimer wins.

        A single conditional UPDATE is the whole decision: on PostgreSQL the loser blocks on
        the row lock, re-checks `state='queued'` and updates 0 rows; on SQLite writes are
        serialised. No read-then-write window exists.

        Availability and capacity are checked in the same transaction after locking the
        claiming agent's row (`FOR UPDATE`): two concurrent claims by one agent serialise on
        that lock, so the second counts the first's assignment and cannot exceed capacity.
        (SQLite: BEGIN IMMEDIATE already serialises every writer.)
        """
        with self._session() as s, s.begin():
            me = s.scalar(select(Agent).where(Agent.id == agent.id).with_for_update())
            if me is None or not me.active:
                raise Forbidden("tài khoản nhân viên không còn hoạt động", "agent_inactive")
            self._require_available(s, me, for_self=True)
            result = s.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.state == QUEUED)
                .values(state=ASSIGNED, assigned_agent_id=agent.id, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                exists = s.get(Conversation, conversation_id)
                if exists is None:
                    raise NotFound("không tìm thấy cuộc trò chuyện", "not_found")
                raise Conflict("cuộc trò chuyện đã được nhận hoặc không còn chờ", "already_claimed")
            conv = s.get(Conversation, conversation_id)
            assert conv is not None
            s.refresh(conv)
            s.add(
                Event(
                    conversation_id=conv.id,
                    kind="transition",
                    from_state=QUEUED,
                    to_state=ASSIGNED,
                    reason="claimed",
                    actor_agent_id=agent.id,
                )
            )
            self._update_handoff(s, conv, agent_id=agent.id, assigned_at=utcnow(), only_unset=True)
            return self._conv_dict(s, conv)

    def _owned(self, s: Session, conversation_id: str, agent: AgentInfo) -> Conversation:
        conv = s.get(Conversation, conversation_id, with_for_update=True)
        if conv is None:
            raise NotFound("không tìm thấy cuộc trò chuyện", "not_found")
        if conv.state != ASSIGNED:
            raise Conflict("cuộc trò chuyện không do nhân viên phụ trách", "not_assigned")
        if conv.assigned_agent_id != agent.id and not agent.is_supervisor:
            raise Forbidden("cuộc trò chuyện do nhân viên khác phụ trách", "not_owner")
        return conv

    def _update_handoff(
        self, s: Session, conv: Conversation, only_unset: bool = False, **values: Any
    ) -> None:
        if conv.current_handoff_id is None:
            return
        handoff = s.get(Handoff, conv.current_handoff_id)
        if handoff is None:
            return
        for key, value in values.items():
            if only_unset and getattr(handoff, key) is not None and key != "agent_id":
                continue
            setattr(handoff, key, value)

    def agent_reply(self, conversation_id: str, agent: AgentInfo, text: str) -> dict[str, Any]:
        with self._session() as s, s.begin():
            conv = self._owned(s, conversation_id, agent)
            now = utcnow()
            msg = Message(
                conversation_id=conv.id,
                role="agent",
                text=text,
                meta={"agent_name": agent.display_name},
                agent_id=agent.id,
                created_at=now,
            )
            s.add(msg)
            conv.updated_at = now
            self._update_handoff(s, conv, first_response_at=now, only_unset=True)
            s.flush()
            return message_dict(msg, agent.display_name)

    def transfer(
        self,
        conversation_id: str,
        agent: AgentInfo,
        *,
        to_agent_id: int | None,
        to_team: str | None,
        note: str,
    ) -> tuple[dict[str, Any], AgentInfo | None]:
        with self._session() as s, s.begin():
            conv = self._owned(s, conversation_id, agent)
            data = {"note": note, "from_agent_id": conv.assigned_agent_id}
            if to_agent_id is not None:
                # Locked like a claim: two transfers to one agent cannot both fit.
                target = s.scalar(select(Agent).where(Agent.id == to_agent_id).with_for_update())
                if target is None or not target.active:
                    raise NotFound("không tìm thấy nhân viên nhận", "agent_not_found")
                if target.id == conv.assigned_agent_id:
                    raise Conflict("nhân viên này đang phụ trách rồi", "same_agent")
                # A chat handed to someone who is away or full waits unseen; send it to a
                # team queue instead, where the next free agent picks it up.
                self._require_available(s, target, for_self=False)
                data["to_agent_id"] = target.id
                self._transition(s, conv, ASSIGNED, "transfer_agent", agent.id, data)
                conv.assigned_agent_id = target.id
                self._update_handoff(s, conv, agent_id=target.id)
                result_target: AgentInfo | None = _agent_info(target)
            else:
                team = (to_team or "").strip()
                if not team:
                    raise HubError("cần chọn nhân viên hoặc nhóm nhận", "missing_target")
                data["to_team"] = team
                self._transition(s, conv, QUEUED, "transfer_team", agent.id, data)
                conv.assigned_agent_id = None
                conv.team = team[:64]
                # Keeps its original queued_at: a transferred customer should not be sent
                # to the back of the line.
                result_target = None
            if note:
                s.add(
                    Message(
                        conversation_id=conv.id,
                        role="system",
                        text=f"Ghi chú chuyển tiếp: {note}",
                        meta={"notice": "internal_note", "internal": True},
                        agent_id=agent.id,
                        created_at=utcnow(),
                    )
                )
            return self._conv_dict(s, conv), result_target

    def resolve(self, conversation_id: str, agent: AgentInfo, note: str = "") -> dict[str, Any]:
        with self._session() as s, s.begin():
            conv = self._owned(s, conversation_id, agent)
            self._transition(s, conv, RESOLVED, "resolved", agent.id, {"note": note})
            self._update_handoff(s, conv, resolved_at=utcnow())
            self._transition(s, conv, BOT, "after_resolve", agent.id)
            conv.assigned_agent_id = None
            conv.queued_at = None
            conv.priority = 0
            conv.csat_pending = True
            conv.flag = None
            conv.bot_failures = 0
            return self._conv_dict(s, conv)

    def handback(self, conversation_id: str, agent: AgentInfo, note: str = "") -> dict[str, Any]:
        """Return to the bot without resolving (no CSAT), e.g. the customer only had an FAQ."""
        with self._session() as s, s.begin():
            conv = s.get(Conversation, conversation_id, with_for_update=True)
            if conv is None:
                raise NotFound("không tìm thấy cuộc trò chuyện", "not_found")
            if conv.state == QUEUED:
                if not agent.is_supervisor:
                    raise Forbidden("chỉ giám sát viên được hủy hàng chờ", "supervisor_only")
            else:
                conv = self._owned(s, conversation_id, agent)
            self._transition(s, conv, BOT, "handback", agent.id, {"note": note})
            self._update_handoff(s, conv, resolved_at=utcnow())
            conv.assigned_agent_id = None
            conv.queued_at = None
            conv.priority = 0
            conv.flag = None
            conv.bot_failures = 0
            return self._conv_dict(s, conv)

    def record_csat(self, conversation_id: str, score: int) -> None:
        with self._session() as s, s.begin():
            conv = s.get(Conversation, conversation_id, with_for_update=True)
            if conv is None:
                raise NotFound("không tìm thấy cuộc trò chuyện", "not_found")
            conv.csat_pending = False
            now = utcnow()
            self._update_handoff(s, conv, csat_score=score, csat_at=now)
            s.add(
                Event(
                    conversation_id=conv.id, kind="csat", reason=str(score), data={"score": score}
                )
            )

    def add_contact(
        self, conversation_id: str, phones: Sequence[str], emails: Sequence[str]
    ) -> dict[str, list[str]] | None:
        """Merge a customer's phone numbers / e-mails into `profile["contact"]`.

        Returns the contact when something new was stored (an event records it), else None.
        """
        with self._session() as s, s.begin():
            conv = s.get(Conversation, conversation_id, with_for_update=True)
            if conv is None:
                raise NotFound("không tìm thấy cuộc trò chuyện", "not_found")
            profile = dict(conv.profile or {})
            old = profile.get("contact") or {}
            contact = {
                "phones": list(dict.fromkeys([*(old.get("phones") or []), *phones]))[:5],
                "emails": list(dict.fromkeys([*(old.get("emails") or []), *emails]))[:5],
            }
            if contact == {"phones": old.get("phones") or [], "emails": old.get("emails") or []}:
                return None
            profile["contact"] = contact  # a new dict: JSON columns track reassignment only
            conv.profile = profile
            conv.updated_at = utcnow()
            s.add(
                Event(conversation_id=conv.id, kind="contact", reason="left_contact", data=contact)
            )
            return contact

    def clear_csat_pending(self, conversation_id: str) -> None:
        with self._session() as s, s.begin():
            s.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(csat_pending=False)
            )

    # ------------------------------------------------------------------- queue
    def queue_position(self, conversation_id: str) -> int | None:
        with self._session() as s:
            conv = s.get(Conversation, conversation_id)
            if conv is None or conv.state != QUEUED or conv.queued_at is None:
                return None
            ahead = s.scalar(
                select(func.count())
                .select_from(Conversation)
                .where(
                    Conversation.state == QUEUED,
                    Conversation.id != conv.id,
                    or_(
                        Conversation.priority > conv.priority,
                        (Conversation.priority == conv.priority)
                        & (Conversation.queued_at < conv.queued_at),
                    ),
                )
            )
            return int(ahead or 0) + 1

    def average_handle_seconds(self, sample: int = 50) -> float:
        """Mean claim-to-resolution time of recent handoffs (default until there are 3)."""
        with self._session() as s:
            rows = s.execute(
                select(Handoff.assigned_at, Handoff.resolved_at)
                .where(Handoff.assigned_at.is_not(None), Handoff.resolved_at.is_not(None))
                .order_by(Handoff.id.desc())
                .limit(sample)
            ).all()
        durations = [
            (r - a).total_seconds() for a, r in rows if a is not None and r is not None and r >= a
        ]
        if len(durations) < 3:
            return float(self._default_handle)
        return max(30.0, sum(durations) / len(durations))

    def queue(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Queued conversations in service order: priority (desc), then waiting time."""
        now = now or utcnow()
        with self._session() as s:
            convs = s.scalars(
                select(Conversation)
                .where(Conversation.state == QUEUED)
                .order_by(Conversation.priority.desc(), Conversation.queued_at.asc())
            ).all()
            items = []
            for pos, conv in enumerate(convs, start=1):
                item = self._conv_dict(s, conv, now=now)
                item["position"] = pos
                items.append(item)
            return items

    def conversations_for(self, agent: AgentInfo | None) -> list[dict[str, Any]]:
        """Assigned conversations (one agent's, or all for a supervisor), plus flagged ones."""
        with self._session() as s:
            q = select(Conversation).where(Conversation.state == ASSIGNED)
            if agent is not None:
                q = q.where(Conversation.assigned_agent_id == agent.id)
            assigned = s.scalars(q.order_by(Conversation.updated_at.desc())).all()
            flagged = s.scalars(
                select(Conversation)
                .where(Conversation.state == BOT, Conversation.flag.is_not(None))
                .order_by(Conversation.updated_at.desc())
                .limit(50)
            ).all()
            return [self._conv_dict(s, c) for c in [*assigned, *flagged]]

    def stats(self, sla_first: int, sla_resolution: int) -> dict[str, Any]:
        now = utcnow()
        with self._session() as s:
            counts = dict(
                s.execute(select(Conversation.state, func.count()).group_by(Conversation.state))
                .tuples()
                .all()
            )
            since = now - timedelta(days=1)
            handoffs = s.scalars(select(Handoff).where(Handoff.queued_at >= since)).all()
            # Containment: of the conversations in which a customer wrote in the window, those
            # the bot handled alone (no handoff queued in the window).
            active = s.scalar(
                select(func.count()).select_from(Conversation)
                .where(Conversation.last_customer_at >= since)
            ) or 0
            agents = s.execute(
                select(
                    Agent.id, Agent.display_name, Agent.role, Agent.status, Agent.capacity
                ).where(Agent.active.is_(True))
            ).all()
            per_agent_open = dict(
                s.execute(
                    select(Conversation.assigned_agent_id, func.count())
                    .where(Conversation.state == ASSIGNED)
                    .group_by(Conversation.assigned_agent_id)
                )
                .tuples()
                .all()
            )
        waits = [(h.assigned_at - h.queued_at).total_seconds() for h in handoffs if h.assigned_at]
        first = [
            (h.first_response_at - h.queued_at).total_seconds()
            for h in handoffs
            if h.first_response_at
        ]
        first_breaches = sum(
            1
            for h in handoffs
            if ((h.first_response_at or now) - h.queued_at).total_seconds() > sla_first
        )
        resolution_breaches = sum(
            1
            for h in handoffs
            if ((h.resolved_at or now) - h.queued_at).total_seconds() > sla_resolution
        )
        with_person = len({h.conversation_id for h in handoffs})
        contained = max(active - with_person, 0)
        csats = [h.csat_score for h in handoffs if h.csat_score is not None]
        reasons: dict[str, int] = {}
        for h in handoffs:
            for r in h.reasons or []:
                reasons[r] = reasons.get(r, 0) + 1
        csat_distribution = {str(n): sum(1 for c in csats if c == n) for n in range(1, 6)}
        per_agent: dict[int, dict[str, Any]] = {
            aid: {
                "agent_id": aid,
                "name": name,
                "role": role,
                "status": status,
                "capacity": capacity,
                "resolved": 0,
                "open": 0,
                "csat": [],
            }
            for aid, name, role, status, capacity in agents
        }
        for h in handoffs:
            if h.agent_id in per_agent and h.resolved_at:
                per_agent[h.agent_id]["resolved"] += 1
                if h.csat_score is not None:
                    per_agent[h.agent_id]["csat"].append(h.csat_score)
        for aid, n in per_agent_open.items():
            if aid in per_agent:
                per_agent[aid]["open"] = n
        agent_rows = []
        for row in per_agent.values():
            scores = row.pop("csat")
            row["csat_avg"] = round(sum(scores) / len(scores), 2) if scores else None
            agent_rows.append(row)
        return {
            "states": {k: counts.get(k, 0) for k in (BOT, QUEUED, ASSIGNED)},
            "last_24h": {
                "handoffs": len(handoffs),
                "conversations": active,
                "contained": contained,
                "containment_rate": round(contained / active, 3) if active else None,
                "avg_wait_seconds": _mean(waits),
                "avg_first_response_seconds": _mean(first),
                "sla_first_response_breaches": first_breaches,
                "sla_resolution_breaches": resolution_breaches,
                "csat_avg": _mean([float(c) for c in csats]),
                "csat_count": len(csats),
                # Most frequent first; every handoff counts each of its reasons once.
                "reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
                "csat_distribution": csat_distribution,
            },
            "agents": agent_rows,
        }

    # ------------------------------------------------------------- serialising
    def _conv_dict(
        self, s: Session, conv: Conversation, now: datetime | None = None
    ) -> dict[str, Any]:
        now = now or utcnow()
        handoff = s.get(Handoff, conv.current_handoff_id) if conv.current_handoff_id else None
        agent = s.get(Agent, conv.assigned_agent_id) if conv.assigned_agent_id else None
        last = s.scalar(
            select(Message)
            .where(Message.conversation_id == conv.id, Message.role == "user")
            .order_by(Message.id.desc())
            .limit(1)
        )
        in_handoff = conv.state in (QUEUED, ASSIGNED) and handoff is not None
        return {
            "id": conv.id,
            "channel": conv.channel,
            "external_id": conv.external_id,
            "state": conv.state,
            "priority": conv.priority,
            "team": conv.team,
            "flag": conv.flag,
            "csat_pending": conv.csat_pending,
            "profile": conv.profile or {},
            "assigned_agent": _agent_info(agent).public() if agent else None,
            "queued_at": _iso(conv.queued_at),
            "wait_seconds": (now - conv.queued_at).total_seconds()
            if conv.queued_at and conv.state == QUEUED
            else None,
            "created_at": _iso(conv.created_at),
            "updated_at": _iso(conv.updated_at),
            "last_customer_at": _iso(conv.last_customer_at),
            "last_message": last.text[:200] if last else None,
            "last_sentiment": last.sentiment if last else None,
            "handoff": _handoff_dict(handoff, now) if in_handoff and handoff else None,
        }


def _handoff_dict(h: Handoff, now: datetime) -> dict[str, Any]:
    return {
        "id": h.id,
        "reasons": h.reasons,
        "priority": h.priority,
        "summary": h.summary,
        "queued_at": _iso(h.queued_at),
        "assigned_at": _iso(h.assigned_at),
        "first_response_at": _iso(h.first_response_at),
        "first_response_elapsed": ((h.first_response_at or now) - h.queued_at).total_seconds(),
        "open_elapsed": ((h.resolved_at or now) - h.queued_at).total_seconds(),
    }


def _check_capacity(capacity: int) -> None:
    if not 0 <= capacity <= 100:
        raise HubError("capacity must be between 0 and 100", "invalid_capacity")


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def wait_estimate_seconds(position: int, agents_online: int, handle_seconds: float) -> int:
    """Realistic wait: whole 'rounds' of the people ahead shared by the online agents."""
    agents = max(1, agents_online)
    rounds = math.ceil(position / agents)
    # The first round is on average half done already.
    return int(max(60.0, (rounds - 0.5) * handle_seconds))
