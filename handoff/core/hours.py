"""Business hours and the customer's queue wait: pure functions of settings and time."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from ..settings import HubSettings
from ..store.models import utcnow
from . import copy_vi


def zone(settings: HubSettings) -> tzinfo:
    try:
        return ZoneInfo(settings.timezone)
    except Exception:  # no tzdata: Vietnam has no DST, a fixed offset is exact
        return timezone(timedelta(hours=7))


def business_status(settings: HubSettings, now: datetime) -> tuple[bool, datetime | None]:
    """(open now?, next opening time in UTC if closed)."""
    tz = zone(settings)
    local = now.astimezone(tz)
    start, end = settings.hours()
    days = settings.business_day_set()

    def is_open(dt: datetime) -> bool:
        return dt.isoweekday() in days and start <= dt.time() < end

    if is_open(local):
        return True, None
    for offset in range(0, 8):
        day = (local + timedelta(days=offset)).date()
        candidate = datetime.combine(day, start, tzinfo=tz)
        if candidate > local and candidate.isoweekday() in days:
            return False, candidate.astimezone(now.tzinfo)
    return False, None


def business_seconds(settings: HubSettings, start: datetime, end: datetime) -> float:
    """Seconds of business hours between `start` and `end`: the SLA clocks' time. A chat
    queued at 3 a.m. has waited 0 s of it until opening time."""
    if end <= start:
        return 0.0
    tz = zone(settings)
    open_at, close_at = settings.hours()
    days = settings.business_day_set()
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    total = 0.0
    day = local_start.date()
    while day <= local_end.date():
        if day.isoweekday() in days:
            opens = datetime.combine(day, open_at, tzinfo=tz)
            closes = datetime.combine(day, close_at, tzinfo=tz)
            overlap = min(closes, local_end) - max(opens, local_start)
            total += max(0.0, overlap.total_seconds())
        day += timedelta(days=1)
    return total


def format_local(dt: datetime, settings: HubSettings) -> str:
    """`dt` in the business's time zone, said relative to today ("08:00 sáng mai")."""
    return copy_vi.local_time(
        dt.astimezone(zone(settings)), utcnow().astimezone(zone(settings)).date()
    )


def wait_estimate_seconds(
    position: int, agents_online: int, handle_seconds: float, free_slots: int = 0
) -> int:
    """Realistic wait: a free seat among the online agents is taken within about a minute;
    beyond them, whole 'rounds' of the people ahead shared by the online agents."""
    if position <= free_slots:
        return 60
    agents = max(1, agents_online)
    rounds = math.ceil((position - free_slots) / agents)
    # The first round is on average half done already.
    return int(max(60.0, (rounds - 0.5) * handle_seconds))
