"""When a connection's daily sync is next due: pure, with the clock passed in.

A connection with auto-sync on runs once per local calendar day at its ``sync_time`` in its time
zone (the connection's ``timezone`` setting, which defaults to the organisation's), plus a stable
per-connection offset that spreads a fleet's runs over ``SPREAD`` (see ``spread_offset``).

Daylight-saving changes, decided here once:

- A time the clocks skip (02:30 on a spring-forward night in Europe/Berlin) runs at the first valid
  moment after the gap, the instant the clocks jump (03:00 local), once.
- A time that happens twice (02:30 on an autumn-back night) runs at its first occurrence (fold=0,
  still summer time), once: the schedule walks local calendar days, one slot per day.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from portal.sync.config import SCHEDULE_SETTINGS, ConfigInvalid, parse_config

SPREAD = timedelta(minutes=30)


@dataclass(frozen=True)
class Slot:
    """A daily sync: local time of day, IANA time zone, and the connection's offset within the spread window."""

    sync_time: time
    timezone: str
    offset: timedelta = timedelta(0)

    @property
    def key(self) -> str:
        """What the stored next due time was computed from; a different key means recompute."""
        return f"{self.sync_time:%H:%M}|{self.timezone}|{int(self.offset.total_seconds())}"


OFF_KEY = "off"


def slot_for(settings: dict, org_timezone: str, connection_id: int) -> Slot | None:
    """The connection's daily slot from its stored settings, or None when auto-sync is off or unreadable."""
    relevant = {k: settings[k] for k in SCHEDULE_SETTINGS if k in (settings or {})}
    parsed = _daily_time(json.dumps(relevant, sort_keys=True, default=str), org_timezone)
    return None if parsed is None else Slot(parsed[0], parsed[1], spread_offset(connection_id))


@lru_cache(maxsize=1024)
def _daily_time(relevant: str, org_timezone: str) -> tuple[time, str] | None:
    # Cached: a fleet's connections share a handful of schedules, and the scheduler judges thousands at once.
    try:
        parsed = parse_config({"settings": json.loads(relevant)}, default_timezone=org_timezone).settings
    except ConfigInvalid:
        return None  # a broken schedule setting: no automatic runs until an admin saves a valid one
    if not parsed.auto_sync:
        return None
    hours, minutes = (int(part) for part in parsed.sync_time.split(":"))
    return time(hours, minutes), parsed.timezone


def spread_offset(connection_id: int, window: timedelta = SPREAD) -> timedelta:
    """A stable offset in [0, window) from the connection id, whole seconds.

    A hash rather than ``id mod window``: neighbouring ids (organisations created together) land far
    apart, and thousands of connections due at the same local 03:00 fall evenly over the window.
    """
    digest = hashlib.sha256(f"sigsync-schedule:{connection_id}".encode()).digest()
    return timedelta(seconds=int.from_bytes(digest[:8], "big") % int(window.total_seconds()))


def local_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``day`` at ``at`` in ``zone`` as an aware UTC instant; a skipped time becomes the end of the gap."""
    wall = datetime.combine(day, at, tzinfo=zone)  # fold=0: the first of a repeated time
    instant = wall.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant
    return _gap_end(wall, zone)


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant the clocks jump over ``wall`` (a local time that does not exist)."""
    # fold=1 reads the wall time with the offset after the jump, fold=0 with the one before: the
    # transition lies between those two instants. Transitions fall on whole seconds: bisect to one.
    low = wall.replace(fold=1).astimezone(UTC)
    high = wall.replace(fold=0).astimezone(UTC)
    low, high = min(low, high), max(low, high)
    before = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high


def next_due(slot: Slot, after: datetime) -> datetime:
    """The first daily slot strictly after ``after`` (aware), as an aware UTC instant."""
    zone = ZoneInfo(slot.timezone)
    # Start a day early: the offset (or a slot just before midnight) can carry yesterday's slot past ``after``.
    day = after.astimezone(zone).date() - timedelta(days=1)
    while True:
        due = local_moment(day, slot.sync_time, zone) + slot.offset
        if due > after:
            return due
        day += timedelta(days=1)
