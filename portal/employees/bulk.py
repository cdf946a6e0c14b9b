"""Pause, resume, exclude or include several employees at once (or one), each judged on its own.

An employee the action does not fit (already paused, excluded when asked to resume, …) is refused
with a reason in the admin's words while the others change; nothing is all-or-nothing. The transitions
are ``portal.employees.status``'s; including takes a seat, counted once for the whole selection.
Every call that changes someone records one audit event naming who changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.orm import load_only
from sqlmodel import Session, select

from portal import audit
from portal.employees.search import EmployeeRow, department_names
from portal.employees.seats import BILLABLE_STATUSES, count_billable
from portal.employees.status import TRANSITIONS, check_action, target_status
from portal.errors import InvalidTransition, InvalidValue
from portal.models import Employee, Organization, utcnow

MAX_SELECTION = 500

AUDIT_ACTIONS = {
    "pause": audit.Action.EMPLOYEE_PAUSED,
    "resume": audit.Action.EMPLOYEE_RESUMED,
    "exclude": audit.Action.EMPLOYEE_EXCLUDED,
    "include": audit.Action.EMPLOYEE_INCLUDED,
}
# What the buttons say, and what happened, in the admin's words.
BUTTONS = {"pause": "Pause sync", "resume": "Resume sync", "exclude": "Exclude from sync", "include": "Include in sync"}
DONE = {"pause": "Paused sync for", "resume": "Resumed sync for", "exclude": "Excluded from sync",
        "include": "Included in sync"}
_ALREADY = {"pause": "sync is already paused", "resume": "sync is not paused",
            "exclude": "already excluded from sync", "include": "not excluded from sync"}
_WHY_NOT = {
    ("pause", "excluded"): "excluded from sync; include it first",
    ("pause", "inactive"): "gone from Microsoft 365, so there is no sync to pause; exclude it instead",
    ("resume", "excluded"): "excluded from sync; use Include in sync instead",
    ("include", "paused"): "paused, not excluded; use Resume sync instead",
}
NO_SEAT = "no seat is left; raise the seat limit or exclude someone else first"


@dataclass(frozen=True)
class Refusal:
    """An employee the action did not fit, and why."""

    employee_id: int
    email: str
    reason: str


@dataclass
class BulkResult:
    """What one action did to a selection."""

    action: str
    changed: list[Employee] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    missing: int = 0  # ids that are not (or no longer) employees of the organisation

    @property
    def message(self) -> str:
        """The result in one or two sentences, for the status region."""
        parts = []
        if self.changed:
            parts.append(f"{DONE[self.action]} {_people(self.changed)}.")
        if self.refused:
            parts.append(f"{_count(len(self.refused))} not changed.")
        if self.missing:
            parts.append(f"{_count(self.missing)} no longer found (removed meanwhile?).")
        return " ".join(parts) or "No employees were selected."


def apply_action(session: Session, org: Organization, employee_ids: Iterable[int], action: str,
                 actor: str) -> BulkResult:
    """Apply a sync action to each of the organisation's employees in ``employee_ids``; see the module docstring."""
    check_action(action)
    ids = list(dict.fromkeys(employee_ids))
    if len(ids) > MAX_SELECTION:
        raise InvalidValue(f"Select at most {MAX_SELECTION} employees at a time (you selected {len(ids)}).")
    result = BulkResult(action)
    if not ids:
        return result
    employees = {e.id: e for e in session.exec(
        select(Employee).where(Employee.organization_id == org.id, Employee.id.in_(ids))
        .options(load_only(Employee.id, Employee.email, Employee.status, Employee.updated_at))
    )}
    result.missing = len(ids) - len(employees)
    seats_left = _seats_left(session, org) if TRANSITIONS[action][1] in BILLABLE_STATUSES else None
    now = utcnow()
    for employee_id in ids:
        employee = employees.get(employee_id)
        if employee is None:
            continue
        try:
            target = target_status(employee, action)
        except InvalidTransition:
            result.refused.append(Refusal(employee.id, employee.email, _why_not(employee.status, action)))
            continue
        if seats_left is not None and employee.status not in BILLABLE_STATUSES:
            if seats_left <= 0:
                result.refused.append(Refusal(employee.id, employee.email, NO_SEAT))
                continue
            seats_left -= 1
        employee.status = target
        employee.updated_at = now
        session.add(employee)
        result.changed.append(employee)
    session.flush()
    if result.changed:
        emails = [e.email for e in result.changed]
        audit.record(session, org.id, actor, AUDIT_ACTIONS[action], f"{DONE[action]} {_people(result.changed)}.",
                     {"employees": emails, "refused": {r.email: r.reason for r in result.refused}})
    return result


def list_rows(session: Session, org: Organization, employee_ids: Iterable[int]) -> list[EmployeeRow]:
    """The employees' lines as the list shows them, read again after an action (two queries)."""
    ids = list(dict.fromkeys(employee_ids))[:MAX_SELECTION]
    if not ids:
        return []
    table = Employee.__table__
    rows = session.connection().execute(
        select(table.c.id, table.c.email, table.c.display_name, table.c.first_name, table.c.last_name,
               table.c.job_title, table.c.source, table.c.status, table.c.updated_at)
        .where(table.c.organization_id == org.id, table.c.id.in_(ids))
    ).all()
    departments = department_names(session, [r.id for r in rows])
    by_id = {r.id: EmployeeRow(r.id, r.email, r.display_name, r.first_name, r.last_name, r.job_title, r.source,
                               r.status, r.updated_at, departments.get(r.id, [])) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def _seats_left(session: Session, org: Organization) -> int | None:
    """Free seats, with the organisation row locked (PostgreSQL) so two selections cannot both take the last one."""
    if org.seats is None:
        return None
    session.exec(select(Organization.id).where(Organization.id == org.id).with_for_update()).one()
    return org.seats - count_billable(session, org)


def _why_not(status: str, action: str) -> str:
    if status == TRANSITIONS[action][1] or (action, status) not in _WHY_NOT:
        return _ALREADY[action]
    return _WHY_NOT[(action, status)]


def _people(employees: list[Employee], shown: int = 3) -> str:
    if len(employees) == 1:
        return employees[0].email
    names = ", ".join(e.email for e in employees[:shown])
    more = f" and {len(employees) - shown:,} more" if len(employees) > shown else ""
    return f"{len(employees):,} employees ({names}{more})"


def _count(n: int) -> str:
    return "1 employee" if n == 1 else f"{n:,} employees"


__all__ = ["BUTTONS", "MAX_SELECTION", "BulkResult", "Refusal", "apply_action", "list_rows"]
