"""The delivery outbox: rows written with the change that caused them, sent by a worker.

A row is taken with a lease (`sending`, `locked_until`), so one sender at a time holds it:
on PostgreSQL `FOR UPDATE SKIP LOCKED` lets several workers share the table; on SQLite the
write lock serialises them. A lease that runs out (the process died mid-send) makes the row
due again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, aliased

from ..core.views import Delivery
from .models import FAILED, PENDING, SENDING, SENT, Message, OutboxEntry, utcnow


@dataclass(frozen=True)
class Job:
    """One delivery to attempt, with what the channel needs to send it."""

    id: int
    conversation_id: str
    message_id: int
    channel: str
    recipient_id: str
    attempts: int


def add(s: Session, message: Message, channel: str, recipient_id: str) -> OutboxEntry:
    entry = OutboxEntry(
        conversation_id=message.conversation_id,
        message_id=message.id,
        channel=channel,
        recipient_id=recipient_id,
        status=PENDING,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    s.add(entry)
    return entry


def take_due(
    s: Session, limit: int, lease_seconds: float, now: datetime | None = None
) -> list[Job]:
    """Lease up to `limit` due rows (pending, or sending whose lease ran out), oldest first."""
    now = now or utcnow()
    due = or_(
        (OutboxEntry.status == PENDING) & (OutboxEntry.next_attempt_at <= now),
        (OutboxEntry.status == SENDING)
        & (OutboxEntry.locked_until.is_(None) | (OutboxEntry.locked_until < now)),
    )
    # A conversation's messages go out in order: a row waits while an earlier one of its
    # conversation is waiting for a retry or being sent by someone else. Earlier rows that
    # are due come in the same batch, and the worker sends a batch in order.
    earlier = aliased(OutboxEntry)
    blocked = exists().where(
        earlier.conversation_id == OutboxEntry.conversation_id,
        earlier.id < OutboxEntry.id,
        or_(
            (earlier.status == PENDING) & (earlier.next_attempt_at > now),
            (earlier.status == SENDING) & (earlier.locked_until >= now),
        ),
    )
    q = select(OutboxEntry).where(due, ~blocked).order_by(OutboxEntry.id).limit(limit)
    if s.bind is not None and s.bind.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    jobs = []
    for entry in s.scalars(q):
        entry.status = SENDING
        entry.locked_until = now + timedelta(seconds=lease_seconds)
        entry.attempts += 1
        jobs.append(
            Job(
                entry.id,
                entry.conversation_id,
                entry.message_id,
                entry.channel,
                entry.recipient_id,
                entry.attempts,
            )
        )
    return jobs


def mark_sent(s: Session, job_id: int) -> OutboxEntry | None:
    entry = s.get(OutboxEntry, job_id, with_for_update=True)
    if entry is None:
        return None
    entry.status = SENT
    entry.sent_at = utcnow()
    entry.locked_until = None
    entry.last_error = None
    return entry


def mark_retry(s: Session, job_id: int, error: str, delay_seconds: float) -> OutboxEntry | None:
    entry = s.get(OutboxEntry, job_id, with_for_update=True)
    if entry is None:
        return None
    entry.status = PENDING
    entry.locked_until = None
    entry.last_error = error[:500]
    entry.next_attempt_at = utcnow() + timedelta(seconds=delay_seconds)
    return entry


def mark_failed(s: Session, job_id: int, error: str) -> OutboxEntry | None:
    entry = s.get(OutboxEntry, job_id, with_for_update=True)
    if entry is None:
        return None
    entry.status = FAILED
    entry.locked_until = None
    entry.last_error = error[:500]
    return entry


def release(s: Session, job_ids: Sequence[int]) -> None:
    """Give leased rows back untried (an earlier message of their conversation is waiting
    for a retry and must go first; `take_due` holds them until it is out): the attempt is
    not counted."""
    for entry in s.scalars(
        select(OutboxEntry).where(OutboxEntry.id.in_(job_ids)).with_for_update()
    ):
        entry.status = PENDING
        entry.locked_until = None
        entry.attempts = max(0, entry.attempts - 1)
        entry.next_attempt_at = utcnow()


def delivery(entry: OutboxEntry) -> Delivery:
    return Delivery(status=entry.status, attempts=entry.attempts, error=entry.last_error)
