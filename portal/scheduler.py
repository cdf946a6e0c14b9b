"""The scheduling loop: one acting scheduler at a time, daily runs when due, abandoned runs marked.

Every worker process runs this loop; a lease row in the database (``SchedulerLease``) lets one of
them act per tick. The lease is a compare-and-set with an expiry, renewed every tick, so it holds
across machines on PostgreSQL and passes to another worker within ``LEASE_TTL`` when its holder dies.
We do not use RQ's scheduler lock: it lives in Redis with the jobs it schedules, so a Redis restart
or flush would lose the schedule (a skipped day), and the loop must keep working while Redis is
down (marking abandoned runs, keeping the due times to catch up later). The database is the
source of truth for the schedule, so it also owns the lease.

Correctness does not rest on the lease alone: a due connection is started under a write lock on
its row, re-reading ``next_sync_at`` there, so even two schedulers acting at once (a holder that
stalled past its lease) cannot start one day twice.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import Text, bindparam, cast, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from config import Config
from portal import runs
from portal.db import get_engine
from portal.jobs import QueueUnavailable, enqueue_run, job_id_for
from portal.models import Connection, Organization, SchedulerLease, SyncRun, utcnow
from portal.schedule import OFF_KEY, next_due, slot_for
from portal.sync.engine import REFUSED_STATES

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_TTL = timedelta(seconds=60)  # > a few ticks, and more than the clock skew we tolerate between machines
TICK_SECONDS = 15.0
# A running run's job stamps heartbeat_at every 15 s (portal.jobs.Heartbeat): eight missed beats is a dead worker.
HEARTBEAT_STALE = timedelta(minutes=2)
# A queued run no worker has touched for this long, whose RQ job is gone (Redis flushed or replaced).
UNCLAIMED_AFTER = timedelta(minutes=10)
DUE_BATCH = 500  # connections started per tick at most; the rest follow on the next tick
RESCHEDULE_BATCH = 1000  # recomputed due times written per transaction

ABANDONED_RUNNING = ("Abandoned: the worker running this sync stopped answering (killed, or its machine went "
                     "down) at {when} UTC. Nothing was lost; the next run continues from the data already written.")
ABANDONED_QUEUED = ("Abandoned: no worker picked this sync up from the job queue, and the queue no longer has it "
                    "(Redis was emptied or replaced). The next run starts afresh.")
SKIPPED = "Skipped: run {run_id} was still {status} when the daily sync was due, so it was not started twice."

SKIPPED_STATUS = runs.RunStatus.SKIPPED
ABANDONED_STATUS = runs.RunStatus.ABANDONED


@dataclass
class TickReport:
    """What one tick did (for logs and tests)."""

    acting: bool = False
    queue_down: bool = False
    started: list[int] = field(default_factory=list)  # run ids queued
    skipped: list[int] = field(default_factory=list)  # "skipped" run ids recorded
    abandoned: list[int] = field(default_factory=list)
    rescheduled: list[int] = field(default_factory=list)  # connection ids whose next due time was recomputed


class Scheduler:
    """One participant in the scheduling; ``tick`` acts only while it holds the lease."""

    def __init__(self, config: Config, *, holder: str | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        self.engine: Engine = get_engine(config.database_url)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self._queue_was_down = False
        # connection id -> (settings as stored, organisation time zone, schedule key) last judged by this process
        self._judged: dict[int, tuple[str, str, str]] = {}

    # -- the loop -------------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, every: float = TICK_SECONDS) -> None:
        """Tick until ``stop`` is set; a failing tick (database down) is logged and tried again."""
        log.info("Scheduler %s started (tick every %.0f s)", self.holder, every)
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception:
                    log.exception("Scheduler tick failed; trying again in %.0f s", every)
                stop.wait(every)
        finally:
            self.release_lease()

    def tick(self) -> TickReport:
        """Take or renew the lease; if ours: recompute changed schedules, mark abandoned runs, start due ones."""
        now = self.clock()
        report = TickReport()
        if not self.take_lease(now):
            return report
        report.acting = True
        report.rescheduled = self.reschedule_changed(now)
        redis = self._redis()
        report.abandoned = self.mark_abandoned(now, redis)
        if redis is None:
            report.queue_down = True
            return report  # due times stay as they are: the schedule catches up when Redis is back
        for connection_id in self._due_connections(now):
            outcome, run_id = self.start_scheduled(connection_id, now)
            if outcome == "queue_down":
                report.queue_down = True
                break
            if outcome == "started":
                report.started.append(run_id)
            elif outcome == "skipped":
                report.skipped.append(run_id)
        return report

    # -- the lease ------------------------------------------------------------------------------

    def take_lease(self, now: datetime) -> bool:
        """Renew our lease or take an expired one (compare-and-set); False while another holds it."""
        values = {"holder": self.holder, "expires_at": now + LEASE_TTL}
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == LEASE_NAME,
                       or_(SchedulerLease.holder == self.holder, SchedulerLease.expires_at < now))
                .values(**values)
            ).rowcount
            if taken == 1:
                return True
            if conn.execute(select(SchedulerLease.name).where(SchedulerLease.name == LEASE_NAME)).first():
                return False
        try:  # the first scheduler ever: the primary key lets exactly one insert win
            with self.engine.begin() as conn:
                conn.execute(insert(SchedulerLease).values(name=LEASE_NAME, **values))
        except IntegrityError:
            return False
        return True

    def release_lease(self) -> None:
        """Let another worker take over at once (on a clean shutdown)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(update(SchedulerLease)
                             .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder)
                             .values(expires_at=self.clock() - timedelta(seconds=1)))
        except Exception:  # the database is gone: the lease simply expires
            log.warning("Could not release the scheduler lease; it expires within %s", LEASE_TTL)

    # -- the schedule ---------------------------------------------------------------------------

    def reschedule_changed(self, now: datetime) -> list[int]:
        """Recompute next_sync_at where auto-sync, the sync time or the time zone changed since it was computed.

        Lazily, here, rather than in every place that saves settings: the CLI's config import, the
        portal's settings page and the organisation's time zone all count, and a change made any way
        (even in the database) is picked up within a tick. Settings already judged are remembered per
        process, so a steady tick only compares them; changes are written in batches.
        """
        with self.engine.begin() as conn:
            rows = conn.execute(
                # As text: comparing it with what was judged last tick costs far less than decoding the JSON.
                select(Connection.id, cast(Connection.settings, Text).label("settings"), Connection.schedule_key,
                       Organization.timezone)
                .join(Organization, Organization.id == Connection.organization_id)
                .where(Connection.state != "disconnected")
            ).all()
        changes = []
        for row in rows:
            judged = (row.settings, row.timezone, row.schedule_key)
            if self._judged.get(row.id) == judged:
                continue
            slot = slot_for(json.loads(row.settings or "{}") or {}, row.timezone, row.id)
            key = slot.key if slot else OFF_KEY
            self._judged[row.id] = (row.settings, row.timezone, key)
            if key != row.schedule_key:
                changes.append({"cid": row.id, "old_key": row.schedule_key, "key": key,
                                "next": next_due(slot, now) if slot else None})
        stmt = (update(Connection)
                .where(Connection.id == bindparam("cid"), Connection.schedule_key == bindparam("old_key"))
                .values(next_sync_at=bindparam("next"), schedule_key=bindparam("key")))
        for start in range(0, len(changes), RESCHEDULE_BATCH):
            with self.engine.begin() as conn:  # compare-and-set on the key: a concurrent recompute wins once
                conn.execute(stmt, changes[start:start + RESCHEDULE_BATCH])
        return [change["cid"] for change in changes]

    def _due_connections(self, now: datetime) -> list[int]:
        with self.engine.begin() as conn:
            return list(conn.execute(
                select(Connection.id)
                .where(Connection.next_sync_at <= now, Connection.state.not_in(list(REFUSED_STATES)),
                       Connection.state != "disconnected", Connection.schedule_key != OFF_KEY)
                .order_by(Connection.next_sync_at)
                .limit(DUE_BATCH)
            ).scalars())

    def start_scheduled(self, connection_id: int, now: datetime) -> tuple[str, int | None]:
        """Queue the connection's daily run, or record it as skipped while another run is active.

        Returns ("started" | "skipped" | "not_due" | "queue_down", run id). The check and the new row
        happen under the connection row's write lock, as portal.runs.request_sync does, so neither a
        "Sync now" nor a second scheduler can slip a run in between.
        """
        with self.engine.begin() as conn:
            conn.execute(update(Connection).where(Connection.id == connection_id).values(state=Connection.state))
            row = conn.execute(select(Connection.__table__).where(Connection.id == connection_id)).one()
            connection = Connection.model_validate(row._asdict())
            due_at = runs._aware(connection.next_sync_at)
            if due_at is None or due_at > now or connection.state in REFUSED_STATES \
                    or connection.state == "disconnected":
                return "not_due", None  # another scheduler got here first, or the connection changed
            timezone = conn.execute(select(Organization.timezone)
                                    .where(Organization.id == connection.organization_id)).scalar_one()
            slot = slot_for(connection.settings or {}, timezone, connection.id)
            # Once per slot however long we were down: the next due time is the first one after now.
            following = next_due(slot, max(now, due_at)) if slot else None
            active = runs._active_row(conn, connection)
            if active is not None:
                if active.trigger == runs.RunTrigger.SCHEDULE and runs._aware(active.created_at) >= due_at:
                    # This slot's own run: a scheduler queued it and stopped before moving the due time on.
                    self._advance(conn, connection_id, due_at, following)
                    return "not_due", None
                skipped_id = self._record_skipped(conn, connection, active, now)
                self._advance(conn, connection_id, due_at, following)
                log.info("Scheduled sync of connection %s skipped: run %s is %s", connection_id, active.id,
                         active.status)
                return "skipped", skipped_id
            run_id = runs._insert_run(conn, connection, trigger=runs.RunTrigger.SCHEDULE, full=False, dry_run=False)
        try:
            enqueue_run(self.config, run_id)
        except QueueUnavailable:
            # enqueue_run marked the run failed, saying so; the due time stays, so the next tick tries again.
            log.warning("Scheduled sync of connection %s not queued: Redis is unreachable; retrying next tick",
                        connection_id)
            return "queue_down", run_id
        with self.engine.begin() as conn:
            self._advance(conn, connection_id, due_at, following)
        log.info("Scheduled sync of connection %s queued as run %s; next due %s", connection_id, run_id, following)
        return "started", run_id

    @staticmethod
    def _advance(conn: Any, connection_id: int, due_at: datetime, following: datetime | None) -> None:
        conn.execute(update(Connection).where(Connection.id == connection_id, Connection.next_sync_at == due_at)
                     .values(next_sync_at=following))

    @staticmethod
    def _record_skipped(conn: Any, connection: Connection, active: Any, now: datetime) -> int:
        return conn.execute(
            SyncRun.__table__.insert().returning(SyncRun.id),
            {"connection_id": connection.id, "organization_id": connection.organization_id,
             "trigger": str(runs.RunTrigger.SCHEDULE), "mode": str(runs.RunMode.AUTO), "status": SKIPPED_STATUS,
             "phase": "done", "done": 0, "counts": {}, "created_at": now, "finished_at": now,
             "error": SKIPPED.format(run_id=active.id, status=active.status)},
        ).scalar_one()

    # -- abandoned runs -------------------------------------------------------------------------

    def mark_abandoned(self, now: datetime, redis: Redis | None) -> list[int]:
        """Mark runs whose worker died as abandoned, and free the connection lock a dead run holds."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(SyncRun.id, SyncRun.connection_id, SyncRun.status, SyncRun.heartbeat_at, SyncRun.started_at,
                       SyncRun.created_at)
                .where(SyncRun.status.in_(list(runs.ACTIVE_STATUSES)))
            ).all()
        abandoned = []
        for row in rows:
            error = self._why_abandoned(row, now, redis)
            if error and self._abandon(row, error, now):
                abandoned.append(row.id)
                log.warning("Run %s (connection %s) marked abandoned", row.id, row.connection_id)
        return abandoned

    def _why_abandoned(self, row: Any, now: datetime, redis: Redis | None) -> str | None:
        beat = runs._aware(row.heartbeat_at)
        if row.status == runs.RunStatus.RUNNING or beat is not None:
            # Running, or queued but already taken by a worker (its job beats from the start).
            last = beat or runs._aware(row.started_at) or runs._aware(row.created_at)
            if now - last > HEARTBEAT_STALE:
                return ABANDONED_RUNNING.format(when=f"{last:%Y-%m-%d %H:%M:%S}")
            return None
        if now - runs._aware(row.created_at) <= UNCLAIMED_AFTER or redis is None:
            return None  # still waiting its turn, or we cannot look at the queue now
        return ABANDONED_QUEUED if not _job_alive(redis, row.id, row.created_at) else None

    def _abandon(self, row: Any, error: str, now: datetime) -> bool:
        beat = SyncRun.heartbeat_at.is_(None) if row.heartbeat_at is None else SyncRun.heartbeat_at == row.heartbeat_at
        with self.engine.begin() as conn:
            # The connection row first, as the engine takes them (its lock, then the run): no deadlock.
            conn.execute(update(Connection).where(Connection.id == row.connection_id).values(state=Connection.state))
            # Compare-and-set on the status and the heartbeat we judged: a run that just beat is left alone.
            done = conn.execute(update(SyncRun).where(SyncRun.id == row.id, SyncRun.status == row.status, beat)
                                .values(status=ABANDONED_STATUS, phase="done", error=error,
                                        finished_at=now)).rowcount
            if done:
                # Free the lock the dead run holds, so the next run starts now rather than when it expires.
                conn.execute(update(Connection)
                             .where(Connection.id == row.connection_id, Connection.lock_run_id == row.id)
                             .values(lock_run_id=None, lock_expires_at=None))
        return bool(done)

    # -- Redis ----------------------------------------------------------------------------------

    def _redis(self) -> Redis | None:
        redis = Redis.from_url(self.config.redis_url, socket_connect_timeout=2, socket_timeout=5)
        try:
            redis.ping()
        except RedisError as exc:
            if not self._queue_was_down:
                log.error("The job queue (Redis) is unreachable (%s): scheduled syncs wait and catch up when it is "
                          "back.", exc)
            self._queue_was_down = True
            return None
        if self._queue_was_down:
            log.info("The job queue (Redis) is back: catching up on scheduled syncs")
        self._queue_was_down = False
        return redis


def _job_alive(redis: Redis, run_id: int, created_at: datetime) -> bool:
    """Whether RQ still has the run's job waiting or running."""
    try:
        status = Job.fetch(job_id_for(run_id, created_at), connection=redis).get_status()
    except NoSuchJobError:
        return False
    return status in ("queued", "started", "deferred", "scheduled")
