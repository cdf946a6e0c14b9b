"""Seats: billing counts every employee that gets, or may again get, a signature."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from portal.errors import SeatLimitReached
from portal.models import Employee, Organization

# Excluded employees are out for good (until included again), so they free their seat;
# paused and inactive ones keep it because they can become active without the admin.
BILLABLE_STATUSES: tuple[str, ...] = ("active", "paused", "inactive")


def count_billable(session: Session, organization: Organization) -> int:
    """How many of the organisation's employees occupy a seat."""
    query = (
        select(func.count())
        .select_from(Employee)
        .where(Employee.organization_id == organization.id, Employee.status.in_(BILLABLE_STATUSES))
    )
    return session.exec(query).one()


def ensure_seat_available(session: Session, organization: Organization) -> None:
    """Raise SeatLimitReached unless one more billable employee fits within the organisation's seats."""
    if organization.seats is None:
        return
    # Lock the organisation row (PostgreSQL) so two concurrent adds cannot both take the last seat;
    # SQLite needs no lock because it has one writer at a time.
    session.exec(select(Organization.id).where(Organization.id == organization.id).with_for_update()).one()
    used = count_billable(session, organization)
    if used >= organization.seats:
        raise SeatLimitReached(
            f"{organization.slug} has used all of its {organization.seats} seat(s) ({used} employees). "
            "Raise the seat limit or exclude an employee first."
        )
