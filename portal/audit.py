"""The audit log: who did what to an organisation, and when.

Services call ``record`` in the same transaction as the change they make, so an event is
kept exactly when its change is. ``actor`` is the admin's e-mail address, or ``COMMAND_LINE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlmodel import Session, select

from portal.models import AuditEvent, Organization

COMMAND_LINE = "command line"
PAGE_SIZE = 50
PAGE_MAX = 200


class Action(StrEnum):
    """Everything the audit log records."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    SETTINGS_CHANGED = "settings_changed"
    MAPPING_CHANGED = "mapping_changed"
    RULES_CHANGED = "rules_changed"
    EMPLOYEE_PAUSED = "employee_paused"
    EMPLOYEE_RESUMED = "employee_resumed"
    EMPLOYEE_EXCLUDED = "employee_excluded"
    EMPLOYEE_INCLUDED = "employee_included"
    EMPLOYEE_CREATED = "employee_created"
    EMPLOYEE_EDITED = "employee_edited"
    SYNC_PAUSED = "sync_paused"
    SYNC_RESUMED = "sync_resumed"
    SYNC_STARTED = "sync_started"
    REMOVALS_APPROVED = "removals_approved"
    REMOVALS_DISCARDED = "removals_discarded"
    DEPARTMENT_CREATED = "department_created"
    DEPARTMENT_RENAMED = "department_renamed"
    DEPARTMENT_DELETED = "department_deleted"
    SIGNATURE_CREATED = "signature_created"
    SIGNATURE_EDITED = "signature_edited"
    SIGNATURE_DUPLICATED = "signature_duplicated"
    SIGNATURE_DELETED = "signature_deleted"
    SIGNATURE_ASSIGNED = "signature_assigned"  # the default's, a department's or an employee's own
    SIGNATURE_ORDER_CHANGED = "signature_order_changed"  # the department order that decides between them
    ORGANIZATION_CREATED = "organization_created"
    ADMIN_CREATED = "admin_created"
    ADMIN_REMOVED = "admin_removed"
    PASSWORD_CHANGED = "password_changed"
    SIGNED_IN = "signed_in"
    SIGNED_OUT = "signed_out"

    @property
    def label(self) -> str:
        """The action in a few words, as the audit page shows it."""
        return self.value.replace("_", " ").capitalize()


def record(session: Session, organization_id: int, actor: str, action: Action | str, summary: str,
           details: dict[str, Any] | None = None) -> AuditEvent:
    """Add one event to the organisation's log (committed with the caller's transaction)."""
    event = AuditEvent(organization_id=organization_id, actor=actor[:320], action=str(Action(action)),
                       summary=summary, details=dict(details or {}))
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class EventPage:
    """One page of the log, newest first; ``older`` is the ``before_id`` of the next page, or None."""

    events: list[AuditEvent]
    older: int | None


def list_events(session: Session, org: Organization, before_id: int | None = None,
                limit: int = PAGE_SIZE, skip: tuple[Action, ...] = ()) -> EventPage:
    """The organisation's events newest first, those older than ``before_id`` when given; ``skip``
    leaves out some actions (the dashboard's recent activity shows changes, not sign-ins)."""
    limit = max(1, min(limit, PAGE_MAX))
    query = select(AuditEvent).where(AuditEvent.organization_id == org.id)
    if skip:
        query = query.where(AuditEvent.action.not_in([str(action) for action in skip]))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    rows = list(session.exec(query.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    older = rows[limit - 1].id if len(rows) > limit else None
    return EventPage(events=rows[:limit], older=older)
