"""The conversation state machine: queue, claim, transfer, resolve, hand back, CSAT.

Every transition is checked against ALLOWED_TRANSITIONS and recorded as an event with its
reason and actor; SLA timestamps and CSAT live on the handoff episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..core.views import AgentInfo
from ..errors import Conflict, Forbidden, HubError, NotFound
from . import agents
from .conversations import agent_info, load
from .models import (
    ASSIGNED,
    BOT,
    QUEUED,
    RESOLVED,
    Agent,
    Conversation,
    Event,
    Handoff,
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
    (QUEUED, BOT),  # supervisor cancels a queued handoff; the customer leaves the queue
}
CUSTOMER_LEFT_QUEUE = "customer_left_queue"


def transition(
    s: Session,
    conv: Conversation,
    to_state: str,
    reason: str,
    actor: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    if (conv.state, to_state) not in ALLOWED_TRANSITIONS:
        raise Conflict("invalid_transition", from_state=conv.state, to_state=to_state)
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
    s: Session,
    conv: Conversation,
    reasons: Sequence[str],
    priority: int,
    summary: dict[str, Any] | None,
) -> bool:
    """Queue a bot-mode conversation for people; False when people already have it."""
    if conv.state != BOT:
        return False
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
    transition(s, conv, QUEUED, ",".join(reasons) or "escalated", data={"priority": priority})
    conv.priority = priority
    conv.queued_at = now
    conv.team = None
    conv.current_handoff_id = handoff.id
    conv.csat_pending = False
    return True


def claim(s: Session, conversation_id: str, agent: AgentInfo) -> Conversation:
    """Atomically take a queued conversation: exactly one concurrent claimer wins.

    A single conditional UPDATE is the whole decision: on PostgreSQL the loser blocks on
    the row lock, re-checks `state='queued'` and updates 0 rows; on SQLite writes are
    serialised. The claiming agent's row is locked first, so two claims by one agent
    count each other against the capacity.
    """
    me = agents.lock(s, agent.id)
    if me is None or not me.active:
        raise Forbidden("agent_inactive")
    agents.require_available(s, me, for_self=True)
    result = s.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.state == QUEUED)
        .values(state=ASSIGNED, assigned_agent_id=agent.id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        taken = s.get(Conversation, conversation_id)
        if taken is None:
            raise NotFound("not_found")
        holder = s.get(Agent, taken.assigned_agent_id) if taken.assigned_agent_id else None
        if holder is not None and taken.state == ASSIGNED:
            raise Conflict("already_claimed", by=holder.display_name)
        raise Conflict("not_waiting")
    conv = load(s, conversation_id)
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
    update_handoff(s, conv, agent_id=agent.id)
    update_handoff(s, conv, assigned_at=utcnow(), only_unset=True)
    return conv


def owned(s: Session, conversation_id: str, agent: AgentInfo) -> Conversation:
    conv = load(s, conversation_id, for_update=True)
    if conv.state != ASSIGNED:
        raise Conflict("not_assigned")
    if conv.assigned_agent_id != agent.id and not agent.is_supervisor:
        raise Forbidden("not_owner")
    return conv


def update_handoff(s: Session, conv: Conversation, only_unset: bool = False, **values: Any) -> None:
    if conv.current_handoff_id is None:
        return
    handoff = s.get(Handoff, conv.current_handoff_id)
    if handoff is None:
        return
    for key, value in values.items():
        if only_unset and getattr(handoff, key) is not None:
            continue
        setattr(handoff, key, value)


def note_agent_reply(s: Session, conv: Conversation) -> None:
    now = utcnow()
    conv.updated_at = now
    update_handoff(s, conv, first_response_at=now, only_unset=True)


def transfer(
    s: Session,
    conv: Conversation,
    agent: AgentInfo,
    *,
    to_agent_id: int | None,
    to_team: str | None,
    note: str,
) -> AgentInfo | None:
    """Move an owned conversation to another agent (returned) or to a team queue (None)."""
    data: dict[str, Any] = {"note": note, "from_agent_id": conv.assigned_agent_id}
    if to_agent_id is not None:
        # Locked like a claim: two transfers to one agent cannot both fit.
        target = agents.lock(s, to_agent_id)
        if target is None or not target.active:
            raise NotFound("agent_not_found")
        if target.id == conv.assigned_agent_id:
            raise Conflict("same_agent")
        # A chat handed to someone who is away or full waits unseen; a team queue is where
        # the next free agent picks it up.
        agents.require_available(s, target, for_self=False)
        data["to_agent_id"] = target.id
        transition(s, conv, ASSIGNED, "transfer_agent", agent.id, data)
        conv.assigned_agent_id = target.id
        update_handoff(s, conv, agent_id=target.id)
        return agent_info(target)
    team = (to_team or "").strip()
    if not team:
        raise HubError("missing_target")
    data["to_team"] = team
    transition(s, conv, QUEUED, "transfer_team", agent.id, data)
    conv.assigned_agent_id = None
    conv.team = team[:64]
    # Keeps its original queued_at: a transferred customer is not sent to the back.
    return None


def _back_to_bot(conv: Conversation) -> None:
    conv.assigned_agent_id = None
    conv.queued_at = None
    conv.priority = 0
    conv.flag = None
    conv.bot_failures = 0


def resolve(s: Session, conv: Conversation, agent: AgentInfo, note: str) -> None:
    transition(s, conv, RESOLVED, "resolved", agent.id, {"note": note})
    update_handoff(s, conv, resolved_at=utcnow())
    transition(s, conv, BOT, "after_resolve", agent.id)
    _back_to_bot(conv)
    conv.csat_pending = True


def handback(s: Session, conversation_id: str, agent: AgentInfo, note: str) -> Conversation:
    """Return to the bot without resolving (no CSAT), e.g. the customer only had an FAQ.
    A queued conversation may be handed back by a supervisor only."""
    conv = load(s, conversation_id, for_update=True)
    if conv.state == QUEUED:
        if not agent.is_supervisor:
            raise Forbidden("supervisor_only")
    else:
        conv = owned(s, conversation_id, agent)
    transition(s, conv, BOT, "handback", agent.id, {"note": note})
    update_handoff(s, conv, resolved_at=utcnow())
    _back_to_bot(conv)
    return conv


def leave_queue(s: Session, conv: Conversation) -> None:
    """The customer no longer needs a person: the episode ends unclaimed, back to the bot."""
    transition(s, conv, BOT, CUSTOMER_LEFT_QUEUE)
    update_handoff(s, conv, resolved_at=utcnow())
    _back_to_bot(conv)


def record_csat(s: Session, conv: Conversation, score: int) -> None:
    conv.csat_pending = False
    update_handoff(s, conv, csat_score=score, csat_at=utcnow())
    s.add(Event(conversation_id=conv.id, kind="csat", reason=str(score), data={"score": score}))


def add_contact(
    s: Session, conv: Conversation, phones: Sequence[str], emails: Sequence[str]
) -> dict[str, list[str]] | None:
    """Merge phone numbers / e-mails into `profile["contact"]`; the contact when something
    new was stored (an event records it), else None."""
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
    s.add(Event(conversation_id=conv.id, kind="contact", reason="left_contact", data=contact))
    return contact


def note_bot_failure(s: Session, conv: Conversation, error: str) -> int:
    """Flag the conversation (visible in the console); returns consecutive failures."""
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


def clear_bot_failures(conv: Conversation) -> None:
    conv.bot_failures = 0
    conv.flag = None
