"""Department membership by hand, and listing/export in batches, against the real database."""

import pytest
from sqlmodel import select

from portal.db import session_scope
from portal.employees import (
    add_employee,
    assign_department,
    custom_field_keys,
    export_rows,
    list_employees,
    unassign_department,
)
from portal.errors import InvalidValue, NotFound
from portal.models import Department, EmployeeDepartment
from portal.organizations import create_organization


@pytest.fixture
def session(config):
    with session_scope(config.database_url) as session:
        yield session


@pytest.fixture
def acme(session):
    org = create_organization(session, "acme", "Acme GmbH")
    add_employee(session, org, "anna@example.com", {"first_name": "Anna"})
    return org


def departments_of(session, org, email):
    return {row["email"]: row["departments"] for row in export_rows(session, org)}[email]


def test_assign_creates_the_department_once_and_marks_it_manual(session, acme):
    assign_department(session, acme, "ANNA@example.com", " Sales ")
    assign_department(session, acme, "anna@example.com", "Sales")  # repeating changes nothing
    [department] = session.exec(select(Department)).all()
    assert (department.name, department.source) == ("Sales", "manual")
    [link] = session.exec(select(EmployeeDepartment)).all()
    assert link.source == "manual"
    assert departments_of(session, acme, "anna@example.com") == ["Sales"]


def test_assigning_a_synced_membership_makes_it_manual(session, acme):
    department = Department(organization_id=acme.id, name="Engineering", source="sync")
    session.add(department)
    session.flush()
    employee_id = next(iter(list_employees(session, acme))).id
    session.add(EmployeeDepartment(employee_id=employee_id, department_id=department.id, source="sync"))
    session.flush()
    assign_department(session, acme, "anna@example.com", "Engineering")
    assert session.get(EmployeeDepartment, (employee_id, department.id)).source == "manual"


def test_unassign_keeps_the_department(session, acme):
    assign_department(session, acme, "anna@example.com", "Sales")
    unassign_department(session, acme, "anna@example.com", "Sales")
    assert departments_of(session, acme, "anna@example.com") == []
    assert [d.name for d in session.exec(select(Department)).all()] == ["Sales"]


def test_unassign_from_a_department_the_employee_is_not_in_is_refused(session, acme):
    with pytest.raises(NotFound, match="anna@example.com is not in department 'Sales'"):
        unassign_department(session, acme, "anna@example.com", "Sales")


@pytest.mark.parametrize(("name", "message"), [("  ", "needs a name"), ("x" * 201, "at most 200")])
def test_bad_department_name_is_refused(session, acme, name, message):
    with pytest.raises(InvalidValue, match=message):
        assign_department(session, acme, "anna@example.com", name)


def test_export_in_small_batches_keeps_every_employee_with_its_departments(session, acme):
    for n in range(1, 7):
        add_employee(session, acme, f"e{n}@example.com", {"custom.floor": str(n)} if n % 2 else {})
        assign_department(session, acme, f"e{n}@example.com", f"Team {n % 3}")
    assign_department(session, acme, "e5@example.com", "Alpha")
    rows = list(export_rows(session, acme, batch_size=2))
    assert [row["email"] for row in rows] == ["anna@example.com"] + [f"e{n}@example.com" for n in range(1, 7)]
    departments = {row["email"]: row["departments"] for row in rows}
    assert departments["e5@example.com"] == ["Alpha", "Team 2"]
    assert departments["e6@example.com"] == ["Team 0"]
    assert [e.email for e in list_employees(session, acme, batch_size=4)] == [row["email"] for row in rows]
    assert custom_field_keys(session, acme, batch_size=2) == ["floor"]


def test_export_shows_only_the_organisations_own_employees(session, acme):
    globex = create_organization(session, "globex", "Globex", seats=5, timezone="America/New_York")
    add_employee(session, globex, "zed@example.com", {})
    assert [row["email"] for row in export_rows(session, acme)] == ["anna@example.com"]
    assert [row["email"] for row in export_rows(session, globex)] == ["zed@example.com"]
