"""Delta runs end where a full run would: what an admin did by hand, users entering the scope, managers."""

from __future__ import annotations

import pytest

from portal.db import session_scope
from portal.employees.departments import unassign_department
from portal.models import Organization
from tests.engine.support import differences, leaf_employees, uid

QUIET = {"skipped", "out_of_scope", "conflict"}  # what a run says about the same tenant every time


def _a_full_run_changes_nothing(acme) -> None:
    before = acme.export()
    result = acme.sync(full=True)
    assert set(result["counts"]) <= QUIET, result["counts"]
    assert differences(acme.export(), before) == {}


def _tenant_user(acme) -> str:
    """An ordinary user of the tenant (its address), in the import scope."""
    run_id = acme.sync(dry_run=True)["run_id"]
    return sorted(d.email for d in acme.decisions(run_id, "skipped"))[0]


@pytest.mark.parametrize("held", [None, "pause", "exclude"])
def test_a_manual_employee_is_linked_by_the_next_delta_run(acme, held):
    acme.configure(settings={"import_new_users": False})
    acme.sync()
    email = _tenant_user(acme)
    acme.add_manual(email, job_title="Typed")
    if held:
        acme.set_status(email, held)  # paused or excluded while a run goes by: not linked
        assert acme.sync()["mode"] == "delta"
        assert acme.employee(email).m365_id is None
        acme.set_status(email, {"pause": "resume", "exclude": "include"}[held])

    result = acme.sync()

    assert result["mode"] == "delta"
    employee = acme.employee(email)
    assert (employee.m365_id, employee.source) == (uid(acme.sim, email), "m365")
    assert [d.kind for d in acme.decisions(result["run_id"]) if d.email == email][0] == "linked"
    _a_full_run_changes_nothing(acme)


def test_a_user_entering_the_scope_on_a_delta_run_gets_its_managers_name_and_address(acme, fresh):
    acme.sync()
    manager = leaf_employees(acme.export(), 1)[0]
    newcomer = acme.sim.tenant.add_user({"userPrincipalName": "late.starter@contoso.example",
                                         "displayName": "Late Starter", "mail": "late.starter@contoso.example",
                                         "accountEnabled": False})
    acme.sim.tenant.set_manager(newcomer, uid(acme.sim, manager))
    acme.sync()  # disabled: out of scope; Graph named the manager in this round
    acme.sim.tenant.update_user(newcomer, accountEnabled=True)  # this round names no manager

    result = acme.sync()

    assert result["mode"] == "delta" and result["counts"].get("created") == 1
    row = acme.export()["late.starter@contoso.example"]
    assert row["manager_email"].lower() == manager and row["manager_name"]
    assert row == fresh().export()["late.starter@contoso.example"]


def test_a_delta_run_reads_no_user_that_stays_outside_the_scope(acme, sim):
    acme.sync()
    outsider = sim.tenant.add_user({"userPrincipalName": "still.away@contoso.example", "displayName": "Still Away",
                                    "mail": "still.away@contoso.example", "accountEnabled": False})
    sim.tenant.set_manager(outsider, uid(sim, leaf_employees(acme.export(), 1)[0]))
    acme.sync()
    sim.tenant.update_user(outsider, jobTitle="On leave")  # still disabled; this round names no manager
    sim.log.clear()

    result = acme.sync()

    assert result["mode"] == "delta" and result["counts"] == {"out_of_scope": 1}
    # Its manager would change no decision: reading it again only cost a $batch (bench: 15 requests, not 10).
    assert [r.path for r in sim.log.items("graph") if outsider in r.path] == []
    _a_full_run_changes_nothing(acme)


@pytest.mark.parametrize("added", ["before the first sync", "after it"])
def test_a_manual_employee_typed_with_another_address_of_a_user_is_linked_not_duplicated(acme, added):
    user = acme.sim.tenant.add_user({
        "userPrincipalName": "frieda@contoso.example", "displayName": "Frieda Lastname",
        "mail": "Frieda@contoso.example", "jobTitle": "Buyer",
        "proxyAddresses": ["SMTP:Frieda@contoso.example", "smtp:f.lastname@contoso.example"]})
    if added == "after it":  # the user is not imported, and does not change: only the admin's act is new
        acme.configure(settings={"import_new_users": False})
        acme.sync()
    acme.add_manual("f.lastname@contoso.example", phone="+49 1")

    result = acme.sync()

    assert result["mode"] == ("delta" if added == "after it" else "full")
    employees = acme.employees()
    assert "f.lastname@contoso.example" not in employees
    frieda = employees["frieda@contoso.example"]
    assert (frieda.m365_id, frieda.phone, frieda.job_title) == (user, "+49 1", "Buyer")
    [linked] = acme.decisions(result["run_id"], "linked")
    assert "f.lastname@contoso.example" in linked.reason and "frieda@contoso.example" in linked.reason


def test_a_manager_outside_the_scope_renamed_is_renamed_on_the_reports_by_a_delta_run(acme, fresh):
    acme.sync()
    report = leaf_employees(acme.export(), 1)[0]
    boss = acme.sim.tenant.add_user({"userPrincipalName": "outside.boss@contoso.example", "displayName": "Outside Boss",
                                     "mail": "outside.boss@contoso.example", "accountEnabled": False})
    acme.sim.tenant.set_manager(uid(acme.sim, report), boss)
    acme.sync()
    assert acme.employee(report).manager_name == "Outside Boss"
    acme.sim.tenant.update_user(boss, displayName="Renamed Boss")

    result = acme.sync()

    assert result["mode"] == "delta"
    assert acme.employee(report).manager_name == "Renamed Boss"
    assert acme.export()[report] == fresh().export()[report]


@pytest.mark.parametrize("full", [False, True], ids=["delta", "full"])
def test_a_former_employee_managing_reports_renamed_is_renamed_on_the_reports(acme, fresh, full):
    acme.sync()
    rows = acme.export()
    boss = next(r["manager_email"].lower() for e, r in sorted(rows.items())
                if r["manager_email"] and r["manager_email"].lower() in rows)
    reports = sorted(e for e, r in rows.items() if r["manager_email"].lower() == boss)
    acme.sim.tenant.update_user(boss, accountEnabled=False)  # leaves the scope: deactivated, still a manager
    acme.sync()
    assert acme.employee(boss).status == "inactive"
    acme.sim.tenant.update_user(boss, displayName="Renamed Boss")

    acme.sync(full=full)

    after = acme.export()
    assert {after[e]["manager_name"] for e in reports} == {"Renamed Boss"}
    reference = fresh().export()
    assert differences({e: after[e] for e in reports}, {e: reference[e] for e in reports}) == {}


@pytest.mark.parametrize("overwrite", [False, True], ids=["kept", "overwritten"])
def test_a_department_removed_by_hand_is_typed_data_on_delta_and_full_runs_alike(acme, overwrite):
    split = [{"name": "Everyone", "departments": {"from_attribute": "department", "split": ";"}}]
    acme.configure(settings={"overwrite_manual": overwrite}, import_rules=split)
    acme.sync()
    email, row = next((e, r) for e, r in sorted(acme.export().items()) if len(r["departments"]) >= 2)
    removed = row["departments"][0]
    with session_scope(acme.config.database_url) as session:
        unassign_department(session, session.get(Organization, acme.org.id), email, removed.upper())  # any case

    delta = acme.sync()
    after_delta = acme.export()[email]["departments"]
    full = acme.sync(full=True)
    after_full = acme.export()[email]["departments"]

    assert delta["mode"] == "delta"
    assert after_delta == after_full == (row["departments"] if overwrite else row["departments"][1:])
    decided = {d.kind for d in acme.decisions(delta["run_id"]) if d.email == email}
    assert decided == ({"overwrote_manual"} if overwrite else set())
    assert not [d for d in acme.decisions(full["run_id"]) if d.email == email]


def test_a_department_assigned_by_hand_in_another_case_is_the_same_department(acme):
    from sqlalchemy import func, select

    from portal.employees.departments import assign_department
    from portal.models import Department

    acme.configure(import_rules=[{"name": "Everyone", "departments": {"from_attribute": "department"}}])
    acme.sync()
    email, row = next((e, r) for e, r in sorted(acme.export().items()) if r["departments"])
    other = next(e for e, r in sorted(acme.export().items()) if row["departments"][0] not in r["departments"])
    with acme.engine.begin() as conn:
        before = conn.execute(select(func.count()).select_from(Department)).scalar_one()

    with session_scope(acme.config.database_url) as session:
        assign_department(session, session.get(Organization, acme.org.id), other, row["departments"][0].upper())

    with acme.engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(Department)).scalar_one() == before
    assert row["departments"][0] in acme.export()[other]["departments"]
