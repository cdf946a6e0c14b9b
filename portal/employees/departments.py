"""Department membership assigned by hand; departments are created on first use."""

from __future__ import annotations

from sqlmodel import Session, select

from portal.employees.fields import department_key
from portal.employees.records import get_employee
from portal.errors import InvalidValue, NotFound
from portal.models import Department, Employee, EmployeeDepartment, Organization, utcnow

DEPARTMENT_NAME_MAX = 200


def assign_department(session: Session, organization: Organization, email: str, name: str) -> Department:
    """Put an employee in a department by hand; repeating it changes nothing."""
    name = _clean_name(name)
    employee = get_employee(session, organization, email)
    department = _find_department(session, organization, name)
    if department is None:
        department = Department(organization_id=organization.id, name=name, source="manual")
        session.add(department)
        session.flush()
    link = session.get(EmployeeDepartment, (employee.id, department.id))
    if link is None:
        session.add(EmployeeDepartment(employee_id=employee.id, department_id=department.id, source="manual"))
    else:
        # The admin now owns a membership the sync made, so a later sync must not take it away.
        link.source = "manual"
        session.add(link)
    _changed_by_hand(session, employee)
    return department


def unassign_department(session: Session, organization: Organization, email: str, name: str) -> None:
    """Take an employee out of a department; the department itself stays (signatures may point at it)."""
    name = _clean_name(name)
    employee = get_employee(session, organization, email)
    department = _find_department(session, organization, name)
    link = None if department is None else session.get(EmployeeDepartment, (employee.id, department.id))
    if link is None:
        raise NotFound(f"{employee.email} is not in department {name!r}.")
    session.delete(link)
    _changed_by_hand(session, employee)


def _changed_by_hand(session: Session, employee: Employee) -> None:
    # A membership changed by hand is a change to the employee: the next sync, delta or full, judges it.
    employee.updated_at = utcnow()
    session.add(employee)
    session.flush()


def _find_department(session: Session, organization: Organization, name: str) -> Department | None:
    key = department_key(name)
    # Compared in Python: SQL's lower() folds only ASCII on SQLite, and department lists are short.
    departments = session.exec(select(Department).where(Department.organization_id == organization.id)).all()
    return next((d for d in sorted(departments, key=lambda d: d.id) if department_key(d.name) == key), None)


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidValue("A department needs a name.")
    if len(name) > DEPARTMENT_NAME_MAX:
        raise InvalidValue(f"Department name is too long ({len(name)} characters; at most {DEPARTMENT_NAME_MAX}).")
    return name
