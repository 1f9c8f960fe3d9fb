"""Agents, their login sessions, availability and load."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import auth
from ..core.views import AgentInfo, AgentRow, AgentStatus
from ..errors import Conflict, HubError, NotFound
from .conversations import agent_info
from .models import (
    AGENT_ROLES,
    AGENT_STATUSES,
    ASSIGNED,
    AWAY,
    DEFAULT_CAPACITY,
    Agent,
    AgentSession,
    Conversation,
    utcnow,
)

USERNAME_RE = re.compile(r"[A-Za-z0-9_.@-]{2,64}")


def check_new_password(password: str) -> None:
    if len(password) < 8:
        raise HubError("weak_password")


def check_capacity(capacity: int) -> None:
    if not 0 <= capacity <= 100:
        raise HubError("invalid_capacity")


def create(
    s: Session,
    username: str,
    password_hash: str,
    display_name: str | None,
    role: str,
    team: str | None,
    capacity: int = DEFAULT_CAPACITY,
) -> AgentInfo:
    check_capacity(capacity)
    if role not in AGENT_ROLES:
        raise HubError("invalid_role", allowed=", ".join(AGENT_ROLES))
    username = username.strip()
    if not USERNAME_RE.fullmatch(username):
        raise HubError("invalid_username")
    agent = Agent(
        username=username,
        display_name=(display_name or username).strip()[:128],
        password_hash=password_hash,
        role=role,
        team=team,
        capacity=capacity,
    )
    s.add(agent)
    try:
        s.flush()
    except IntegrityError as exc:
        raise Conflict("agent_exists", username=username) from exc
    return agent_info(agent)


def by_username(s: Session, username: str, *, for_update: bool = False) -> Agent:
    q = select(Agent).where(Agent.username == username)
    agent = s.scalar(q.with_for_update() if for_update else q)
    if agent is None:
        raise NotFound("agent_not_found", username=username)
    return agent


def set_password_hash(s: Session, username: str, password_hash: str) -> None:
    agent = by_username(s, username, for_update=True)
    agent.password_hash = password_hash
    # A password change logs the agent out everywhere.
    s.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))


def set_active(s: Session, username: str, active: bool) -> None:
    agent = by_username(s, username, for_update=True)
    agent.active = active
    if not active:
        s.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))


def set_capacity(s: Session, username: str, capacity: int) -> None:
    check_capacity(capacity)
    by_username(s, username, for_update=True).capacity = capacity


def rows(s: Session) -> list[AgentRow]:
    return [
        AgentRow(
            **agent_info(a).public().model_dump(),
            active=a.active,
            status=a.status,
            capacity=a.capacity,
        )
        for a in s.scalars(select(Agent).order_by(Agent.username))
    ]


def load(s: Session, agent_id: int) -> int:
    return int(
        s.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.state == ASSIGNED, Conversation.assigned_agent_id == agent_id)
        )
        or 0
    )


def free_slots(s: Session, agent_ids: Collection[int]) -> int:
    """Open seats (capacity minus chats held) of these agents, those not set away (2 queries)."""
    if not agent_ids:
        return 0
    rows = s.execute(
        select(Agent.id, Agent.capacity).where(
            Agent.id.in_(agent_ids), Agent.status != AWAY, Agent.active.is_(True)
        )
    ).all()
    held = dict(
        s.execute(
            select(Conversation.assigned_agent_id, func.count())
            .where(Conversation.state == ASSIGNED, Conversation.assigned_agent_id.in_(agent_ids))
            .group_by(Conversation.assigned_agent_id)
        ).all()
    )
    return sum(max(0, capacity - int(held.get(agent_id, 0))) for agent_id, capacity in rows)


def status(s: Session, agent_id: int) -> AgentStatus:
    agent = s.get(Agent, agent_id)
    if agent is None:
        raise NotFound("agent_not_found")
    return AgentStatus(status=agent.status, capacity=agent.capacity, load=load(s, agent_id))


def set_status(s: Session, agent_id: int, new_status: str) -> None:
    if new_status not in AGENT_STATUSES:
        raise HubError("invalid_status", allowed=", ".join(AGENT_STATUSES))
    s.execute(update(Agent).where(Agent.id == agent_id).values(status=new_status))


def lock(s: Session, agent_id: int) -> Agent | None:
    """The agent's row, locked until commit: claims and transfers to one agent serialise on
    it, so each counts the others' assignments (SQLite: BEGIN IMMEDIATE serialises anyway)."""
    return s.scalar(select(Agent).where(Agent.id == agent_id).with_for_update())


def require_available(s: Session, agent: Agent, *, for_self: bool) -> None:
    """Refuse work for an agent who is away or at capacity (claims and transfers)."""
    if agent.status == AWAY:
        raise Conflict("agent_away" if for_self else "target_away", name=agent.display_name)
    current = load(s, agent.id)
    if current >= agent.capacity:
        raise Conflict(
            "at_capacity" if for_self else "target_at_capacity",
            name=agent.display_name,
            load=current,
            capacity=agent.capacity,
        )


def password_hash(s: Session, username: str) -> tuple[Agent | None, str | None]:
    agent = s.scalar(select(Agent).where(Agent.username == username))
    if agent is None or not agent.active:
        return None, None
    return agent, agent.password_hash


def purge_expired_sessions(s: Session) -> int:
    """Delete login sessions past their expiry; how many."""
    result = s.execute(delete(AgentSession).where(AgentSession.expires_at < utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def start_session(s: Session, agent_id: int, hours: int) -> str:
    token = auth.new_session_token()
    s.add(
        AgentSession(
            token_hash=auth.token_hash(token),
            agent_id=agent_id,
            expires_at=utcnow() + timedelta(hours=hours),
        )
    )
    return token


def session_agent(s: Session, token: str) -> AgentInfo | None:
    if not token or len(token) > 200:
        return None
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
    return agent_info(agent)


def live_session_hashes(s: Session, hashes: Collection[str]) -> set[str]:
    """Of these session token hashes, those still valid (not ended, not expired, agent
    active): one query for every console socket of a replica."""
    if not hashes:
        return set()
    rows = s.execute(
        select(AgentSession.token_hash)
        .join(Agent, AgentSession.agent_id == Agent.id)
        .where(
            AgentSession.token_hash.in_(list(hashes)),
            AgentSession.expires_at >= utcnow(),
            Agent.active.is_(True),
        )
    ).scalars()
    return set(rows)


def end_session(s: Session, token: str) -> None:
    s.execute(delete(AgentSession).where(AgentSession.token_hash == auth.token_hash(token)))
