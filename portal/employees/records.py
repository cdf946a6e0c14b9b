"""Employee records: find one, add one by hand, edit one by hand, and the departments it is in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from portal.employees.fields import clean_fields, department_key, normalize_email
from portal.employees.seats import ensure_seat_available
from portal.errors import AlreadyExists, InvalidValue, NotFound
from portal.models import Department, Employee, EmployeeDepartment, Organization, utcnow

DEPARTMENT_NAME_MAX = Department.__table__.columns["name"].type.length


def find_employee(session: Session, organization: Organization, email: str) -> Employee | None:
    """The organisation's employee with this e-mail address (any case), or None."""
    query = select(Employee).where(
        Employee.organization_id == organization.id, Employee.email == normalize_email(email)
    )
    return session.exec(query).first()


def get_employee(session: Session, organization: Organization, email: str) -> Employee:
    """The organisation's employee with this e-mail address (any case), or NotFound."""
    employee = find_employee(session, organization, email)
    if employee is None:
        raise NotFound(f"No employee {normalize_email(email)} in {organization.slug}.")
    return employee


def add_employee(
    session: Session, organization: Organization, email: str, fields: Mapping[str, str | None]
) -> Employee:
    """Add an employee by hand (source "manual", status "active"), within the seat limit."""
    email = normalize_email(email)
    columns, custom = clean_fields(fields)
    if columns.pop("email", email) != email:
        raise InvalidValue(f"Two different e-mail addresses given: {email} and the email field.")
    _ensure_email_free(session, organization, email)
    ensure_seat_available(session, organization)
    employee = Employee(
        organization_id=organization.id,
        email=email,
        custom={key: value for key, value in custom.items() if value},
        source="manual",
        status="active",
        **columns,
    )
    session.add(employee)
    _flush_or_duplicate(session, organization, email)
    return employee


def edit_employee(
    session: Session, organization: Organization, email: str, fields: Mapping[str, str | None]
) -> Employee:
    """Write hand-typed values; an empty custom value removes that custom field.

    ``synced_values`` stays as it is on purpose: a value that differs from what Microsoft 365
    last said is how the sync recognises a field typed by hand.
    """
    if not fields:
        raise InvalidValue("Nothing to change: give at least one field.")
    employee = get_employee(session, organization, email)
    columns, custom = clean_fields(fields)
    new_email = columns.get("email", employee.email)
    if new_email != employee.email:
        _ensure_email_free(session, organization, new_email)
    for name, value in columns.items():
        setattr(employee, name, value)
    if custom:
        # A new dict, because SQLAlchemy does not notice changes inside a JSON value.
        merged = {**employee.custom, **custom}
        employee.custom = {key: value for key, value in merged.items() if value}
    employee.updated_at = utcnow()
    session.add(employee)
    _flush_or_duplicate(session, organization, new_email)
    return employee


def _ensure_email_free(session: Session, organization: Organization, email: str) -> None:
    existing = find_employee(session, organization, email)
    if existing is not None:
        raise AlreadyExists(f"{organization.slug} already has an employee {email} ({existing.status}).")


def _flush_or_duplicate(session: Session, organization: Organization, email: str) -> None:
    try:
        session.flush()
    except IntegrityError:  # the same address was written concurrently between check and flush
        raise AlreadyExists(f"{organization.slug} already has an employee {email}.") from None


# -- department membership as the employee page edits it ----------------------------------------


@dataclass(frozen=True)
class Membership:
    """One department the employee is in, and who put it there ("manual": an admin, "sync": the import rules)."""

    department_id: int
    name: str
    source: str


def memberships(session: Session, employee: Employee) -> list[Membership]:
    """The employee's departments by name, with their source (one query)."""
    query = (
        select(Department.id, Department.name, EmployeeDepartment.source)
        .join(EmployeeDepartment, EmployeeDepartment.department_id == Department.id)
        .where(EmployeeDepartment.employee_id == employee.id)
        .order_by(Department.name)
    )
    return [Membership(*row) for row in session.exec(query)]


def department_choices(session: Session, organization: Organization) -> list[tuple[int, str]]:
    """Every department of the organisation as (id, name), sorted by name (what a department picker offers)."""
    query = (select(Department.id, Department.name).where(Department.organization_id == organization.id)
             .order_by(Department.name))
    return [(department_id, name) for department_id, name in session.exec(query)]


def set_departments(session: Session, organization: Organization, employee: Employee,
                    names: Iterable[str]) -> tuple[list[str], list[str]]:
    """Make the employee's departments exactly ``names`` (new names create a department); returns (joined, left).

    Memberships the employee keeps stay as they are (a synced one stays synced); joined ones are the
    admin's, which the sync never takes away. A synced one the admin removes may come back with the
    next sync if the import rules still put the employee there.
    """
    wanted: dict[str, str] = {}
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if len(name) > DEPARTMENT_NAME_MAX:
            raise InvalidValue(f"Department name is too long ({len(name)} characters; at most {DEPARTMENT_NAME_MAX}).")
        wanted.setdefault(department_key(name), name)
    current = {department_key(m.name): m for m in memberships(session, employee)}
    left = [m for key, m in current.items() if key not in wanted]
    joined = [name for key, name in wanted.items() if key not in current]
    for membership in left:
        link = session.get(EmployeeDepartment, (employee.id, membership.department_id))
        if link is not None:
            session.delete(link)
    added = []
    if joined:
        # Exact names first; then any spelled differently only in case (SQLite's lower() folds ASCII only).
        found = {d.name.casefold(): d for d in session.exec(select(Department).where(
            Department.organization_id == organization.id,
            or_(Department.name.in_(joined), func.lower(Department.name).in_([n.lower() for n in joined]))))}
        for name in joined:
            department = found.get(name.casefold())
            if department is None:
                department = Department(organization_id=organization.id, name=name, source="manual")
                session.add(department)
                session.flush()
                found[name.casefold()] = department
            session.add(EmployeeDepartment(employee_id=employee.id, department_id=department.id, source="manual"))
            added.append(department.name)
    session.flush()
    return added, [m.name for m in left]
