"""Customer contacts (phone numbers, e-mails) and the conversations that share them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..core.views import EarlierConversation
from .conversations import iso
from .models import Conversation, CustomerContact, Handoff, Message

PHONE, EMAIL = "phone", "email"


def remember(
    s: Session, conversation_id: str, phones: Sequence[str], emails: Sequence[str]
) -> None:
    """Store the contacts not yet known for this conversation (the caller holds the
    customer's lock, so two messages of one conversation do not race)."""
    wanted = {(PHONE, p) for p in phones} | {(EMAIL, e.lower()) for e in emails}
    if not wanted:
        return
    known = set(
        s.execute(
            select(CustomerContact.kind, CustomerContact.value).where(
                CustomerContact.conversation_id == conversation_id
            )
        ).all()
    )
    for kind, value in sorted(wanted - known):
        s.add(CustomerContact(conversation_id=conversation_id, kind=kind, value=value[:254]))


def known(s: Session, conversation_id: str) -> bool:
    """Whether the customer gave a phone number or e-mail in this conversation."""
    return s.scalar(
        select(CustomerContact.id).where(CustomerContact.conversation_id == conversation_id)
        .limit(1)
    ) is not None


def earlier(s: Session, conversation_id: str, limit: int = 10) -> list[EarlierConversation]:
    """Other conversations (any channel) in which one of this conversation's phone numbers or
    e-mails was given, most recent first (a constant number of queries)."""
    mine = s.execute(
        select(CustomerContact.kind, CustomerContact.value).where(
            CustomerContact.conversation_id == conversation_id
        )
    ).all()
    if not mine:
        return []
    shared = or_(*(and_(CustomerContact.kind == k, CustomerContact.value == v) for k, v in mine))
    matches = s.execute(
        select(CustomerContact.conversation_id, CustomerContact.value).where(
            shared, CustomerContact.conversation_id != conversation_id
        )
    ).all()
    matched: dict[str, list[str]] = {}
    for cid, value in matches:
        matched.setdefault(cid, []).append(value)
    if not matched:
        return []
    convs = s.scalars(
        select(Conversation)
        .where(Conversation.id.in_(matched))
        .order_by(Conversation.updated_at.desc())
        .limit(limit)
    ).all()
    ids = [c.id for c in convs]
    last_ids = select(func.max(Message.id)).where(
        Message.conversation_id.in_(ids), Message.role == "user"
    ).group_by(Message.conversation_id)
    last_text = dict(
        s.execute(select(Message.conversation_id, Message.text).where(Message.id.in_(last_ids)))
        .tuples()
        .all()
    )
    handoffs = s.scalars(
        select(Handoff).where(Handoff.conversation_id.in_(ids)).order_by(Handoff.id)
    ).all()
    issue: dict[str, str] = {}
    count: dict[str, int] = {}
    for h in handoffs:
        count[h.conversation_id] = count.get(h.conversation_id, 0) + 1
        summary = h.summary or {}
        if summary.get("issue"):
            issue[h.conversation_id] = str(summary["issue"])
    return [
        EarlierConversation(
            id=c.id,
            channel=c.channel,
            state=c.state,
            updated_at=iso(c.updated_at),
            matched=sorted(set(matched[c.id])),
            issue=issue.get(c.id),
            last_message=last_text.get(c.id),
            handoffs=count.get(c.id, 0),
        )
        for c in convs
    ]
