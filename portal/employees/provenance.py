"""Where each of an employee's values came from, giving one back to Microsoft 365, and the employee's history.

A field F of an employee has its current value c, the value the sync last wrote s (``synced_values``,
absent when the sync never wrote F) and what Microsoft 365 says now, m: F mapped from the user's last
Graph record (``m365_snapshot``) under the connection's mapping, else s. The sync treats F as typed by
hand exactly when c != s, or, with no s, when c != "" (``portal.sync.plan``); this module uses the
same rule, so the page says what the next sync will do.

=====================================  ===========================================  ================
s                                      c and m                                      origin
=====================================  ===========================================  ================
any                                    c == "" and not typed by hand                no value
present                                c == s                                       Microsoft 365
present or absent                      typed by hand, m known, m != "" and m != c   typed, kept over
                                                                                    Microsoft 365
present or absent                      typed by hand otherwise                      typed in Sigsync
=====================================  ===========================================  ================

"Kept over Microsoft 365" means Microsoft 365 has another value the sync does not write because
of the hand-typed one (``overwrite_manual`` off), or will overwrite at the next sync (on).

**Giving a field back** (``give_back``) makes it Microsoft 365's again at once: the value becomes m
(an empty m clears it) and s becomes m, so c == s and the sync writes whatever Microsoft 365 says
from the next run on. It is offered only for a linked employee (``m365_id``) whose field is typed
by hand and whose Microsoft 365 value is known; never for the e-mail address, which always follows
Microsoft 365 anyway. ``updated_at`` moves, so a run reading the employee meanwhile plans it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from portal.employees.fields import CUSTOM_PREFIX, EMPLOYEE_FIELDS
from portal.errors import InvalidTransition, InvalidValue
from portal.models import Connection, Employee, Organization, SyncDecision, SyncRun, utcnow
from portal.sync.config import ConfigInvalid, parse_config
from portal.sync.mapping import Mapper
from portal.sync.paths import top_level

FIELD_LABELS: dict[str, str] = {
    "first_name": "First name",
    "last_name": "Last name",
    "display_name": "Display name",
    "email": "E-mail",
    "job_title": "Job title",
    "department": "Department",
    "company": "Company",
    "office": "Office",
    "phone": "Phone",
    "mobile": "Mobile",
    "fax": "Fax",
    "street": "Street",
    "postal_code": "Postal code",
    "city": "City",
    "state": "State or province",
    "country": "Country",
    "employee_number": "Employee number",
    "manager_name": "Manager's name",
    "manager_email": "Manager's e-mail",
}
DECISIONS_PAGE = 20
DECISIONS_MAX = 200


class Origin(StrEnum):
    """Where a field's value came from."""

    MICROSOFT_365 = "m365"
    TYPED = "typed"
    TYPED_KEPT = "typed_kept"
    EMPTY = "empty"

    @property
    def label(self) -> str:
        return _ORIGIN_LABELS[self]


_ORIGIN_LABELS = {
    Origin.MICROSOFT_365: "Microsoft 365",
    Origin.TYPED: "Typed in Sigsync",
    Origin.TYPED_KEPT: "Typed, kept over Microsoft 365",
    Origin.EMPTY: "No value",
}


@dataclass(frozen=True)
class FieldOrigin:
    """One field of an employee as the employee page shows it."""

    name: str  # "job_title", or "custom.<key>"
    value: str
    origin: Origin
    m365_value: str | None  # what Microsoft 365 says, when known
    can_give_back: bool

    @property
    def label(self) -> str:
        return field_label(self.name)

    @property
    def typed(self) -> bool:
        return self.origin in (Origin.TYPED, Origin.TYPED_KEPT)


def field_label(name: str) -> str:
    """A field's name as an admin reads it: "Job title", "Custom: cost_centre"."""
    if name.startswith(CUSTOM_PREFIX):
        return f"Custom: {name.removeprefix(CUSTOM_PREFIX)}"
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize())


def origin_of(value: str, synced: str | None, m365: str | None) -> Origin:
    """The module's table for one field: current, last synced (None: never), Microsoft 365's value (None: unknown)."""
    typed = value != synced if synced is not None else value != ""
    if not typed:
        return Origin.MICROSOFT_365 if value else Origin.EMPTY
    if m365 and m365 != value:
        return Origin.TYPED_KEPT
    return Origin.TYPED


def field_origins(employee: Employee, mapping: Mapping[str, str] | None = None) -> list[FieldOrigin]:
    """Every field of the employee (standard ones, then custom ones by key) and where its value came from.

    ``mapping`` is the connection's field mapping (``connection_mapping``); without one, Microsoft 365's
    value is the one the sync last wrote.
    """
    synced: Mapping[str, str] = employee.synced_values or {}
    m365 = microsoft_values(employee, mapping)
    custom = employee.custom or {}
    custom_names = sorted({CUSTOM_PREFIX + key for key in custom}
                          | {name for name in (*synced, *m365) if name.startswith(CUSTOM_PREFIX)})
    linked = employee.m365_id is not None
    rows = []
    for name in (*EMPLOYEE_FIELDS, *custom_names):
        value = _current(employee, name)
        origin = origin_of(value, synced.get(name), m365.get(name))
        known = m365.get(name)
        rows.append(FieldOrigin(
            name=name, value=value, origin=origin, m365_value=known,
            can_give_back=linked and name != "email" and known is not None
            and origin in (Origin.TYPED, Origin.TYPED_KEPT),
        ))
    return rows


def microsoft_values(employee: Employee, mapping: Mapping[str, str] | None) -> dict[str, str]:
    """What Microsoft 365 says for each field it fills: mapped from the last Graph record where that
    record has the attribute, else the value the sync last wrote."""
    values = {name: value for name, value in (employee.synced_values or {}).items()
              if name in FIELD_LABELS or name.startswith(CUSTOM_PREFIX)}
    snapshot = employee.m365_snapshot or {}
    if mapping and snapshot:
        readable = {name: path for name, path in mapping.items()
                    if name not in ("email", "photo") and top_level(path) in snapshot}
        mapped = Mapper(readable).values(snapshot)
        mapped.pop("email", None)  # the Mapper always adds it; the address's value is the synced one
        values.update(mapped)
    return values


def connection_mapping(session: Session, org: Organization) -> dict[str, str] | None:
    """The field mapping of the organisation's connection (the newest one if none is live), or None."""
    rows = session.connection().execute(
        select(Connection.mapping, Connection.state).where(Connection.organization_id == org.id)
        .order_by(Connection.id.desc())
    ).all()
    if not rows:
        return None
    live = [row for row in rows if row.state != "disconnected"]
    mapping = (live or rows)[0].mapping
    try:
        return parse_config({"mapping": mapping or {}}).mapping
    except ConfigInvalid:  # a mapping stored before a rule changed: show synced values only
        return None


def give_back(session: Session, org: Organization, employee: Employee, name: str,
              mapping: Mapping[str, str] | None = None) -> FieldOrigin:
    """Hand one typed field back to Microsoft 365: its value becomes Microsoft 365's now (see module docstring)."""
    if employee.organization_id != org.id:
        raise InvalidValue("That employee belongs to another organisation.")
    by_name = {row.name: row for row in field_origins(employee, mapping)}
    row = by_name.get(name)
    if row is None:
        raise InvalidValue(f"{employee.email} has no field {name!r}.")
    label = row.label
    if employee.m365_id is None:
        raise InvalidTransition(f"{employee.email} is not synced from Microsoft 365: its {label} stays as typed.")
    if name == "email":
        raise InvalidTransition("The e-mail address always follows Microsoft 365; there is nothing to give back.")
    if not row.typed:
        raise InvalidTransition(f"{label} of {employee.email} already comes from Microsoft 365.")
    if row.m365_value is None:
        raise InvalidTransition(
            f"Microsoft 365 does not fill {label}: map it to an attribute under Settings first.")
    value = row.m365_value
    if name.startswith(CUSTOM_PREFIX):
        custom = dict(employee.custom or {})  # a new dict: SQLAlchemy does not see changes inside JSON
        key = name.removeprefix(CUSTOM_PREFIX)
        if value:
            custom[key] = value
        else:
            custom.pop(key, None)
        employee.custom = custom
    else:
        setattr(employee, name, value)
    employee.synced_values = {**(employee.synced_values or {}), name: value}
    employee.updated_at = utcnow()
    session.add(employee)
    session.flush()
    return FieldOrigin(name=name, value=value, origin=origin_of(value, value, value), m365_value=value,
                       can_give_back=False)


def _current(employee: Employee, name: str) -> str:
    if name.startswith(CUSTOM_PREFIX):
        return str((employee.custom or {}).get(name.removeprefix(CUSTOM_PREFIX), ""))
    return getattr(employee, name) or ""


# -- the employee's history ------------------------------------------------------------------------


@dataclass(frozen=True)
class PastDecision:
    """One decision a run made about the employee, with when and how that run went."""

    id: int
    run_id: int
    run_mode: str
    run_started: datetime | None
    kind: str
    reason: str
    details: dict[str, Any]
    resolution: str


@dataclass(frozen=True)
class DecisionHistory:
    """The employee's decisions newest first; ``older`` is the ``before_id`` of the next page (None: no more)."""

    decisions: list[PastDecision]
    older: int | None


def employee_decisions(session: Session, org: Organization, employee_id: int, before_id: int | None = None,
                       limit: int = DECISIONS_PAGE) -> DecisionHistory:
    """What past runs decided about one employee, newest first, ``limit`` at a time (keyset on the decision id)."""
    limit = max(1, min(limit, DECISIONS_MAX))
    query = (
        select(SyncDecision.id, SyncDecision.run_id, SyncDecision.kind, SyncDecision.reason, SyncDecision.details,
               SyncDecision.resolution, SyncRun.mode, SyncRun.started_at, SyncRun.created_at)
        .join(SyncRun, SyncRun.id == SyncDecision.run_id)
        .where(SyncDecision.employee_id == employee_id, SyncRun.organization_id == org.id)
    )
    if before_id is not None:
        query = query.where(SyncDecision.id < before_id)
    rows = session.connection().execute(query.order_by(SyncDecision.id.desc()).limit(limit + 1)).all()
    page = [PastDecision(id=r.id, run_id=r.run_id, run_mode=r.mode, run_started=r.started_at or r.created_at,
                         kind=r.kind, reason=r.reason, details=dict(r.details or {}), resolution=r.resolution)
            for r in rows[:limit]]
    return DecisionHistory(page, page[-1].id if len(rows) > limit else None)


__all__ = [
    "DECISIONS_PAGE", "FIELD_LABELS", "DecisionHistory", "FieldOrigin", "Origin", "PastDecision",
    "connection_mapping", "employee_decisions", "field_label", "field_origins", "give_back",
    "microsoft_values", "origin_of",
]
