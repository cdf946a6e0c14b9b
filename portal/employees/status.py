"""Sync status: pause, resume, exclude or include an employee, with only the transitions that make sense."""

from __future__ import annotations

from sqlmodel import Session

from portal.employees.records import get_employee
from portal.employees.seats import BILLABLE_STATUSES, ensure_seat_available
from portal.errors import InvalidTransition, InvalidValue
from portal.models import Employee, Organization, utcnow

STATUSES: tuple[str, ...] = ("active", "paused", "excluded", "inactive")

# action -> (statuses it may start from, status it leads to).
# Inactive (gone from Microsoft 365) may be excluded but not paused: there is nothing left to hold.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "pause": (frozenset({"active"}), "paused"),
    "resume": (frozenset({"paused"}), "active"),
    "exclude": (frozenset({"active", "paused", "inactive"}), "excluded"),
    "include": (frozenset({"excluded"}), "active"),
}
SYNC_ACTIONS: tuple[str, ...] = tuple(TRANSITIONS)

_HINTS = {
    ("resume", "excluded"): " Use include to bring an excluded employee back.",
    ("pause", "excluded"): " Include it first.",
    ("include", "paused"): " Use resume to end a pause.",
}


def set_sync_status(session: Session, organization: Organization, email: str, action: str) -> Employee:
    """Apply a sync action (pause, resume, exclude, include) to one employee."""
    check_action(action)
    employee = get_employee(session, organization, email)
    target = target_status(employee, action)
    if employee.status not in BILLABLE_STATUSES and target in BILLABLE_STATUSES:
        ensure_seat_available(session, organization)
    employee.status = target
    employee.updated_at = utcnow()
    session.add(employee)
    session.flush()
    return employee


def check_action(action: str) -> None:
    """Raise InvalidValue unless ``action`` is one of SYNC_ACTIONS."""
    if action not in TRANSITIONS:
        raise InvalidValue(f"Unknown action {action!r}; use one of {', '.join(SYNC_ACTIONS)}.")


def target_status(employee: Employee, action: str) -> str:
    """The status ``action`` leads the employee to, or InvalidTransition saying why it cannot."""
    allowed_from, target = TRANSITIONS[action]
    if employee.status == target:
        raise InvalidTransition(f"{employee.email} is already {target}.")
    if employee.status not in allowed_from:
        raise InvalidTransition(
            f"Cannot {action} {employee.email}: it is {employee.status}, not {' or '.join(sorted(allowed_from))}."
            + _HINTS.get((action, employee.status), "")
        )
    return target
