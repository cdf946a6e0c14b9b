"""Settings that shape what a run writes: new users, empty values, departments."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.db import session_scope
from portal.employees import assign_department
from portal.models import Department, Organization

JUERGEN = "juergen.mueller@contoso.example"
JUERGEN_UPN = "Juergen.Mueller@contoso.example"
BY_DEPARTMENT = [{"name": "Everyone", "departments": {"from_attribute": "department", "split": ";"}}]


def test_import_of_new_users_off_links_but_creates_nobody(acme):
    acme.configure(settings={"import_new_users": False})
    acme.add_manual("zoe@contoso.example")

    result = acme.sync()

    assert set(acme.employees()) == {"zoe@contoso.example"}
    assert acme.employee("zoe@contoso.example").m365_id
    assert {d.reason for d in acme.decisions(result["run_id"], "skipped")} == {"import of new users is off"}


@pytest.mark.parametrize(("empty_values", "expected"), [("keep", "+49 151 0068 2482"), ("clear", "")])
def test_value_emptied_in_graph_is_kept_or_cleared_as_set(acme, empty_values, expected):
    acme.configure(settings={"empty_values": empty_values})
    acme.sync()
    acme.sim.tenant.update_user(JUERGEN_UPN, mobilePhone=None)

    acme.sync()
    again = acme.sync(full=True)

    assert acme.employee(JUERGEN).mobile == expected
    assert "updated" not in again["counts"]


@pytest.mark.parametrize(("department_sync", "expected"), [("always", ["Legal"]), ("on_create", ["Sales"])])
def test_departments_follow_graph_always_or_only_on_create(acme, department_sync, expected):
    acme.configure(settings={"department_sync": department_sync}, import_rules=BY_DEPARTMENT)
    acme.sync()
    acme.sim.tenant.update_user(JUERGEN_UPN, department="Legal")

    acme.sync()

    row = acme.export()[JUERGEN]
    assert (row["department"], row["departments"]) == ("Legal", expected)


def test_departments_assigned_by_hand_stay_and_do_not_make_every_run_an_update(acme):
    acme.configure(import_rules=BY_DEPARTMENT)
    acme.sync()
    with session_scope(acme.config.database_url) as session:
        org = session.get(Organization, acme.org.id)
        assign_department(session, org, JUERGEN, "Board")
        assign_department(session, org, JUERGEN, "Sales")  # the admin takes over the sync's membership

    first = acme.sync(full=True)
    acme.sim.tenant.update_user(JUERGEN_UPN, department="Sales;Legal")
    second = acme.sync()
    third = acme.sync(full=True)

    assert "updated" not in first["counts"]
    assert [d.kind for d in acme.decisions(second["run_id"])] == ["updated"]
    assert "updated" not in third["counts"]
    assert acme.export()[JUERGEN]["departments"] == ["Board", "Legal", "Sales"]


def test_department_names_differing_only_in_case_make_one_department(acme):
    acme.sim.tenant.update_user("Juergen.Mueller@contoso.example", department="SALES")
    acme.configure(import_rules=[{"name": "All", "departments": {"from_attribute": "department", "split": ";"}}])

    acme.sync()

    with acme.engine.begin() as conn:
        names = [n for (n,) in conn.execute(select(Department.name).where(Department.organization_id == acme.org.id))]
    assert sum(1 for n in names if n.casefold() == "sales") == 1
