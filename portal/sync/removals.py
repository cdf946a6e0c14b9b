"""Employees whose Microsoft 365 user is gone: deleted, or out of the import scope.

A run applies removals only below the connection's threshold; above it they are
held, listed as "removal_held" decisions, until an admin approves or discards them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Connection as DBConnection

from portal.employees.deletion import delete_employees
from portal.errors import SigsyncError
from portal.models import Employee, SyncDecision, SyncRun, utcnow
from portal.sync import dryrun, lock
from portal.sync.writer import Decision, insert_decisions

# Employees the sync may remove: linked, and neither paused nor excluded nor already inactive.
REMOVABLE_STATUSES = ("active",)
CHUNK = 1000  # ids per statement


@dataclass(frozen=True)
class Removal:
    """One employee to remove, and why ("deleted in Microsoft 365", "left the import scope: …")."""

    employee_id: int
    m365_id: str
    email: str
    reason: str


def linked_count(conn: DBConnection, organization_id: int) -> int:
    """Employees a removal can affect: linked and active (the threshold's 100 %).

    Past leavers (inactive), paused and excluded employees are never removed, so they must not make
    the percentage look small: with many of them it let almost every active employee go unasked.
    """
    return conn.execute(
        select(func.count()).select_from(Employee).where(
            Employee.organization_id == organization_id, Employee.m365_id.is_not(None),
            Employee.status.in_(REMOVABLE_STATUSES))
    ).scalar_one()


def unseen_in_full_run(conn: DBConnection, organization_id: int, run_id: int, *, dry_run: bool = False):
    """Linked employees a full run did not find in scope (a dry run's marks replace the column)."""
    stmt = select(Employee.id, Employee.m365_id, Employee.email).where(
        Employee.organization_id == organization_id,
        Employee.m365_id.is_not(None),
        Employee.status.in_(REMOVABLE_STATUSES),
        # The database filters: a run reads only the few it did not see.
        dryrun.not_seen(run_id) if dry_run else or_(Employee.seen_in_run.is_(None), Employee.seen_in_run != run_id),
    )
    for emp_id, m365_id, email in conn.execute(stmt):
        yield Removal(emp_id, m365_id, email, "not found in Microsoft 365 or outside the import rules")


def apply(conn: DBConnection, removals: list[Removal], action: str, *, dry_run: bool = False) -> list[Decision]:
    """Carry out ``action`` (delete | deactivate | keep) and return the decisions to record.

    ``dry_run``: the same decisions, nothing written.
    """
    decisions: list[Decision] = []
    for start in range(0, len(removals), CHUNK):  # an approved mass removal must not overflow one IN list
        decisions += _apply_chunk(conn, removals[start:start + CHUNK], action, dry_run)
    return decisions


def _apply_chunk(conn: DBConnection, removals: list[Removal], action: str, dry_run: bool) -> list[Decision]:
    ids = [r.employee_id for r in removals]
    created_by_sync = {
        emp_id: by_sync
        for emp_id, by_sync in conn.execute(select(Employee.id, Employee.created_by_sync).where(Employee.id.in_(ids)))
    }
    # Deleting an employee that an admin made by hand would lose typed data: such employees are
    # deactivated instead, even when the setting says "delete".
    to_delete = [r for r in removals if action == "delete" and created_by_sync.get(r.employee_id)]
    deleted = {r.employee_id for r in to_delete}
    to_deactivate = [r for r in removals if r.employee_id not in deleted and action in ("delete", "deactivate")]
    to_unlink = [r for r in removals if action == "keep"]
    decisions: list[Decision] = []
    if dry_run:
        return [Decision("deleted", r.m365_id, r.email, r.reason, employee_id=r.employee_id) for r in to_delete] + [
            Decision("deactivated", r.m365_id, r.email, _deactivated_reason(r, action), employee_id=r.employee_id)
            for r in to_deactivate] + [
            Decision("unlinked", r.m365_id, r.email, r.reason + "; kept as a manual employee",
                     employee_id=r.employee_id) for r in to_unlink]
    if to_delete:
        del_ids = [r.employee_id for r in to_delete]
        delete_employees(conn, del_ids)
        decisions += [Decision("deleted", r.m365_id, r.email, r.reason) for r in to_delete]
    if to_deactivate:
        conn.execute(
            update(Employee)
            .where(Employee.id.in_([r.employee_id for r in to_deactivate]))
            .values(status="inactive", synced_at=utcnow())
        )
        decisions += [
            Decision("deactivated", r.m365_id, r.email, _deactivated_reason(r, action), employee_id=r.employee_id)
            for r in to_deactivate
        ]
    if to_unlink:
        conn.execute(
            update(Employee)
            .where(Employee.id.in_([r.employee_id for r in to_unlink]))
            .values(m365_id=None, source="manual", manager_m365_id=None, synced_at=utcnow())
        )
        decisions += [
            Decision("unlinked", r.m365_id, r.email, r.reason + "; kept as a manual employee",
                     employee_id=r.employee_id)
            for r in to_unlink
        ]
    return decisions


def _deactivated_reason(removal: Removal, action: str) -> str:
    if action == "deactivate":
        return removal.reason
    return removal.reason + "; created by hand before the sync, so deactivated instead of deleted"


def hold(removals: list[Removal], action: str, why: str, *, dry_run: bool = False) -> list[Decision]:
    """Decisions that park removals until an admin approves or discards them (a dry run's wait for nothing)."""
    return [
        Decision("removal_held", r.m365_id, r.email, f"{r.reason}; {why}", {"action": action},
                 employee_id=r.employee_id, resolution="" if dry_run else "pending")
        for r in removals
    ]


class NothingToResolve(SigsyncError, LookupError):
    """The run has no pending held removals."""


def resolve_held(conn: DBConnection, run: SyncRun, approve: bool, action: str) -> list[Decision]:
    """Approve (apply now) or discard a run's held removals; returns what approval applied."""
    lock.ensure_idle_in(conn, run.connection_id)  # not while a run is changing these employees
    if run.mode == "dry_run":
        raise NothingToResolve(f"Run {run.id} was a dry run: it only shows what a sync would do. "
                               "Run a real sync to hold removals for approval.")
    held = conn.execute(
        select(SyncDecision.id, SyncDecision.employee_id, SyncDecision.m365_id, SyncDecision.email,
               SyncDecision.reason, SyncDecision.details)
        .where(SyncDecision.run_id == run.id, SyncDecision.kind == "removal_held",
               SyncDecision.resolution == "pending")
    ).all()
    if not held:
        raise NothingToResolve(f"Run {run.id} has no removals waiting for approval.")
    conn.execute(
        update(SyncDecision)
        .where(SyncDecision.run_id == run.id, SyncDecision.kind == "removal_held",
               SyncDecision.resolution == "pending")
        .values(resolution="approved" if approve else "discarded")
    )
    if not approve:
        return []
    # Only employees still linked to the same user and still removable: things may have moved on.
    employee_ids = [h.employee_id for h in held]
    still: set[tuple[int, str]] = set()
    for start in range(0, len(employee_ids), CHUNK):
        still.update(
            (emp_id, m365_id)
            for emp_id, m365_id in conn.execute(
                select(Employee.id, Employee.m365_id).where(
                    Employee.id.in_(employee_ids[start:start + CHUNK]), Employee.status.in_(REMOVABLE_STATUSES),
                    # A later run that found the user again has the last word: it came back.
                    or_(Employee.seen_in_run.is_(None), Employee.seen_in_run <= run.id)
                )
            )
        )
    removals = [Removal(h.employee_id, h.m365_id, h.email, h.reason.split("; ")[0])
                for h in held if (h.employee_id, h.m365_id) in still]
    decisions = apply(conn, removals, (held[0].details or {}).get("action", action))
    insert_decisions(conn, run.id, decisions)
    return decisions
