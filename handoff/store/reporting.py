"""Queue order, agent workloads and supervisor statistics (read-only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..core.views import AgentInfo, ConversationView
from . import conversations
from .lifecycle import CUSTOMER_LEFT_QUEUE
from .models import (
    ASSIGNED,
    BOT,
    FAILED,
    PENDING,
    QUEUED,
    SENDING,
    Agent,
    Conversation,
    Event,
    Handoff,
    OutboxEntry,
    utcnow,
)


def queue(s: Session, now: datetime | None = None) -> list[ConversationView]:
    """Queued conversations in service order (priority desc, then waiting time), numbered."""
    convs = s.scalars(
        select(Conversation)
        .where(Conversation.state == QUEUED)
        .order_by(Conversation.priority.desc(), Conversation.queued_at.asc())
    ).all()
    items = conversations.views(s, convs, now)
    for pos, item in enumerate(items, start=1):
        item.position = pos
    return items


def queue_position(s: Session, conv: Conversation) -> int | None:
    if conv.state != QUEUED or conv.queued_at is None:
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


def average_handle_seconds(s: Session, default: float, sample: int = 50) -> float:
    """Mean claim-to-resolution time of recent handoffs (`default` until there are 3)."""
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
        return float(default)
    return max(30.0, sum(durations) / len(durations))


def conversations_for(s: Session, agent: AgentInfo | None) -> list[ConversationView]:
    """Assigned conversations (one agent's, or all for a supervisor), plus flagged ones."""
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
    return conversations.views(s, [*assigned, *flagged])


def outbox_backlog(s: Session) -> dict[str, int]:
    """Undelivered outbox rows by state (pending, sending, failed)."""
    rows = s.execute(
        select(OutboxEntry.status, func.count())
        .where(OutboxEntry.status.in_((PENDING, SENDING, FAILED)))
        .group_by(OutboxEntry.status)
    ).tuples()
    counts = dict(rows.all())
    return {k: int(counts.get(k, 0)) for k in (PENDING, SENDING, FAILED)}


def stats(s: Session, sla_first: int, sla_resolution: int) -> dict[str, Any]:
    """Supervisor numbers for the last 24 hours (handoffs, waits, SLA, CSAT, containment)."""
    now = utcnow()
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
        # The clock stops when the episode ends: a customer who left the queue after two
        # minutes was not kept waiting past the target.
        if ((h.first_response_at or h.resolved_at or now) - h.queued_at).total_seconds()
        > sla_first
    )
    left_queue = s.scalar(
        select(func.count()).select_from(Event).where(
            Event.reason == CUSTOMER_LEFT_QUEUE, Event.created_at >= since
        )
    ) or 0
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
            # Customers who said they no longer needed a person before anyone took the chat.
            "left_queue": int(left_queue),
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


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None
