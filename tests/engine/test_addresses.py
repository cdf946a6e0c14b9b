"""Who owns an address when users rename, leave and arrive: never a stuck user, never a mix of two people."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import update

from portal.db import session_scope
from portal.employees.departments import assign_department
from portal.models import Organization
from tests.engine.conftest import Harness
from tests.engine.support import differences, leaf_employees, uid


def _newcomer(tenant, local: str, mail: str, **extra) -> str:
    return tenant.add_user({"userPrincipalName": f"{local}@contoso.example", "displayName": local.title(),
                            "givenName": local.title(), "mail": mail, **extra})


def _decided(acme, run_id: int) -> Counter:
    return Counter((d.kind, d.m365_id, d.email, d.reason) for d in acme.decisions(run_id))


def test_an_address_handed_over_in_one_delta_round_goes_to_the_new_user(acme, fresh):
    acme.sync()
    old = leaf_employees(acme.export(), 1)[0]
    holder = uid(acme.sim, old)
    tenant = acme.sim.tenant
    # The newcomer comes first in the round: when it is planned, the old holder still has the address.
    newcomer = _newcomer(tenant, "newcomer", old, jobTitle="Trainee")
    tenant.rename_address(holder, mail=f"moved.{old}")

    result = acme.sync()

    assert result["mode"] == "delta"
    assert "conflict" not in result["counts"]
    after = acme.export()
    assert (after[old]["m365_id"], after[old]["job_title"]) == (newcomer, "Trainee")
    assert after[f"moved.{old}"]["m365_id"] == holder
    reference = fresh().export()
    assert differences({e: after[e] for e in (old, f"moved.{old}")},
                       {e: reference[e] for e in (old, f"moved.{old}")}) == {}


def test_a_leavers_address_reused_in_the_same_round_goes_to_the_new_hire(acme, fresh):
    acme.configure(settings={"removal": "delete"})
    acme.sync()
    old = leaf_employees(acme.export(), 1)[0]
    tenant = acme.sim.tenant
    tenant.hard_delete(old)
    newcomer = _newcomer(tenant, "new.hire", old, jobTitle="Apprentice")

    result = acme.sync()

    assert result["mode"] == "delta"
    assert result["counts"] == {"deleted": 1, "created": 1}
    hire = acme.export()[old]
    assert (hire["m365_id"], hire["job_title"]) == (newcomer, "Apprentice")
    assert differences({old: hire}, {old: fresh(settings={"removal": "delete"}).export()[old]}) == {}


def test_a_reused_address_never_inherits_the_previous_persons_data(acme, fresh):
    acme.sync()
    old = leaf_employees(acme.export(), 1)[0]
    assert acme.export()[old]["job_title"]
    acme.edit(old, fax="+49 30 1234")  # typed by hand
    with session_scope(acme.config.database_url) as session:
        assign_department(session, session.get(Organization, acme.org.id), old, "Works Council")
    acme.sim.tenant.hard_delete(old)
    assert acme.sync()["counts"] == {"deactivated": 1}
    # Months later a new hire gets the address; their directory record is nearly empty.
    newcomer = _newcomer(acme.sim.tenant, "new.hire", old)

    result = acme.sync()

    [replaced] = acme.decisions(result["run_id"], "replaced")
    assert replaced.m365_id == newcomer
    assert "belonged to another Microsoft 365 user" in replaced.reason
    hire = acme.export()[old]
    assert (hire["m365_id"], hire["status"], hire["first_name"]) == (newcomer, "active", "New.Hire")
    assert hire["job_title"] == hire["fax"] == hire["phone"] == hire["employee_number"] == ""
    assert hire["departments"] == []
    assert differences({old: hire}, {old: fresh().export()[old]}) == {}


def test_dry_run_after_an_address_rename_decides_like_the_real_run(acme):
    acme.sync()
    acme.sim.settings.delta_page_size = 7  # the two users on different pages
    old = leaf_employees(acme.export(), 1)[0]
    tenant = acme.sim.tenant
    tenant.rename_address(old, mail=f"renamed.{old}")
    # A second user with the renamed address, listed after the first: the address is already taken.
    _newcomer(tenant, "copycat", f"renamed.{old}")

    dry = acme.sync(dry_run=True)
    real = acme.sync(full=True)

    assert _decided(acme, dry["run_id"]) == _decided(acme, real["run_id"])
    assert real["counts"]["conflict"] >= 1


def test_dry_run_of_an_address_handed_over_decides_like_the_real_run(acme):
    acme.sync()
    old = leaf_employees(acme.export(), 1)[0]
    tenant = acme.sim.tenant
    newcomer = _newcomer(tenant, "newcomer", old)
    tenant.rename_address(uid(acme.sim, old), mail=f"moved.{old}")

    dry = acme.sync(dry_run=True)
    real = acme.sync(full=True)

    assert _decided(acme, dry["run_id"]) == _decided(acme, real["run_id"])
    assert ("created", newcomer, old) in {(d.kind, d.m365_id, d.email) for d in acme.decisions(real["run_id"])}


def test_a_user_waiting_for_a_seat_and_a_renamed_employee_wanting_its_address_both_get_a_decision(
        m365_config, sim):
    acme = Harness(m365_config, sim, seats=None)
    acme.sync()
    taken = len(acme.employees())
    with acme.engine.begin() as conn:
        conn.execute(update(Organization).where(Organization.id == acme.org.id).values(seats=taken + 3))
    renamed = leaf_employees(acme.export(), 1)[0]
    renamed_user = uid(sim, renamed)
    wanted = "aaa.waiting@contoso.example"
    # The newcomer waits for a seat; later in the round an employee's user is renamed to the same address.
    sim.settings.delta_page_size = 1  # each change on its own page
    waiting = _newcomer(sim.tenant, "aaa.waiting", wanted)
    sim.tenant.rename_address(renamed, mail=wanted)

    result = acme.sync()

    assert result["status"] == "succeeded"
    [conflict] = acme.decisions(result["run_id"], "conflict")
    assert (conflict.m365_id, conflict.email) == (renamed_user, wanted)
    assert "the address was kept" in conflict.reason
    employees = acme.employees()
    assert employees[wanted].m365_id == waiting
    assert employees[renamed].m365_id == renamed_user
