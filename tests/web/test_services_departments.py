"""portal.departments against the real database: list with counts, create, rename, delete, members."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal import departments
from portal.db import session_scope
from portal.employees import add_employee, assign_department
from portal.errors import AlreadyExists, InvalidValue, NotFound
from portal.models import Department, Employee, EmployeeDepartment
from portal.organizations import create_organization


@pytest.fixture
def session(config):
    with session_scope(config.database_url) as session:
        yield session


@pytest.fixture
def acme(session):
    org = create_organization(session, "acme", "Acme GmbH")
    for n in range(5):
        add_employee(session, org, f"e{n}@example.com", {"display_name": f"Person {n}"})
    for n in range(3):
        assign_department(session, org, f"e{n}@example.com", "Sales")
    assign_department(session, org, "e0@example.com", "Ärzte")
    return org


@pytest.fixture
def globex(session):
    org = create_organization(session, "globex", "Globex")
    add_employee(session, org, "g@globex.example", {})
    assign_department(session, org, "g@globex.example", "Secret")
    return org


def by_name(session, org) -> dict[str, int]:
    return {d.name: d.members for d in departments.list_departments(session, org)}


def dept_id(session, org, name) -> int:
    return session.exec(select(Department.id).where(Department.organization_id == org.id,
                                                     Department.name == name)).one()


def test_departments_are_listed_by_name_with_member_counts(session, acme, globex):
    departments.create_department(session, acme, "Empty")
    assert [(d.name, d.members, d.source) for d in departments.list_departments(session, acme)] == [
        ("Ärzte", 1, "manual"), ("Empty", 0, "manual"), ("Sales", 3, "manual")]


@pytest.mark.parametrize("name", ["sales", " SALES ", "Sales"])
def test_a_name_that_differs_only_in_case_is_refused(session, acme, name):
    with pytest.raises(AlreadyExists, match="already a department “Sales”"):
        departments.create_department(session, acme, name)
    other = departments.create_department(session, acme, "Marketing")
    with pytest.raises(AlreadyExists, match="“Sales”"):
        departments.rename_department(session, acme, other.id, name)


@pytest.mark.parametrize(("name", "message"), [("   ", "needs a name"), ("x" * 201, "at most 200")])
def test_bad_names_are_refused(session, acme, name, message):
    with pytest.raises(InvalidValue, match=message):
        departments.create_department(session, acme, name)


def test_rename_keeps_the_members_and_may_change_only_the_case(session, acme):
    sales = dept_id(session, acme, "Sales")
    result = departments.rename_department(session, acme, sales, "Vertrieb")
    assert result.warning is None and result.department.name == "Vertrieb"
    assert by_name(session, acme)["Vertrieb"] == 3
    assert departments.rename_department(session, acme, sales, "VERTRIEB").department.name == "VERTRIEB"


def test_renaming_a_department_the_sync_made_warns_that_the_sync_uses_the_old_name(session, acme):
    synced = Department(organization_id=acme.id, name="Engineering", source="sync")
    session.add(synced)
    session.flush()
    result = departments.rename_department(session, acme, synced.id, "R&D")
    assert result.department.name == "R&D"
    assert "came from Microsoft 365" in result.warning and "“Engineering”" in result.warning


def test_delete_says_what_happens_then_removes_only_the_memberships(session, acme):
    sales = dept_id(session, acme, "Sales")
    impact = departments.delete_impact(session, acme, sales)
    assert (impact.members, impact.synced_members) == (3, 0)
    assert impact.message == ("Deleting “Sales” takes it away from 3 employees; the employees themselves stay, "
                              "and nothing else is deleted.")
    assert departments.delete_department(session, acme, sales) == 3
    assert by_name(session, acme) == {"Ärzte": 1}
    assert len(session.exec(select(Employee).where(Employee.organization_id == acme.id)).all()) == 5
    assert session.exec(select(EmployeeDepartment).where(EmployeeDepartment.department_id == sales)).all() == []


def test_delete_impact_of_a_synced_department_says_the_sync_brings_it_back(session, acme):
    synced = Department(organization_id=acme.id, name="Support", source="sync")
    session.add(synced)
    session.flush()
    employee_id = session.exec(select(Employee.id).where(Employee.email == "e4@example.com")).one()
    session.add(EmployeeDepartment(employee_id=employee_id, department_id=synced.id, source="sync"))
    session.flush()
    impact = departments.delete_impact(session, acme, synced.id)
    assert (impact.members, impact.synced_members) == (1, 1)
    assert "1 employee;" in impact.message and "creates it again" in impact.message


def test_members_are_paged_by_keyset(session, acme):
    sales = dept_id(session, acme, "Sales")
    first = departments.members(session, acme, sales, limit=2)
    rest = departments.members(session, acme, sales, after=first.next_cursor, limit=2)
    assert [r.email for r in first.rows + rest.rows] == ["e0@example.com", "e1@example.com", "e2@example.com"]
    assert not rest.has_more
    assert all("Sales" in r.departments for r in first.rows)


def test_another_organisations_department_is_not_found_by_a_guessed_id(session, acme, globex):
    secret = dept_id(session, globex, "Secret")
    for call in (departments.get_department, departments.delete_impact, departments.delete_department,
                 departments.members):
        with pytest.raises(NotFound, match=f"no department {secret} in this organisation"):
            call(session, acme, secret)
    with pytest.raises(NotFound):
        departments.rename_department(session, acme, secret, "Mine now")
    assert by_name(session, globex) == {"Secret": 1}
