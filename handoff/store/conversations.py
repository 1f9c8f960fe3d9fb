"""Reading conversations as console cards, in a constant number of queries for any count."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..core.views import AgentInfo, ConversationView, HandoffView
from ..errors import NotFound
from .models import ASSIGNED, QUEUED, Agent, Conversation, Handoff, Message, utcnow


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def agent_info(a: Agent) -> AgentInfo:
    return AgentInfo(a.id, a.username, a.display_name, a.role, a.team)


def load(s: Session, conversation_id: str, *, for_update: bool = False) -> Conversation:
    conv = s.get(Conversation, conversation_id, with_for_update=for_update)
    if conv is None:
        raise NotFound("not_found")
    return conv


def views(
    s: Session, convs: Sequence[Conversation], now: datetime | None = None
) -> list[ConversationView]:
    """Cards for `convs`: three extra queries in all (handoffs, agents, last customer
    messages), however many conversations there are."""
    if not convs:
        return []
    now = now or utcnow()
    handoff_ids = {c.current_handoff_id for c in convs if c.current_handoff_id}
    agent_ids = {c.assigned_agent_id for c in convs if c.assigned_agent_id}
    ids = [c.id for c in convs]
    handoffs = (
        {h.id: h for h in s.scalars(select(Handoff).where(Handoff.id.in_(handoff_ids)))}
        if handoff_ids
        else {}
    )
    agents = (
        {a.id: a for a in s.scalars(select(Agent).where(Agent.id.in_(agent_ids)))}
        if agent_ids
        else {}
    )
    last_ids = (
        select(func.max(Message.id))
        .where(Message.conversation_id.in_(ids), Message.role == "user")
        .group_by(Message.conversation_id)
    )
    last = {
        m.conversation_id: m for m in s.scalars(select(Message).where(Message.id.in_(last_ids)))
    }
    return [
        _view(
            c,
            handoffs.get(c.current_handoff_id) if c.current_handoff_id else None,
            agents.get(c.assigned_agent_id) if c.assigned_agent_id else None,
            last.get(c.id),
            now,
        )
        for c in convs
    ]


def light_view(conv: Conversation) -> ConversationView:
    """The conversation's own columns only (no handoff, agent or last message): enough for
    a channel's answer; costs no query."""
    return _view(conv, None, None, None, utcnow())


def view(s: Session, conv: Conversation) -> ConversationView:
    return views(s, [conv])[0]


def get(s: Session, conversation_id: str) -> ConversationView:
    return view(s, load(s, conversation_id))


def find_row(s: Session, channels: Sequence[str], external_id: str) -> Conversation | None:
    return s.scalar(
        select(Conversation)
        .where(Conversation.channel.in_(channels), Conversation.external_id == external_id)
        .order_by(Conversation.updated_at.desc())
        .limit(1)
    )


def find(s: Session, channels: Sequence[str], external_id: str) -> ConversationView | None:
    conv = find_row(s, channels, external_id)
    return view(s, conv) if conv else None


def _view(
    conv: Conversation,
    handoff: Handoff | None,
    agent: Agent | None,
    last: Message | None,
    now: datetime,
) -> ConversationView:
    in_handoff = conv.state in (QUEUED, ASSIGNED) and handoff is not None
    return ConversationView(
        id=conv.id,
        channel=conv.channel,
        external_id=conv.external_id,
        state=conv.state,
        priority=conv.priority,
        team=conv.team,
        flag=conv.flag,
        csat_pending=conv.csat_pending,
        profile=conv.profile or {},
        assigned_agent=agent_info(agent).public() if agent else None,
        queued_at=iso(conv.queued_at),
        wait_seconds=(now - conv.queued_at).total_seconds()
        if conv.queued_at and conv.state == QUEUED
        else None,
        created_at=iso(conv.created_at),
        updated_at=iso(conv.updated_at),
        last_customer_at=iso(conv.last_customer_at),
        last_message=last.text[:200] if last else None,
        last_sentiment=last.sentiment if last else None,
        handoff=handoff_view(handoff, now) if in_handoff and handoff else None,
    )


def handoff_view(h: Handoff, now: datetime) -> HandoffView:
    return HandoffView(
        id=h.id,
        reasons=list(h.reasons or []),
        priority=h.priority,
        summary=h.summary,
        queued_at=iso(h.queued_at),
        assigned_at=iso(h.assigned_at),
        first_response_at=iso(h.first_response_at),
        first_response_elapsed=((h.first_response_at or now) - h.queued_at).total_seconds(),
        open_elapsed=((h.resolved_at or now) - h.queued_at).total_seconds(),
    )
