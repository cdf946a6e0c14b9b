"""What the dashboard shows: the connection, the runs, the employees and what needs an admin.

Everything here is a handful of small queries (counts are GROUP BYs, never rows loaded), so
the page stays fast at 100,000 employees. Links are named by endpoint; the view builds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from portal.connections import connection_settings
from portal.employees.seats import BILLABLE_STATUSES
from portal.models import Connection, Employee, Organization, SyncDecision, SyncRun
from portal.sync.engine import REFUSED_STATES

# Runs whose held removals are looked for: a hold older than this many runs was settled long ago.
HELD_RUNS_CHECKED = 50
SOURCES = ("m365", "manual")
STATUSES = ("active", "paused", "excluded", "inactive")


@dataclass(frozen=True)
class Link:
    """Where a warning is fixed: an endpoint and its values (the page may not exist yet)."""

    text: str
    endpoint: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Warning:
    """Something that needs an admin, in words they can act on."""

    kind: str  # consent_needed | removals_waiting | conflicts | seat_limit | run_failed
    message: str
    link: Link | None = None
    more: Link | None = None  # a second place to look (the run that stopped)


@dataclass(frozen=True)
class Schedule:
    """When the connection syncs by itself, from its settings."""

    enabled: bool
    sync_time: str = ""
    timezone: str = ""

    @property
    def text(self) -> str:
        return f"Daily at {self.sync_time} ({self.timezone})" if self.enabled else "Automatic sync is off"


@dataclass(frozen=True)
class Overview:
    """Everything on the dashboard for one organisation."""

    connection: Connection | None
    schedule: Schedule | None
    last_run: SyncRun | None
    active_run: SyncRun | None
    counts: dict[str, dict[str, int]]  # source -> status -> employees
    seats_used: int
    seats: int | None
    warnings: list[Warning]

    @property
    def total_employees(self) -> int:
        return sum(sum(by_status.values()) for by_status in self.counts.values())

    def source_total(self, source: str) -> int:
        return sum(self.counts.get(source, {}).values())

    def status_total(self, status: str) -> int:
        return sum(by_status.get(status, 0) for by_status in self.counts.values())


def overview(session: Session, org: Organization) -> Overview:
    """The dashboard's facts for ``org``."""
    connection = latest_connection(session, org)
    counts = employee_counts(session, org)
    seats_used = sum(n for by_status in counts.values() for status, n in by_status.items()
                     if status in BILLABLE_STATUSES)
    runs = session.exec(
        select(SyncRun).where(SyncRun.organization_id == org.id, SyncRun.mode != "dry_run")
        .order_by(SyncRun.id.desc()).limit(5)
    ).all()
    active_run = next((run for run in runs if run.status in ("queued", "running")), None)
    last_run = next((run for run in runs if run.status not in ("queued", "running")), None)
    schedule = None
    if connection is not None and connection.state != "disconnected":
        settings = connection_settings(connection, org.timezone)
        schedule = Schedule(enabled=settings.auto_sync and connection.state == "active",
                            sync_time=settings.sync_time, timezone=settings.timezone)
    warnings = _warnings(session, org, connection, last_run, seats_used)
    return Overview(connection=connection, schedule=schedule, last_run=last_run, active_run=active_run,
                    counts=counts, seats_used=seats_used, seats=org.seats, warnings=warnings)


def latest_connection(session: Session, org: Organization) -> Connection | None:
    """The organisation's live connection, else its most recent disconnected one, else None."""
    rows = session.exec(
        select(Connection).where(Connection.organization_id == org.id)
        .order_by((Connection.state == "disconnected").asc(), Connection.id.desc()).limit(1)
    ).all()
    return rows[0] if rows else None


def employee_counts(session: Session, org: Organization) -> dict[str, dict[str, int]]:
    """Employees by source and status, every known source and status present (zeros included)."""
    counts = {source: dict.fromkeys(STATUSES, 0) for source in SOURCES}
    rows = session.exec(
        select(Employee.source, Employee.status, func.count())
        .where(Employee.organization_id == org.id).group_by(Employee.source, Employee.status)
    ).all()
    for source, status, n in rows:
        counts.setdefault(source, dict.fromkeys(STATUSES, 0))[status] = n
    return counts


def removals_waiting(session: Session, org: Organization) -> dict[int, int]:
    """Held removals not yet approved or discarded, by run id."""
    run_ids = session.exec(
        select(SyncRun.id).where(SyncRun.organization_id == org.id, SyncRun.mode != "dry_run")
        .order_by(SyncRun.id.desc()).limit(HELD_RUNS_CHECKED)
    ).all()
    if not run_ids:
        return {}
    rows = session.exec(
        select(SyncDecision.run_id, func.count())
        .where(SyncDecision.run_id.in_(run_ids), SyncDecision.kind == "removal_held",
               SyncDecision.resolution == "pending")
        .group_by(SyncDecision.run_id)
    ).all()
    return {run_id: n for run_id, n in rows}


def _warnings(session: Session, org: Organization, connection: Connection | None, last_run: SyncRun | None,
              seats_used: int) -> list[Warning]:
    warnings = []
    consent_run = _stopped_for_consent(connection, last_run)
    if consent_run is not None:
        warnings.append(Warning(
            "consent_needed",
            f"The sync stopped: Microsoft 365 no longer lets Sigsync read your directory (run {consent_run.id} "
            "failed; the consent was withdrawn or a permission removed). Employees already synced are kept. "
            "Nothing syncs, by hand or on schedule, until a Microsoft 365 administrator reconnects and grants "
            "Sigsync's permissions again.",
            Link("Reconnect Microsoft 365", "connect.index"),
            Link(f"See run {consent_run.id}", "sync.run", {"run_id": consent_run.id})))
    elif connection is not None and connection.state == "needs_consent":
        warnings.append(Warning(
            "consent_needed",
            "Microsoft 365 needs you to sign in again: the sync cannot read your directory until you do.",
            Link("Reconnect Microsoft 365", "connect.index")))
    for run_id, n in sorted(removals_waiting(session, org).items(), reverse=True):
        warnings.append(Warning(
            "removals_waiting",
            f"{_people(n)} would be removed by run {run_id}. They wait for your approval.",
            Link("Review the removals", "sync.run", {"run_id": run_id})))
    if last_run is not None and last_run.status == "failed" and consent_run is None:
        warnings.append(Warning(
            "run_failed", f"The last sync failed: {last_run.error or 'no reason was recorded.'}",
            Link("See the run", "sync.run", {"run_id": last_run.id})))
    conflicts = int((last_run.counts or {}).get("conflict", 0)) if last_run is not None else 0
    if conflicts:
        warnings.append(Warning(
            "conflicts",
            f"The last sync found {_people(conflicts, 'user')} whose e-mail address belongs to another employee; "
            "they were not imported.",
            Link("See the conflicts", "sync.run", {"run_id": last_run.id, "kind": "conflict"})))
    if org.seats is not None and seats_used >= org.seats:
        warnings.append(Warning(
            "seat_limit",
            f"All {org.seats:,} seats are in use: new employees cannot be added or imported. "
            "Exclude employees who need no signature, or raise the seat limit.",
            Link("Review employees", "employees.index")))
    return warnings


def _stopped_for_consent(connection: Connection | None, last_run: SyncRun | None) -> SyncRun | None:
    """The last run, when it failed because Microsoft 365 refused the connection's consent (the engine then
    set the connection to needs_consent with the same words), or was refused because of it."""
    if connection is None or connection.state != "needs_consent" or last_run is None or last_run.status != "failed":
        return None
    if last_run.error and last_run.error in (connection.last_error, REFUSED_STATES["needs_consent"]):
        return last_run
    return None


def _people(n: int, noun: str = "employee") -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")
