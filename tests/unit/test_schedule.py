"""The daily schedule's next due time: local time of day in a time zone, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from portal.schedule import OFF_KEY, SPREAD, Slot, next_due, slot_for, spread_offset


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(("zone", "at", "after", "due"), [
    # An ordinary day: 03:00 in Berlin is 02:00 UTC in winter, 01:00 UTC in summer.
    ("Europe/Berlin", time(3), utc(2026, 1, 10, 12), utc(2026, 1, 11, 2)),
    ("Europe/Berlin", time(3), utc(2026, 1, 11, 1, 59), utc(2026, 1, 11, 2)),
    ("Europe/Berlin", time(3), utc(2026, 1, 11, 2), utc(2026, 1, 12, 2)),  # strictly after
    ("Europe/Berlin", time(3), utc(2026, 7, 1, 0), utc(2026, 7, 1, 1)),
    # Spring forward (29 March 2026, 02:00 -> 03:00): 02:30 does not exist; it runs when the clocks jump.
    ("Europe/Berlin", time(2, 30), utc(2026, 3, 28, 12), utc(2026, 3, 29, 1)),
    ("Europe/Berlin", time(2, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)),
    ("Europe/Berlin", time(2), utc(2026, 3, 28, 12), utc(2026, 3, 29, 1)),
    ("Europe/Berlin", time(3), utc(2026, 3, 28, 12), utc(2026, 3, 29, 1)),  # 03:00 exists: the same instant
    # Autumn back (25 October 2026, 03:00 -> 02:00): 02:30 happens twice; the first one (summer time) runs.
    ("Europe/Berlin", time(2, 30), utc(2026, 10, 24, 12), utc(2026, 10, 25, 0, 30)),
    ("Europe/Berlin", time(2, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)),  # not again at 01:30 UTC
    # New York springs forward at 02:00 local on 8 March 2026.
    ("America/New_York", time(2, 15), utc(2026, 3, 7, 12), utc(2026, 3, 8, 7)),
    # A day the calendar skipped entirely (Samoa, 30 December 2011): the run comes at the next midnight.
    ("Pacific/Apia", time(10), utc(2011, 12, 29, 20), utc(2011, 12, 30, 10)),
    # Half-hour zones and UTC.
    ("Asia/Kolkata", time(3), utc(2026, 5, 1, 0), utc(2026, 5, 1, 21, 30)),
    ("UTC", time(23, 59), utc(2026, 5, 1, 23, 59), utc(2026, 5, 2, 23, 59)),
])
def test_next_due(zone, at, after, due):
    assert next_due(Slot(at, zone), after) == due


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"])
def test_one_run_per_local_day_through_a_whole_year(zone):
    slot = Slot(time(2, 30), zone, timedelta(minutes=7))
    moment, seen = utc(2026, 1, 1), []
    while moment < utc(2027, 1, 1):
        moment = next_due(slot, moment)
        seen.append(moment)
    days = [(m - slot.offset).astimezone(slot_zone(zone)).date() for m in seen]
    assert len(days) == len(set(days))  # never twice on one local day
    assert 365 <= len(days) <= 366  # and never a day left out
    assert all(later - earlier >= timedelta(hours=22) for earlier, later in zip(seen, seen[1:], strict=False))


def slot_zone(zone: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(zone)


def test_the_offset_moves_the_run_and_can_carry_it_past_midnight():
    slot = Slot(time(23, 50), "UTC", timedelta(minutes=20))
    assert next_due(slot, utc(2026, 5, 1, 23, 55)) == utc(2026, 5, 2, 0, 10)  # yesterday's 23:50 + 20 min
    assert next_due(slot, utc(2026, 5, 2, 0, 10)) == utc(2026, 5, 3, 0, 10)


def test_offsets_are_stable_and_spread_evenly_over_the_window():
    assert spread_offset(42) == spread_offset(42)
    offsets = [spread_offset(n) for n in range(1, 3001)]
    assert all(timedelta(0) <= o < SPREAD for o in offsets)
    per_minute = [0] * 30
    for o in offsets:
        per_minute[int(o.total_seconds() // 60)] += 1
    # 3,000 organisations due at the same local 03:00: about 100 start in each of the 30 minutes.
    assert max(per_minute) < 150 and min(per_minute) > 60


@pytest.mark.parametrize(("settings", "org_zone", "expected"), [
    ({}, "Europe/Berlin", (time(3), "Europe/Berlin")),  # defaults: on, 03:00, the organisation's zone
    ({"sync_time": "05:45", "timezone": "Asia/Tokyo"}, "Europe/Berlin", (time(5, 45), "Asia/Tokyo")),
    ({"auto_sync": False, "sync_time": "05:45"}, "UTC", None),
    ({"sync_time": "25:00"}, "UTC", None),  # unreadable: no automatic runs rather than a guessed time
    ({"timezone": "Mars/Olympus"}, "UTC", None),
])
def test_slot_from_stored_settings(settings, org_zone, expected):
    slot = slot_for(settings, org_zone, 7)
    assert (None if slot is None else (slot.sync_time, slot.timezone)) == expected
    if slot is not None:
        assert slot.offset == spread_offset(7) and slot.key != OFF_KEY
