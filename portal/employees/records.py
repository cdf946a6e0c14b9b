"""Employee records: find one, add one by hand, edit one by hand."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from portal.employees.fields import clean_fields, normalize_email
from portal.employees.seats import ensure_seat_available
from portal.errors import AlreadyExists, InvalidValue, NotFound
from portal.models import Employee, Organization, utcnow


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
