"""Sync runs as admins see them: the list, one run, its decisions, held removals, and "sync now".

Shared by the portal's Sync pages and the CLI (``m365 approve-removals`` / ``discard-removals``).
Every read is scoped to one organisation: a run id guessed from another organisation is NotFound.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, tuple_, union_all, update
from sqlalchemy.engine import Connection as DBConnection
from sqlalchemy.engine import Engine
from sqlmodel import Session

from config import Config
from portal import connections
from portal.errors import InvalidTransition, InvalidValue, NotFound, SigsyncError
from portal.jobs import SYNC_JOB_TIMEOUT, QueueUnavailable, enqueue_run
from portal.models import Connection, Organization, SyncDecision, SyncRun, utcnow
from portal.sync import plan, removals
from portal.sync.engine import REFUSED_STATES


class RunStatus(StrEnum):
    """Where a run is: waiting for a worker, syncing, or finished one way or the other."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # a scheduled run that found another one of the connection's runs going
    ABANDONED = "abandoned"  # its worker stopped beating (killed); the scheduler released its lock


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class RunTrigger(StrEnum):
    """Who started a run."""

    MANUAL = "manual"  # "Sync now" in the portal
    SCHEDULE = "schedule"
    CLI = "cli"


class RunMode(StrEnum):
    """How a run reads Microsoft 365; ``auto`` is a queued run that has not chosen full or delta yet."""

    AUTO = "auto"
    FULL = "full"
    DELTA = "delta"
    DRY_RUN = "dry_run"


class DecisionKind(StrEnum):
    """What a run decided for one user (the engine records nothing for "unchanged")."""

    CREATED = plan.CREATED
    UPDATED = plan.UPDATED
    LINKED = plan.LINKED
    OVERWROTE_MANUAL = plan.OVERWROTE_MANUAL
    KEPT_MANUAL = plan.KEPT_MANUAL
    PAUSED = plan.PAUSED
    EXCLUDED = plan.EXCLUDED
    REACTIVATED = plan.REACTIVATED
    SKIPPED = plan.SKIPPED
    REPLACED = plan.REPLACED  # the employee was another person's: reset to this user's data
    OUT_OF_SCOPE = "out_of_scope"
    CONFLICT = "conflict"
    SEAT_LIMIT = "seat_limit"
    REMOVAL_HELD = "removal_held"
    DELETED = "deleted"
    DEACTIVATED = "deactivated"
    UNLINKED = "unlinked"


class Resolution(StrEnum):
    """What became of a held removal."""

    PENDING = "pending"
    APPROVED = "approved"
    DISCARDED = "discarded"


@dataclass(frozen=True)
class RunView:
    """One run as a page shows it."""

    id: int
    connection_id: int
    trigger: str
    mode: str
    status: str
    phase: str
    done: int
    total: int | None
    counts: dict[str, int]
    error: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None

    @property
    def duration(self) -> timedelta | None:
        """Start to finish; for a run still going, start to now; None before it started."""
        if self.started_at is None:
            return None
        return (self.finished_at or utcnow()) - self.started_at

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class RunPage:
    """Runs newest first; ``next_before_id`` asks for the page after this one (None: no more)."""

    runs: list[RunView]
    next_before_id: int | None


@dataclass(frozen=True)
class DecisionView:
    """One decision of a run."""

    id: int
    kind: str
    m365_id: str
    email: str
    employee_id: int | None
    reason: str
    details: dict[str, Any]
    resolution: str


@dataclass(frozen=True)
class DecisionPage:
    """Decisions in the order the run made them; ``next_after_id`` continues (None: no more)."""

    decisions: list[DecisionView]
    next_after_id: int | None


@dataclass(frozen=True)
class SyncRequest:
    """The answer to "sync now": the run that is now queued, and whether this request started it."""

    run: RunView
    started: bool


MAX_PAGE = 500
QUEUE_DOWN = ("The job queue is unavailable, so the sync did not start. Check that Redis is running and "
              "reachable at REDIS_URL, then try again.")
# A queued run no worker took within a job's time limit was lost (Redis flushed or replaced).
QUEUED_STALE_AFTER = timedelta(seconds=SYNC_JOB_TIMEOUT)
LOST_IN_QUEUE = ("No worker took this run from the job queue in time (the queue may have been emptied). "
                 "A new sync was started instead.")


# -- reading runs ---------------------------------------------------------------------------------


def list_runs(session: Session, org: Organization, before_id: int | None = None, limit: int = 25) -> RunPage:
    """The organisation's runs, newest first, ``limit`` at a time (keyset on the run id)."""
    limit = _limit(limit)
    query = select(SyncRun.__table__).where(SyncRun.organization_id == org.id)
    if before_id is not None:
        query = query.where(SyncRun.id < before_id)
    rows = session.connection().execute(query.order_by(SyncRun.id.desc()).limit(limit + 1)).all()
    runs = [_run_view(row) for row in rows[:limit]]
    return RunPage(runs, runs[-1].id if len(rows) > limit else None)


def get_run(session: Session, org: Organization, run_id: int) -> RunView:
    """One of the organisation's runs, or NotFound (also for another organisation's run)."""
    row = session.connection().execute(
        select(SyncRun.__table__).where(SyncRun.id == run_id, SyncRun.organization_id == org.id)
    ).first()
    if row is None:
        raise NotFound(f"There is no sync run {run_id} in this organisation.")
    return _run_view(row)


def decisions(session: Session, org: Organization, run_id: int, kind: str | None = None,
              after_id: int | None = None, limit: int = 50) -> DecisionPage:
    """A run's decisions, optionally of one kind, ``limit`` at a time (keyset on the decision id)."""
    get_run(session, org, run_id)
    limit = _limit(limit)
    query = select(SyncDecision.__table__).where(SyncDecision.run_id == run_id)
    if kind:
        query = query.where(SyncDecision.kind == _kind(kind))
    if after_id is not None:
        query = query.where(SyncDecision.id > after_id)
    rows = session.connection().execute(query.order_by(SyncDecision.id).limit(limit + 1)).all()
    page = [_decision_view(r) for r in rows[:limit]]
    return DecisionPage(page, page[-1].id if len(rows) > limit else None)


def decision_counts(session: Session, org: Organization, run_id: int) -> dict[str, int]:
    """How many decisions of each kind a run recorded (kinds with none are left out)."""
    get_run(session, org, run_id)
    rows = session.connection().execute(
        select(SyncDecision.kind, func.count()).where(SyncDecision.run_id == run_id).group_by(SyncDecision.kind)
    )
    return {kind: count for kind, count in sorted(rows)}


def pending_removals(session: Session, org: Organization, run_id: int) -> int:
    """How many of a run's removals wait for an admin's approval."""
    get_run(session, org, run_id)
    return session.connection().execute(
        select(func.count()).select_from(SyncDecision).where(
            SyncDecision.run_id == run_id, SyncDecision.kind == DecisionKind.REMOVAL_HELD,
            SyncDecision.resolution == Resolution.PENDING)
    ).scalar_one()


def active_run(session: Session, org: Organization) -> RunView | None:
    """The queued or running run of the organisation's live connection, if there is one."""
    conn = session.connection()
    try:
        connection = connections.live_connection(conn, org.id)
    except connections.ConnectionProblem:
        return None
    row = _active_row(conn, connection)
    return None if row is None else _run_view(row)


# -- the live panel ---------------------------------------------------------------------------------

FEED_SIZE = 20
# Phases in which the engine counts users towards the total (the estimate of the time left holds then).
COUNTING_PHASES = ("users",)


@dataclass(frozen=True)
class LiveProgress:
    """How far a run is, from its row alone: users processed of the total, the time so far and the time left.

    ``remaining`` is None when it cannot be estimated honestly: no total (Graph gave no $count, or a
    changes-only run, which does not know in advance how many users changed), nothing processed yet, or a
    phase after the users were read (removals and the last checks take a short, unknown time).
    """

    done: int
    total: int | None
    elapsed: timedelta | None
    remaining: timedelta | None

    @property
    def shown(self) -> int:
        """The progress bar's value: never past its end (users added while the run reads them)."""
        return self.done if self.total is None else min(self.done, self.total)

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, self.done * 100 // self.total)


def live_progress(run: RunView, now: datetime | None = None) -> LiveProgress:
    """The run's progress and an estimate of the time left from its rate so far (users per second since
    it started), computed from the run row the engine updates after every page of users."""
    now = now or utcnow()
    elapsed = None if run.started_at is None else max(timedelta(0), (run.finished_at or now) - run.started_at)
    remaining = None
    if (run.active and run.phase in COUNTING_PHASES and run.total and elapsed
            and run.done > 0 and elapsed.total_seconds() > 0):
        left = max(0, run.total - run.done)
        remaining = timedelta(seconds=round(left * elapsed.total_seconds() / run.done))
    return LiveProgress(run.done, run.total, elapsed, remaining)


def latest_decisions(session: Session, org: Organization, run_id: int, limit: int = FEED_SIZE,
                     kinds: Iterable[str] = ()) -> list[DecisionView]:
    """A run's newest decisions, newest first, in one query (the feed of the live panel).

    Scoped by a join on the run's organisation, so another organisation's run gives an empty list (the
    page that asks has already answered 404 for it). ``kinds``: the kinds the run has counted so far (its
    ``counts``), which lets PostgreSQL read each kind's newest rows backwards along the (run_id, kind, id)
    index, at most ``limit`` per kind, whatever its statistics say in the middle of a first run: there is
    no (run_id, id) index there, and a plan on the run_id index alone sorts every decision of the run on
    each poll (150 ms at 20,000 decisions, measured). SQLite's run_id index holds the row id, so it is
    already the (run_id, id) order; so is any run that has counted nothing yet (its first page).

    Measured at 100,000 decisions of a first run (interleaved with another organisation's run, 90,000
    older decisions, statistics from before the run): the plain query read all 100,000 along the run_id
    index and sorted them (346 ms); this one took 0.3 ms (0.6 ms on fresh statistics), SQLite's 0.2 ms with
    no sort step. So no (run_id, id) index: it would cost every run's decision inserts and buy nothing here.
    """
    limit = _limit(limit)
    table, runs_table = SyncDecision.__table__, SyncRun.__table__
    kinds = sorted({str(k) for k in kinds})
    conn = session.connection()
    if conn.dialect.name == "sqlite" or not kinds:
        query = (select(table).join(runs_table, runs_table.c.id == table.c.run_id)
                 .where(table.c.run_id == run_id, runs_table.c.organization_id == org.id)
                 .order_by(table.c.id.desc()).limit(limit))
    else:
        branches = [select(table).where(table.c.run_id == run_id, table.c.kind == kind)
                    .order_by(table.c.id.desc()).limit(limit).subquery() for kind in kinds]
        newest = union_all(*(select(branch) for branch in branches)).subquery()
        query = (select(newest).join(runs_table, runs_table.c.id == newest.c.run_id)
                 .where(runs_table.c.organization_id == org.id).order_by(newest.c.id.desc()).limit(limit))
    return [_decision_view(r) for r in conn.execute(query).all()]


# -- the decisions as CSV ---------------------------------------------------------------------------

CSV_BATCH = 1000
CSV_HEADER = ("Decision", "Kind", "Decision in words", "Email", "Microsoft 365 user id", "Employee id", "Reason",
              "Field", "Value in Sigsync", "Value from Microsoft 365", "Removal")
# A cell a spreadsheet would read as a formula (or a DDE call) gets a leading quote (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Which two values of a field change go in the CSV's two value columns, per decision kind.
CSV_VALUES = {"updated": ("before", "after"), "paused": ("synced", "m365"), "excluded": ("synced", "m365"),
              "overwrote_manual": ("manual", "m365"), "kept_manual": ("manual", "m365")}


def csv_cell(value: Any) -> str:
    """One CSV cell, safe to open in a spreadsheet: text starting with = + - @ (or a tab or carriage
    return) is prefixed with a single quote so it is shown, never evaluated."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def decisions_csv(engine: Engine, org: Organization, run_id: int,
                  kind_label: Callable[[str], str] = str, batch: int = CSV_BATCH) -> Iterator[str]:
    """All of a run's decisions as CSV text, grouped by kind and in the order the run made them, a batch of
    rows at a time (keyset on kind and id), for a streamed download: memory stays at one batch however
    many decisions the run made.

    A decision with field changes gives one line per field (its other cells repeated), so a spreadsheet
    can filter by field. Raises NotFound before yielding anything for another organisation's run. Each
    batch is read in its own short transaction, so a long download holds no transaction open.
    """
    with engine.connect() as conn:
        found = conn.execute(select(SyncRun.id).where(SyncRun.id == run_id, SyncRun.organization_id == org.id)).first()
    if found is None:
        raise NotFound(f"There is no sync run {run_id} in this organisation.")
    return _csv_lines(engine, run_id, kind_label, batch)


def _csv_lines(engine: Engine, run_id: int, kind_label: Callable[[str], str], batch: int) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def flush() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield "\ufeff" + flush()  # the byte order mark: spreadsheets then read the file as UTF-8
    after: tuple[str, int] = ("", 0)
    while True:
        with engine.connect() as conn:
            # Keyset on (kind, id): each batch is a range of the (run_id, kind, id) index, so the last
            # batch of a 100,000-decision run costs what the first does.
            rows = conn.execute(
                select(SyncDecision.__table__)
                .where(SyncDecision.run_id == run_id, tuple_(SyncDecision.kind, SyncDecision.id) > tuple_(*after))
                .order_by(SyncDecision.kind, SyncDecision.id).limit(batch)
            ).all()
        if not rows:
            return
        for r in rows:
            base = [r.id, r.kind, kind_label(r.kind), r.email, r.m365_id, r.employee_id or "", r.reason]
            fields = (r.details or {}).get("fields")
            keys = CSV_VALUES.get(r.kind)
            if isinstance(fields, dict) and fields and keys:
                for field_name, values in sorted(fields.items()):
                    values = values if isinstance(values, dict) else {}
                    writer.writerow([csv_cell(v) for v in (*base, field_name, values.get(keys[0]),
                                                          values.get(keys[1]), r.resolution)])
            else:
                writer.writerow([csv_cell(v) for v in (*base, "", "", "", r.resolution)])
        yield flush()
        after = (rows[-1].kind, rows[-1].id)


# -- held removals --------------------------------------------------------------------------------


def approve_removals(session: Session, org: Organization, run_id: int) -> int:
    """Apply the removals a run held back; returns how many employees were removed or deactivated.

    Employees that came back since (found again by a later run, paused, excluded) are spared.
    """
    return _resolve(session, org, run_id, approve=True)


def discard_removals(session: Session, org: Organization, run_id: int) -> int:
    """Discard a run's held removals: the employees stay as they are; returns how many were discarded."""
    return _resolve(session, org, run_id, approve=False)


def _resolve(session: Session, org: Organization, run_id: int, *, approve: bool) -> int:
    conn = session.connection()
    # Lock the run row: two admins approving at once must not apply (and record) the removals twice.
    row = conn.execute(
        select(SyncRun.__table__).where(SyncRun.id == run_id, SyncRun.organization_id == org.id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"There is no sync run {run_id} in this organisation.")
    run = SyncRun.model_validate(row._asdict())
    waiting = pending_removals(session, org, run_id)
    connection = _connection(conn, run.connection_id)
    action = connections.connection_settings(connection, org.timezone).removal
    try:
        applied = removals.resolve_held(conn, run, approve, action)
    except removals.NothingToResolve as exc:
        raise InvalidTransition(str(exc)) from None
    return len(applied) if approve else waiting


# -- sync now -------------------------------------------------------------------------------------


def request_sync(config: Config, session_or_engine: Session | Engine, org: Organization,
                 trigger: str = RunTrigger.MANUAL, full: bool = False, dry_run: bool = False) -> SyncRequest:
    """Queue a sync of the organisation's connection, or return the run already queued or running.

    The check and the new run happen under a write lock on the connection row, so two admins (or two
    clicks, on any number of portal processes) get the same run. Takes an Engine because it commits the
    run before handing it to Redis; given a Session, it uses only its engine (the session must not hold
    uncommitted writes).
    """
    engine = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    with engine.begin() as conn:
        connection = _lock_live_connection(conn, org.id)
        row = _active_row(conn, connection)
        if row is not None:
            return SyncRequest(_run_view(row), started=False)
        refusal = REFUSED_STATES.get(connection.state)
        if refusal:
            raise connections.ConnectionProblem(refusal)
        run_id = _insert_run(conn, connection, trigger=RunTrigger(trigger), full=full, dry_run=dry_run)
    try:
        enqueue_run(config, run_id)  # marks the run failed when Redis refuses it
    except QueueUnavailable:
        raise SigsyncError(QUEUE_DOWN) from None
    with engine.begin() as conn:
        row = conn.execute(select(SyncRun.__table__).where(SyncRun.id == run_id)).one()
    return SyncRequest(_run_view(row), started=True)


def _lock_live_connection(conn: DBConnection, organization_id: int) -> Connection:
    connection = connections.live_connection(conn, organization_id)
    # A no-op write takes the row's write lock (PostgreSQL) or the database's (SQLite) before anything is
    # read, so a second request waits here and then sees the first one's run.
    conn.execute(update(Connection).where(Connection.id == connection.id).values(state=Connection.state))
    return connections.live_connection(conn, organization_id)


def _active_row(conn: DBConnection, connection: Connection):
    """The connection's newest queued or running run that still has a chance to finish."""
    now = utcnow()
    rows = conn.execute(
        select(SyncRun.__table__)
        .where(SyncRun.connection_id == connection.id, SyncRun.status.in_(ACTIVE_STATUSES))
        .order_by(SyncRun.id.desc())
    ).all()
    for row in rows:
        if row.status == RunStatus.RUNNING:
            # Running without a live lock: its worker died; the next run marks it failed.
            if connection.lock_run_id == row.id and _aware(connection.lock_expires_at) > now:
                return row
        elif _aware(row.created_at) > now - QUEUED_STALE_AFTER:
            return row
        else:
            conn.execute(update(SyncRun).where(SyncRun.id == row.id, SyncRun.status == RunStatus.QUEUED)
                         .values(status=RunStatus.FAILED, phase="done", error=LOST_IN_QUEUE, finished_at=now))
    return None


def _insert_run(conn: DBConnection, connection: Connection, *, trigger: RunTrigger, full: bool,
                dry_run: bool) -> int:
    # The same row portal.sync.engine.create_run writes, inside the locked transaction.
    mode = RunMode.DRY_RUN if dry_run else (RunMode.FULL if full else RunMode.AUTO)
    return conn.execute(
        SyncRun.__table__.insert().returning(SyncRun.id),
        {"connection_id": connection.id, "organization_id": connection.organization_id, "trigger": str(trigger),
         "mode": str(mode), "status": str(RunStatus.QUEUED), "phase": "queued", "done": 0, "counts": {},
         "error": "", "created_at": utcnow()},
    ).scalar_one()


# -- helpers --------------------------------------------------------------------------------------


def _connection(conn: DBConnection, connection_id: int) -> Connection:
    row = conn.execute(select(Connection.__table__).where(Connection.id == connection_id)).one()
    return Connection.model_validate(row._asdict())


def _decision_view(r) -> DecisionView:
    return DecisionView(r.id, r.kind, r.m365_id, r.email, r.employee_id, r.reason, dict(r.details or {}), r.resolution)


def _run_view(row) -> RunView:
    return RunView(
        id=row.id, connection_id=row.connection_id, trigger=row.trigger, mode=row.mode, status=row.status,
        phase=row.phase, done=row.done, total=row.total, counts=dict(row.counts or {}), error=row.error,
        created_at=_aware(row.created_at), started_at=_aware(row.started_at), finished_at=_aware(row.finished_at),
        heartbeat_at=_aware(row.heartbeat_at),
    )


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidValue(f"A page holds 1 to {MAX_PAGE} rows, not {limit}.")
    return limit


def _kind(kind: str) -> str:
    try:
        return str(DecisionKind(kind))
    except ValueError:
        raise InvalidValue(f"There is no decision kind {kind!r}.") from None


__all__ = [
    "ACTIVE_STATUSES", "DecisionKind", "DecisionPage", "DecisionView", "LiveProgress", "Resolution", "RunMode",
    "RunPage", "RunStatus", "RunTrigger", "RunView", "SyncRequest", "active_run", "approve_removals", "csv_cell",
    "decision_counts", "decisions", "decisions_csv", "discard_removals", "get_run", "latest_decisions",
    "list_runs", "live_progress", "pending_removals", "request_sync",
]
