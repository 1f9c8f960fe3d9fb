"""SQLAlchemy 2 models of the hub: the single source of truth for conversations.

The schema itself is owned by the Alembic migrations in `handoff/migrations/`; these models
must match them (a test compares the two). Table names avoid Rasa's (`events`): a deployment
may point the hub and Rasa's SQL tracker store at the same database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Conversation states. `resolved` is recorded as its own transition but the conversation
# goes straight back to `bot` so the customer can keep talking.
BOT, QUEUED, ASSIGNED, RESOLVED = "bot", "queued", "assigned", "resolved"
STATES = (BOT, QUEUED, ASSIGNED, RESOLVED)
ROLES = ("user", "bot", "agent", "system")
AGENT_ROLES = ("agent", "supervisor")
# Agent availability: only `online` agents may claim; closing every console socket sets `away`.
ONLINE, AWAY = "online", "away"
AGENT_STATUSES = (ONLINE, AWAY)
DEFAULT_CAPACITY = 3


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no timezone type and hands back naive values; normalising here keeps
    arithmetic (waits, SLA) identical on SQLite and PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=ONLINE, server_default=ONLINE)
    # Max concurrent assigned conversations a claim may bring this agent to.
    capacity: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_CAPACITY, server_default=str(DEFAULT_CAPACITY)
    )


class AgentSession(Base):
    __tablename__ = "agent_sessions"

    # sha256 of the cookie value: a leaked database does not leak live sessions.
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


# What `Conversation.id` looks like (uuid4().hex): the API and the console socket refuse
# anything else before it reaches the database.
CONVERSATION_ID_PATTERN = "^[0-9a-f]{32}$"


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_conversations_channel_external"),
        Index("ix_conversations_queue", "state", "priority", "queued_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: uuid4().hex)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default=BOT)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assigned_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    current_handoff_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Why the conversation needs attention outside the queue (e.g. "bot_unavailable").
    flag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bot_failures: Mapped[int] = mapped_column(Integer, default=0)
    csat_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_customer_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # Channels retry deliveries (Zalo: up to 5 times); the id makes a retry a no-op.
        UniqueConstraint("conversation_id", "channel_message_id", name="uq_messages_channel_msg"),
        Index("ix_messages_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    # buttons, cskh_meta payloads, notice kind, raw channel metadata
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sentiment: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    channel_message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Customer messages only: RECEIVED until the bot's turn for it is stored (ANSWERED), or
    # it needed no bot (ANSWERED), or the bot failed and the customer was told (FAILED).
    # RESUMING: taken by a replica to answer after a crash left it RECEIVED.
    answer_status: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)


class Event(Base):
    """Every state transition (and notable fact) with its reason: the audit trail."""

    __tablename__ = "conversation_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"),
        index=True,
    )
    kind: Mapped[str] = mapped_column(String(32), default="transition")
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str] = mapped_column(String(255), default="")
    actor_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Handoff(Base):
    """One episode of human handling: queue entry to resolution. SLA and CSAT live here."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), nullable=True
    )
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    csat_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    csat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CustomerContact(Base):
    """A phone number or e-mail a customer gave in a conversation: the key to their other
    conversations, on every channel."""

    __tablename__ = "customer_contacts"
    __table_args__ = (
        UniqueConstraint("conversation_id", "kind", "value", name="uq_customer_contact"),
        Index("ix_customer_contacts_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(8))  # "phone" | "email"
    value: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# Answer states of a customer message (Message.answer_status).
RECEIVED, RESUMING, ANSWERED, FAILED_ANSWER = "received", "resuming", "answered", "failed"

# Outbox delivery states. `sending` rows whose lease ran out (the process died mid-send) are
# taken again; `failed` is final and shown to the agent with its reason.
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
DELIVERY_STATES = (PENDING, SENDING, SENT, FAILED)


class OutboxEntry(Base):
    """A message that must reach a customer on a push channel, written in the transaction
    that produced it and sent by the delivery worker (at most one sender per row)."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_outbox_message"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    recipient_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ChannelCredential(Base):
    """A platform's rotating token pair (Zalo OA): the newest pair wins over the environment.
    Its row is also the lock that keeps two refreshes from running at once."""

    __tablename__ = "channel_credentials"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
