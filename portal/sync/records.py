"""Employee rows as the sync sees them: loaded a chunk at a time, turned into plan input and back.

The engine asks ``load_existing`` for the employees a chunk of users may touch (two
indexed queries), hands ``employee_state`` to the pure plan, and writes what it decided
with ``to_columns``; ``graph_snapshot`` is what it keeps of a Graph user for later runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection as DBConnection

from portal.employees.fields import EMPLOYEE_FIELDS, department_key
from portal.models import Department, Employee, EmployeeDepartment
from portal.sync.photos import photo_hash
from portal.sync.plan import EmployeeState

EMPLOYEE_COLUMNS = frozenset(EMPLOYEE_FIELDS)

@dataclass(frozen=True)
class Known:
    state: EmployeeState
    snapshot: dict
    manual_departments: frozenset[str] = frozenset()  # case-folded names an admin assigned by hand
    seen_in_run: int | None = None  # the last run that planned this employee
    updated_at: datetime | None = None  # the row's version: an admin's edit changes it, the sync's do not
    manager_m365_id: str | None = None  # the manager Graph last named (kept while Graph hides a deleted one)

    @property
    def last_user(self) -> str | None:
        """The Microsoft 365 user this employee was last synced from (also once unlinked)."""
        return self.state.m365_id or self.snapshot.get("id")


@dataclass
class Existing:
    by_m365: dict[str, Known]
    by_email: dict[str, Known]


def load_existing(conn: DBConnection, org_id: int, ids: list[str], emails: list[str], *,
              with_photo: bool = False) -> Existing:
    """The employees a chunk of users may touch: by user id, then by address (two indexed queries)."""
    table = Employee.__table__
    # The photo only when photos are synced: it can be large.
    columns = [c for c in table.c if c.name != "photo" or with_photo]
    # Two queries, not one with OR: SQLite would scan the table for an OR of two IN lists.
    rows = conn.execute(select(*columns).where(table.c.organization_id == org_id, table.c.m365_id.in_(ids))).all()
    found = {r.email for r in rows}
    wanted = [e for e in emails if e not in found]
    if wanted:
        rows += conn.execute(
            select(*columns).where(table.c.organization_id == org_id, table.c.email.in_(wanted))
        ).all()
    emp_ids = [e.id for e in rows]
    sync_depts: dict[int, set[str]] = {}
    manual_depts: dict[int, set[str]] = {}
    if emp_ids:
        for emp_id, name, source in conn.execute(
            select(EmployeeDepartment.employee_id, Department.name, EmployeeDepartment.source)
            .join(Department, Department.id == EmployeeDepartment.department_id)
            .where(EmployeeDepartment.employee_id.in_(emp_ids))
        ):
            if source == "sync":
                sync_depts.setdefault(emp_id, set()).add(name)
            else:
                manual_depts.setdefault(emp_id, set()).add(department_key(name))
    by_m365: dict[str, Known] = {}
    by_email: dict[str, Known] = {}
    for e in rows:
        known = Known(employee_state(e, frozenset(sync_depts.get(e.id, ()))), dict(e.m365_snapshot or {}),
                       frozenset(manual_depts.get(e.id, ())), e.seen_in_run, e.updated_at, e.manager_m365_id)
        if e.m365_id:
            by_m365[e.m365_id] = known
        by_email[e.email] = known
    return Existing(by_m365, by_email)


def stored_users(conn: DBConnection, org_id: int, emails: dict[str, str | None]) -> set[str]:
    """Which users (id -> primary address) have an employee, by user id or by address: ids only, no rows."""
    table = Employee.__table__
    ids = sorted(emails)
    found = set(conn.execute(select(table.c.m365_id).where(table.c.organization_id == org_id,
                                                           table.c.m365_id.in_(ids))).scalars())
    wanted = sorted({e for uid, e in emails.items() if e and uid not in found})
    if wanted:
        taken = set(conn.execute(select(table.c.email).where(table.c.organization_id == org_id,
                                                             table.c.email.in_(wanted))).scalars())
        found |= {uid for uid, e in emails.items() if e in taken}
    return found


def employee_state(row: Any, sync_departments: frozenset[str]) -> EmployeeState:
    values = {f: getattr(row, f) or "" for f in EMPLOYEE_FIELDS}
    values.update({f"custom.{k}": str(v) for k, v in (row.custom or {}).items()})
    if "photo" in row._fields:
        values["photo"] = photo_hash(row.photo)
    return EmployeeState(
        id=row.id, email=row.email, values=values, synced_values=dict(row.synced_values or {}),
        status=row.status, source=row.source, m365_id=row.m365_id, departments_from_sync=sync_departments,
    )


def to_columns(values: dict[str, str], current: dict[str, str] | None = None) -> dict[str, Any]:
    """Field values → Employee columns; ``custom.<key>`` fields go into the ``custom`` JSON column."""
    columns: dict[str, Any] = {}
    custom: dict[str, str] | None = None
    for name, value in values.items():
        if name.startswith("custom."):
            if custom is None:
                custom = {k[7:]: v for k, v in (current or {}).items() if k.startswith("custom.")}
            custom[name[7:]] = value
        elif name in EMPLOYEE_COLUMNS:
            columns[name] = value
    if custom is not None:
        columns["custom"] = {k: v for k, v in custom.items() if v != ""}
    return columns


def graph_snapshot(user: dict) -> dict:
    """The Graph attributes worth keeping to complete a later partial delta record."""
    return {k: v for k, v in user.items() if not k.startswith("@") and "@" not in k or k == "manager@delta"}


def manager_link(user: dict, known: Known | None) -> str | None:
    """The manager to store for ``user``: the one Graph names, else the one stored before.

    Graph hides a deleted manager from its reports and shows it again once the manager is restored, and
    neither shows up in the reports' delta: the kept link is how a delta run finds them again. An employee
    unlinked and linked again to the same user finds it in that user's stored data.
    """
    named = manager_id_of(user)
    if named or known is None:
        return named
    if known.manager_m365_id:
        return known.manager_m365_id
    return manager_id_of(known.snapshot) if known.last_user == user.get("id") else None


def manager_id_of(user: dict) -> str | None:
    """The manager's id: from manager@delta (delta rounds) or an expanded manager (single reads)."""
    if "manager@delta" in user:
        for item in user.get("manager@delta") or ():
            if isinstance(item, dict) and item.get("id") and "@removed" not in item:
                return str(item["id"])
        return None
    manager = user.get("manager")
    if isinstance(manager, dict) and manager.get("id"):
        return str(manager["id"])
    return None
