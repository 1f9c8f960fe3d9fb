"""A channel's rotating credentials (one row per channel)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import ChannelCredential, utcnow


def get(s: Session, channel: str) -> ChannelCredential | None:
    return s.get(ChannelCredential, channel)


def lock(
    s: Session, channel: str, access_token: str, refresh_token: str | None
) -> ChannelCredential:
    """The channel's row, locked until commit (created from the given pair the first time).
    Whoever holds it may refresh; the others wait and then see the new pair."""
    row = s.get(ChannelCredential, channel, with_for_update=True)
    if row is not None:
        return row
    try:
        with s.begin_nested():
            s.add(
                ChannelCredential(
                    channel=channel,
                    access_token=access_token,
                    refresh_token=refresh_token,
                    updated_at=utcnow(),
                )
            )
    except IntegrityError:
        pass  # another process created it first: lock theirs
    row = s.get(ChannelCredential, channel, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def save(
    row: ChannelCredential,
    access_token: str,
    refresh_token: str | None,
    expires_at: datetime | None,
) -> None:
    row.access_token = access_token
    row.refresh_token = refresh_token
    row.expires_at = expires_at
    row.updated_at = utcnow()
