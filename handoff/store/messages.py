"""Messages, transcripts and the audit trail of one conversation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..core.views import Button, Delivery, EventView, MessageView
from . import outbox
from .conversations import iso
from .models import (
    FAILED_ANSWER,
    RECEIVED,
    RESUMING,
    Agent,
    Conversation,
    Event,
    Message,
    OutboxEntry,
    utcnow,
)


def view(
    m: Message, agent_name: str | None = None, delivery: Delivery | None = None
) -> MessageView:
    meta = m.meta or {}
    return MessageView(
        id=m.id,
        conversation_id=m.conversation_id,
        role=m.role,
        text=m.text,
        buttons=[Button(**b) for b in meta.get("buttons") or []],
        notice=meta.get("notice"),
        cskh_meta=meta.get("cskh_meta") or [],
        attachments=meta.get("attachments") or [],
        attachment=meta.get("attachment") or _image(meta.get("image")),
        custom=meta.get("custom"),
        sentiment=m.sentiment,
        agent_id=m.agent_id,
        agent_name=agent_name or meta.get("agent_name"),
        created_at=iso(m.created_at),
        delivery=delivery,
        while_queued=bool(meta.get("while_queued")),
    )


def conversation_for(s: Session, channel: str, external_id: str) -> Conversation:
    """The customer's conversation on that channel, created on first contact (flushed)."""
    conv = s.scalar(
        select(Conversation).where(
            Conversation.channel == channel, Conversation.external_id == external_id
        )
    )
    if conv is None:
        conv = Conversation(channel=channel, external_id=external_id, profile={})
        s.add(conv)
        s.flush()
    return conv


def last_notice_at(s: Session, conversation_id: str) -> datetime | None:
    """When the customer was last told something by the system (a wait or contact notice):
    kept in the database, so every replica sees the same answer."""
    return s.scalar(
        select(func.max(Message.created_at)).where(
            Message.conversation_id == conversation_id, Message.role == "system"
        )
    )


def last_queue_notice(s: Session, conversation_id: str) -> Message | None:
    """The last "your place in the queue" notice of a conversation."""
    rows = s.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.role == "system")
        .order_by(Message.id.desc())
        .limit(20)
    ).all()
    return next((m for m in rows if (m.meta or {}).get("notice") == "queued"), None)


def set_answer_status(s: Session, message_id: int, status: str) -> None:
    s.execute(update(Message).where(Message.id == message_id).values(answer_status=status))


def take_unanswered(s: Session, older_than: datetime, limit: int = 20) -> list[int]:
    """Customer messages a crash left unanswered (RECEIVED, or RESUMING by a replica that
    died), stored before `older_than`, marked RESUMING for the caller: another replica
    skips them (row locks on PostgreSQL; SQLite's write transaction is exclusive)."""
    ids = list(
        s.scalars(
            select(Message.id)
            .where(
                Message.answer_status.in_([RECEIVED, RESUMING]),
                Message.created_at < older_than,
            )
            .order_by(Message.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        s.execute(update(Message).where(Message.id.in_(ids)).values(answer_status=RESUMING))
    return ids


def take_earlier_unanswered(s: Session, conversation_id: str, before_id: int) -> list[Message]:
    """This conversation's customer messages before `before_id` still waiting for the bot
    (a crash left them), marked RESUMING for the caller, oldest first."""
    rows = list(
        s.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.id < before_id,
                Message.role == "user",
                Message.answer_status.in_([RECEIVED, RESUMING]),
            )
            .order_by(Message.id)
            # Waits, not skip_locked: a row locked here is one the resume sweep
            # (`take_unanswered`) is taking in a short transaction. Skipped, the newer message
            # would reach the bot first and the sweep would answer the older one after it.
            .with_for_update()
        )
    )
    for row in rows:
        row.answer_status = RESUMING
    return rows


def take_if_unanswered(s: Session, message_id: int, older_than: datetime) -> bool:
    """A redelivered message whose first delivery was stored but never answered, or whose
    answer failed (Rasa down or slow: the customer's client sends it again), and is not
    being answered right now (stored before `older_than`): marked RESUMING, True."""
    result = s.execute(
        update(Message)
        .where(
            Message.id == message_id,
            Message.answer_status.in_([RECEIVED, RESUMING, FAILED_ANSWER]),
            Message.created_at < older_than,
        )
        .values(answer_status=RESUMING)
    )
    return bool(getattr(result, "rowcount", 0))


def by_channel_id(s: Session, conversation_id: str, channel_message_id: str) -> Message | None:
    """The stored message with this platform id (a redelivery finds its first delivery)."""
    return s.scalar(
        select(Message).where(
            Message.conversation_id == conversation_id,
            Message.channel_message_id == channel_message_id,
        )
    )


def add_inbound(
    s: Session,
    conv: Conversation,
    text: str,
    meta: dict[str, Any],
    channel_message_id: str | None,
    sentiment: dict[str, Any] | None,
) -> Message:
    now = utcnow()
    msg = Message(
        conversation_id=conv.id,
        role="user",
        text=text,
        meta=meta,
        sentiment=sentiment,
        channel_message_id=channel_message_id,
        created_at=now,
        answer_status=RECEIVED,
    )
    s.add(msg)
    conv.last_customer_at = now
    conv.updated_at = now
    return msg


def add(
    s: Session,
    conversation_id: str,
    role: str,
    text: str,
    meta: dict[str, Any] | None = None,
    agent_id: int | None = None,
) -> Message:
    msg = Message(
        conversation_id=conversation_id,
        role=role,
        text=text,
        meta=meta or {},
        agent_id=agent_id,
        created_at=utcnow(),
    )
    s.add(msg)
    return msg


def last_buttons(s: Session, conversation_id: str) -> list[dict[str, str]]:
    """The buttons of the last bot message, if it offered any (a choice still open)."""
    last = s.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.role == "bot")
        .order_by(Message.id.desc())
        .limit(1)
    )
    return list((last.meta or {}).get("buttons") or []) if last else []


def recent(s: Session, conversation_id: str, limit: int = 500) -> list[MessageView]:
    """The last `limit` messages, oldest first, each with its delivery state (2 queries)."""
    rows = s.execute(
        select(Message, Agent.display_name)
        .outerjoin(Agent, Agent.id == Message.agent_id)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(limit)
    ).all()
    deliveries = {
        o.message_id: outbox.delivery(o)
        for o in s.scalars(
            select(OutboxEntry).where(OutboxEntry.conversation_id == conversation_id)
        )
    }
    return [view(m, name, deliveries.get(m.id)) for m, name in reversed(rows)]


def transcript(
    s: Session, conversation_id: str, limit: int = 200, before_id: int | None = None
) -> list[dict[str, Any]]:
    """Turns in the shape triage expects: {role, text, ts, meta?, sentiment?}; those before
    message `before_id` when given."""
    query = select(Message).where(
        Message.conversation_id == conversation_id, Message.role != "system"
    )
    if before_id is not None:
        query = query.where(Message.id < before_id)
    rows = s.scalars(query.order_by(Message.id.desc()).limit(limit)).all()
    return [turn(m) for m in reversed(rows)]


def turn(m: Message) -> dict[str, Any]:
    meta = m.meta or {}
    result: dict[str, Any] = {"role": m.role, "text": m.text, "ts": iso(m.created_at)}
    metas = meta.get("cskh_meta") or []
    if metas:
        # The last cskh_meta of a bot turn is the one that describes it.
        result["meta"] = metas[-1]
    if m.sentiment:
        result["sentiment"] = m.sentiment
    return result


def add_event(
    s: Session, conversation_id: str, kind: str, reason: str, data: dict[str, Any]
) -> None:
    s.add(Event(conversation_id=conversation_id, kind=kind, reason=reason, data=data))


def events(s: Session, conversation_id: str) -> list[EventView]:
    rows = s.scalars(
        select(Event).where(Event.conversation_id == conversation_id).order_by(Event.id)
    ).all()
    return [
        EventView(
            id=e.id,
            kind=e.kind,
            from_state=e.from_state,
            to_state=e.to_state,
            reason=e.reason,
            actor_agent_id=e.actor_agent_id,
            data=e.data or {},
            created_at=iso(e.created_at),
        )
        for e in rows
    ]


def visible(messages: Sequence[MessageView]) -> list[MessageView]:
    return [m for m in messages if m.visible_to_customer]


def _image(url: Any) -> dict[str, Any] | None:
    """Rasa's `image` reply, in the attachment shape its socket.io channel emits."""
    return {"type": "image", "payload": {"src": url}} if isinstance(url, str) and url else None
