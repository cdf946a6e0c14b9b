"""Batched writes for one page of a run: a handful of statements, never one per user.

The engine collects what a page decided in a ``PageChanges`` and hands it here;
everything for the page is written in one transaction, so a run that dies half
way keeps every page it finished and loses none of them half-written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, select, text, update
from sqlalchemy.engine import Connection as DBConnection

from portal.employees.fields import EMPLOYEE_FIELDS, department_key
from portal.employees.search import SEARCHED_FIELDS, refresh_search_text
from portal.models import Department, Employee, EmployeeDepartment, SyncDecision, utcnow

# Columns only the sync reads: writing them alone does not change the employee (nor its synced_at).
BOOKKEEPING = frozenset({"synced_values", "m365_snapshot", "manager_m365_id", "seen_in_run"})


@dataclass
class Decision:
    """One decision row before it has an employee id."""

    kind: str
    m365_id: str = ""
    email: str = ""
    reason: str = ""
    details: dict = field(default_factory=dict)
    employee_id: int | None = None
    resolution: str = ""


@dataclass
class NewEmployee:
    """An employee the sync creates: its column values and sync departments."""

    values: dict[str, Any]
    departments: tuple[str, ...]
    decisions: list[Decision]


@dataclass
class EmployeeUpdate:
    """Columns to change on one existing employee; ``departments`` None leaves them alone."""

    employee_id: int
    values: dict[str, Any]
    departments: tuple[str, ...] | None
    decisions: list[Decision]
    clear_manual_departments: bool = False  # the employee was another person's: their hand-made links go
    m365_id: str = ""  # the user it was planned for
    read_version: datetime | None = None  # updated_at as planned from: written only if still so


@dataclass
class PageChanges:
    """Everything one page (or one phase) of a run will write."""

    creates: list[NewEmployee] = field(default_factory=list)
    updates: list[EmployeeUpdate] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    seen_employee_ids: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.creates or self.updates or self.decisions or self.seen_employee_ids)


class DepartmentCache:
    """Department name → id for one organisation, creating sync departments on demand."""

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id
        self._ids: dict[str, int] | None = None

    def ids_for(self, conn: DBConnection, names: set[str]) -> dict[str, int]:
        if self._ids is None:
            rows = conn.execute(
                select(Department.name, Department.id).where(Department.organization_id == self.organization_id)
            )
            self._ids = {department_key(name): dep_id for name, dep_id in rows}
        # One new department per name whatever its case ("Sales" and "SALES" are one department).
        missing = sorted({department_key(n): n for n in sorted(names) if department_key(n) not in self._ids}.values())
        if missing:
            now = utcnow()
            created = conn.execute(
                insert(Department).returning(Department.name, Department.id),
                [{"organization_id": self.organization_id, "name": n, "source": "sync", "created_at": now}
                 for n in missing],
            )
            for name, dep_id in created:
                self._ids[department_key(name)] = dep_id
        return {n: self._ids[department_key(n)] for n in names}

    def forget(self) -> None:
        """Drop the cache (after a rollback, ids created in it may not exist)."""
        self._ids = None


_NEW_EMPLOYEE: dict[str, Any] = {
    **{c.name: "" for c in Employee.__table__.c if c.name in EMPLOYEE_FIELDS},
    "photo": None,
    "custom": {},
}


def apply_page(
    conn: DBConnection, organization_id: int, run_id: int, changes: PageChanges, departments: DepartmentCache
) -> set[str]:
    """Write one page's changes; the caller owns the transaction.

    An update is written only while its employee is as it was planned from (no admin edit since): the
    others are taken out of ``changes`` unwritten, and their users returned to be planned again.
    """
    now = utcnow()
    raced = _apply_updates(conn, changes.updates, now)
    raced_users = set()
    if raced:
        raced_users = {u.m365_id for u in changes.updates if u.employee_id in raced}
        changes.updates = [u for u in changes.updates if u.employee_id not in raced]
        changes.decisions = [d for d in changes.decisions if d.employee_id not in raced]
        changes.seen_employee_ids = [i for i in changes.seen_employee_ids if i not in raced]
    renamed = [u.employee_id for u in changes.updates if SEARCHED_FIELDS.intersection(u.values)]
    if renamed:  # inserts get it from the column default; a Core UPDATE needs it recomputed
        refresh_search_text(conn, renamed)
    decisions = list(changes.decisions)
    dept_links: list[tuple[int, tuple[str, ...]]] = []

    cleared = [u.employee_id for u in changes.updates if u.clear_manual_departments]
    if cleared:
        conn.execute(delete(EmployeeDepartment).where(EmployeeDepartment.employee_id.in_(cleared)))

    # After the updates: an address an employee of this page gave up may go to a user created in it.
    if changes.creates:
        # executemany wants one shape: a field left out of a plan (a manager not known yet) starts empty.
        rows = [{**_NEW_EMPLOYEE, **c.values, "organization_id": organization_id, "created_at": now,
                 "updated_at": now, "synced_at": now} for c in changes.creates]
        # A plain executemany and one indexed lookup beat INSERT … RETURNING, which psycopg must
        # parse as one huge statement (3× slower for a 1,000-row page on PostgreSQL).
        conn.execute(insert(Employee), rows)
        ids_by_email = {email: emp_id for email, emp_id in conn.execute(
            select(Employee.email, Employee.id).where(
                Employee.organization_id == organization_id, Employee.email.in_([r["email"] for r in rows])))}
        for c in changes.creates:
            emp_id = ids_by_email[c.values["email"]]
            dept_links.append((emp_id, c.departments))
            for d in c.decisions:
                d.employee_id = emp_id
            decisions.extend(c.decisions)
    for u in changes.updates:
        if u.departments is not None:
            dept_links.append((u.employee_id, u.departments))
        decisions.extend(u.decisions)

    if changes.seen_employee_ids:
        conn.execute(
            update(Employee).where(Employee.id.in_(changes.seen_employee_ids)).values(seen_in_run=run_id)
        )
    _replace_sync_departments(conn, dept_links, departments)
    insert_decisions(conn, run_id, decisions)
    return raced_users


def _apply_updates(conn: DBConnection, updates: list[EmployeeUpdate], now) -> set[int]:
    """Write the updates whose employee is unchanged since it was read; returns the ids of the others."""
    # executemany needs one shape per statement: group the updates by the columns they touch.
    by_shape: dict[tuple[str, ...], list[dict]] = {}
    checked = [u for u in updates if u.values]
    for u in updates:
        if not u.values:
            continue
        # The sync's own bookkeeping is no change to the employee; a real one is stamped as the sync's.
        values = u.values if BOOKKEEPING.issuperset(u.values) else {**u.values, "synced_at": now}
        shape = tuple(sorted(values))
        by_shape.setdefault(shape, []).append({"_id": u.employee_id, "_version": u.read_version, **values})
    table = Employee.__table__
    written = 0
    for shape, rows in by_shape.items():
        stmt = (
            update(table)
            # An admin's edit bumps updated_at (the sync's writes do not): then this row is planned again.
            .where(table.c.id == bindparam("_id"), table.c.updated_at == bindparam("_version"))
            .values({col: bindparam(col) for col in shape})
        )
        written += conn.execute(stmt, rows).rowcount
    expected = sum(len(rows) for rows in by_shape.values())
    if written == expected and conn.dialect.supports_sane_multi_rowcount:
        changed: set[int] = set()
    else:
        versions = {u.employee_id: u.read_version for u in checked}
        changed = {emp_id for emp_id, version in conn.execute(
            select(table.c.id, table.c.updated_at).where(table.c.id.in_(sorted(versions))))
            if version != versions[emp_id]} if versions else set()
    return changed


def _replace_sync_departments(
    conn: DBConnection, links: list[tuple[int, tuple[str, ...]]], departments: DepartmentCache
) -> None:
    """Make each employee's sync-made department links exactly the given names; manual links stay."""
    if not links:
        return
    employee_ids = [emp_id for emp_id, _ in links]
    conn.execute(
        delete(EmployeeDepartment).where(
            and_(EmployeeDepartment.employee_id.in_(employee_ids), EmployeeDepartment.source == "sync")
        )
    )
    names = {n for _, ns in links for n in ns}
    if not names:
        return
    ids = departments.ids_for(conn, names)
    manual = {
        (emp_id, dep_id)
        for emp_id, dep_id in conn.execute(
            select(EmployeeDepartment.employee_id, EmployeeDepartment.department_id).where(
                EmployeeDepartment.employee_id.in_(employee_ids)
            )
        )
    }
    rows = []
    for emp_id, dept_names in links:
        for dep_id in dict.fromkeys(ids[n] for n in dept_names):
            if (emp_id, dep_id) not in manual:
                rows.append({"employee_id": emp_id, "department_id": dep_id, "source": "sync"})
    if rows:
        conn.execute(insert(EmployeeDepartment), rows)


def insert_decisions(conn: DBConnection, run_id: int, decisions: list[Decision]) -> None:
    """Bulk-insert decision rows for a run."""
    if not decisions:
        return
    conn.execute(
        insert(SyncDecision),
        [
            {"run_id": run_id, "kind": d.kind, "m365_id": d.m365_id, "email": d.email, "reason": d.reason,
             "details": d.details, "employee_id": d.employee_id, "resolution": d.resolution}
            for d in decisions
        ],
    )


def refresh_statistics(conn: DBConnection) -> None:
    """Let PostgreSQL re-plan after a bulk load.

    Its planner works from table statistics, which stay stale after thousands of inserts until
    ANALYZE runs (autovacuum may be late, or off); with stale ones each page's employee lookup
    scanned the whole organisation, and a 100,000-user first sync took four times as long.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE employee, employeedepartment"))
