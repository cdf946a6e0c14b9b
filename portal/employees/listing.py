"""Listing and exporting employees, streamed in batches so a 100,000-employee organisation stays flat in memory."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.orm import defer
from sqlmodel import Session, select

from portal.employees.fields import EMPLOYEE_FIELDS
from portal.models import Department, Employee, EmployeeDepartment, Organization

BATCH_SIZE = 1000


def list_employees(session: Session, organization: Organization, batch_size: int = BATCH_SIZE) -> Iterator[Employee]:
    """Every employee of the organisation, ordered by e-mail address."""
    for batch in _batches(session, organization, batch_size):
        yield from batch


def export_rows(session: Session, organization: Organization, batch_size: int = BATCH_SIZE) -> Iterator[dict[str, Any]]:
    """Every employee as a plain dict: its fields, custom, departments, source, status and m365_id."""
    for batch in _batches(session, organization, batch_size):
        departments = _department_names(session, [employee.id for employee in batch])
        for employee in batch:
            yield _export_row(employee, departments.get(employee.id, []))


def custom_field_keys(session: Session, organization: Organization, batch_size: int = BATCH_SIZE) -> list[str]:
    """The sorted custom-field keys any of the organisation's employees has."""
    query = (
        select(Employee.custom)
        .where(Employee.organization_id == organization.id)
        .execution_options(yield_per=batch_size)
    )
    keys: set[str] = set()
    for custom in session.exec(query):
        keys.update(custom)
    return sorted(keys)


def _batches(session: Session, organization: Organization, batch_size: int) -> Iterator[Sequence[Employee]]:
    query = (
        select(Employee)
        .where(Employee.organization_id == organization.id)
        .order_by(Employee.email)
        # Photos and Graph snapshots are big and no listing needs them.
        .options(defer(Employee.photo), defer(Employee.m365_snapshot))
        .execution_options(yield_per=batch_size)
    )
    yield from session.exec(query).partitions()


def _department_names(session: Session, employee_ids: list[int]) -> dict[int, list[str]]:
    """Department names per employee for one batch: one query instead of one per employee."""
    query = (
        select(EmployeeDepartment.employee_id, Department.name)
        .join(Department, Department.id == EmployeeDepartment.department_id)
        .where(EmployeeDepartment.employee_id.in_(employee_ids))
        .order_by(Department.name)
    )
    names: dict[int, list[str]] = defaultdict(list)
    for employee_id, name in session.exec(query):
        names[employee_id].append(name)
    return names


def _export_row(employee: Employee, departments: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(employee, name) for name in EMPLOYEE_FIELDS}
    row["custom"] = dict(sorted(employee.custom.items()))
    row["departments"] = departments
    row["source"] = employee.source
    row["status"] = employee.status
    row["m365_id"] = employee.m365_id
    return row
