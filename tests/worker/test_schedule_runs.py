"""The scheduling loop with an injected clock: daily runs across DST, catch-up, the lease, skips, Redis down."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal import runs
from portal.db import session_scope
from portal.models import Organization, SchedulerLease, SyncRun
from portal.schedule import local_moment, spread_offset
from portal.scheduler import LEASE_TTL, Scheduler
from tests.worker.conftest import work_off

BERLIN = ZoneInfo("Europe/Berlin")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def slot_instant(harness, day: date, at: time) -> datetime:
    """When the scheduler should start the harness's daily run on ``day`` (its offset included)."""
    return local_moment(day, at, BERLIN) + spread_offset(harness.connection.id)


def tick_times(harness, start: datetime, end: datetime, at: time, extra: list[datetime] = ()) -> list[datetime]:
    """Ticks every two hours from ``start`` to ``end``, plus one a second before each daily slot and one on it."""
    moments = {start + timedelta(hours=n) for n in range(0, int((end - start) / timedelta(hours=1)), 2)}
    day = start.astimezone(BERLIN).date()
    while (slot := slot_instant(harness, day, at)) < end:
        moments |= {slot - timedelta(seconds=1), slot}
        day += timedelta(days=1)
    return sorted(m for m in moments | set(extra) if start <= m < end)


def scheduled_runs(harness) -> list[SyncRun]:
    with session_scope(harness.config.database_url) as session:
        return list(session.exec(select(SyncRun).where(SyncRun.connection_id == harness.connection.id,
                                                       SyncRun.trigger == "schedule")
                                 .order_by(SyncRun.id)).scalars())


def next_sync_at(harness) -> datetime | None:
    moment = harness.connection_row().next_sync_at
    return None if moment is None else moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def test_a_spring_forward_night_runs_the_skipped_time_once_when_the_clocks_jump(queued):
    queued.configure(settings={"sync_time": "02:30"})
    clock = Clock(datetime(2026, 3, 28, 12, tzinfo=UTC))
    scheduler = Scheduler(queued.config, clock=clock)
    scheduler.tick()  # first sight of the connection: the next due time is computed and stored
    jump = slot_instant(queued, date(2026, 3, 29), time(2, 30))
    assert jump - spread_offset(queued.connection.id) == datetime(2026, 3, 29, 1, tzinfo=UTC)  # 03:00 CEST
    assert next_sync_at(queued) == jump

    started_at = []
    for moment in tick_times(queued, clock.now, datetime(2026, 3, 31, 6, tzinfo=UTC), time(2, 30)):
        clock.now = moment
        if scheduler.tick().started:
            started_at.append(clock.now)
            work_off(queued)

    # Right when the clocks jump on the 29th, then at 02:30 (summer time) on the next days: once a day, none missed.
    assert started_at == [slot_instant(queued, day, time(2, 30)) for day in
                          (date(2026, 3, 29), date(2026, 3, 30), date(2026, 3, 31))]
    assert [r.status for r in scheduled_runs(queued)] == ["succeeded"] * 3


def test_an_autumn_night_runs_the_repeated_time_once(queued):
    queued.configure(settings={"sync_time": "02:30"})
    clock = Clock(datetime(2026, 10, 24, 12, tzinfo=UTC))
    scheduler = Scheduler(queued.config, clock=clock)
    started_at = []
    # Every two hours, plus ticks around both 02:30s of the 25th (00:30 and 01:30 UTC, offset added).
    second_0230 = datetime(2026, 10, 25, 1, 30, tzinfo=UTC) + spread_offset(queued.connection.id)
    extra = [second_0230 - timedelta(seconds=1), second_0230, second_0230 + timedelta(minutes=5)]
    for moment in tick_times(queued, clock.now, datetime(2026, 10, 26, 12, tzinfo=UTC), time(2, 30), extra):
        clock.now = moment
        if scheduler.tick().started:
            started_at.append(clock.now)
            work_off(queued)

    first = slot_instant(queued, date(2026, 10, 25), time(2, 30))
    assert first - spread_offset(queued.connection.id) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    # The 25th once at its first 02:30, although 02:30 came twice, and the 26th.
    assert started_at == [first, slot_instant(queued, date(2026, 10, 26), time(2, 30))]


def test_days_missed_while_everything_was_down_run_once_on_return(queued):
    clock = Clock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    Scheduler(queued.config, clock=clock).tick()
    assert next_sync_at(queued) == slot_instant(queued, date(2026, 6, 2), time(3))

    clock.now = datetime(2026, 6, 5, 9, tzinfo=UTC)  # back after three and a half days: a new process
    scheduler = Scheduler(queued.config, clock=clock)
    first = scheduler.tick()
    again = scheduler.tick()

    assert len(first.started) == 1 and again.started == []
    assert len(scheduled_runs(queued)) == 1
    assert next_sync_at(queued) == slot_instant(queued, date(2026, 6, 6), time(3))  # the next one, not a backlog


def test_changing_the_time_or_turning_auto_sync_off_recomputes_the_next_run(queued):
    clock = Clock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    scheduler = Scheduler(queued.config, clock=clock)
    scheduler.tick()
    queued.configure(settings={"sync_time": "18:00"})
    assert scheduler.tick().rescheduled == [queued.connection.id]
    assert next_sync_at(queued) == slot_instant(queued, date(2026, 6, 1), time(18))  # still today
    queued.configure(settings={"auto_sync": False})
    scheduler.tick()
    assert next_sync_at(queued) is None
    clock.now += timedelta(days=2)
    assert scheduler.tick().started == []
    queued.configure(settings={"auto_sync": True, "sync_time": "03:00", "timezone": "Asia/Tokyo"})
    scheduler.tick()
    tokyo = local_moment(date(2026, 6, 4), time(3), ZoneInfo("Asia/Tokyo")) + spread_offset(queued.connection.id)
    assert next_sync_at(queued) == tokyo


def test_two_schedulers_at_once_one_acts_and_the_other_takes_over_when_it_dies(queued):
    clock = Clock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    first, second = (Scheduler(queued.config, holder=name, clock=clock) for name in ("first", "second"))
    first.tick()
    clock.now = slot_instant(queued, date(2026, 6, 2), time(3)) + timedelta(minutes=1)
    reports: dict[str, list] = {"first": [], "second": []}
    barrier = threading.Barrier(2)

    def race(scheduler):
        barrier.wait()
        for _ in range(5):
            reports[scheduler.holder].append(scheduler.tick())

    threads = [threading.Thread(target=race, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    acted = {name: [r.acting for r in done] for name, done in reports.items()}
    assert sorted(acted.values()) == [[False] * 5, [True] * 5]  # one of them, every tick; the other never
    assert len(scheduled_runs(queued)) == 1
    leader, other = (first, second) if acted["first"][0] else (second, first)

    clock.now += LEASE_TTL / 2  # the leader died without a word: its lease holds until it expires
    assert not other.tick().acting
    clock.now += LEASE_TTL
    assert other.tick().acting
    with session_scope(queued.config.database_url) as session:
        assert session.get(SchedulerLease, "scheduler").holder == other.holder
    assert not leader.tick().acting


def test_a_due_run_finding_one_queued_is_skipped_and_says_so(queued):
    clock = Clock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    scheduler = Scheduler(queued.config, clock=clock)
    scheduler.tick()
    with session_scope(queued.config.database_url) as session:
        manual = runs.request_sync(queued.config, session, session.get(Organization, queued.org.id)).run
    clock.now = slot_instant(queued, date(2026, 6, 2), time(3))
    clock.now = max(clock.now, datetime.now(UTC))  # a queued run counts as waiting for a while after it was made

    report = scheduler.tick()

    assert report.started == [] and len(report.skipped) == 1
    skipped = queued.run(report.skipped[0])
    assert (skipped.status, skipped.trigger) == ("skipped", "schedule")
    assert f"run {manual.id} was still queued" in skipped.error
    assert queued.run(manual.id).status == "queued"  # the manual run is untouched
    assert next_sync_at(queued) > clock.now
    assert scheduler.tick().skipped == []  # once per day, not once per tick


def test_a_connection_that_needs_consent_is_not_retried(queued):
    clock = Clock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    scheduler = Scheduler(queued.config, clock=clock)
    scheduler.tick()
    queued.sim.tokens.admin_consent = False  # the admin removed Sigsync's permissions
    queued.sim.tokens.expire_access_tokens()
    clock.now = slot_instant(queued, date(2026, 6, 2), time(3))
    assert len(scheduler.tick().started) == 1
    work_off(queued)
    failed = scheduled_runs(queued)[0]
    assert failed.status == "failed" and "grant Sigsync's permissions" in failed.error
    assert queued.connection_row().state == "needs_consent"

    for _ in range(3):  # three more days: no run, no failure piling up
        clock.now += timedelta(days=1)
        assert scheduler.tick().started == []
    assert len(scheduled_runs(queued)) == 1


def test_with_redis_unreachable_the_schedule_waits_and_catches_up(queued):
    clock = Clock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    Scheduler(queued.config, clock=clock).tick()
    due = next_sync_at(queued)
    clock.now = due + timedelta(minutes=5)
    down = Scheduler(replace(queued.config, redis_url="redis://127.0.0.1:1/0"), clock=clock)

    report = down.tick()

    assert report.acting and report.queue_down and report.started == []
    assert scheduled_runs(queued) == [] and next_sync_at(queued) == due  # nothing lost, nothing failed

    clock.now += timedelta(minutes=30)  # Redis is back (a restart of the scheduler, or the same one)
    back = Scheduler(queued.config, clock=clock)
    clock.now += LEASE_TTL * 2  # the unlucky holder's lease expires
    assert len(back.tick().started) == 1
    work_off(queued)
    assert [r.status for r in scheduled_runs(queued)] == ["succeeded"]


def test_a_refused_enqueue_leaves_the_due_time_so_the_next_tick_retries(queued):
    clock = Clock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    Scheduler(queued.config, clock=clock).tick()
    due = next_sync_at(queued)
    clock.now = due + timedelta(minutes=1)
    # Redis answered the tick's ping, then went away before the job was handed over.
    gone = Scheduler(replace(queued.config, redis_url="redis://127.0.0.1:1/0"), clock=clock)

    outcome, run_id = gone.start_scheduled(queued.connection.id, clock.now)

    assert outcome == "queue_down"
    failed = queued.run(run_id)
    assert (failed.status, failed.trigger) == ("failed", "schedule") and "REDIS_URL" in failed.error
    assert next_sync_at(queued) == due  # still due

    clock.now += timedelta(minutes=1)
    retried = Scheduler(queued.config, clock=clock).tick()
    assert len(retried.started) == 1
    work_off(queued)
    assert [r.status for r in scheduled_runs(queued)] == ["failed", "succeeded"]
    assert next_sync_at(queued) > clock.now
