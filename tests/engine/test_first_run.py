"""The first run: who becomes an employee, with which values, and why the others did not."""

from __future__ import annotations

import pytest

from tests.engine.support import uid

SPLIT_DEPARTMENTS = [{"name": "Everyone", "departments": {"from_attribute": "department", "split": ";"}}]


def test_first_run_creates_employees_with_mapped_fields_in_any_script(acme):
    result = acme.sync()

    assert result["status"] == "succeeded" and result["mode"] == "full"
    rows = acme.export()
    assert len(rows) == result["counts"]["created"]
    juergen = rows["juergen.mueller@contoso.example"]
    assert (juergen["first_name"], juergen["last_name"], juergen["display_name"]) == ("Jürgen", "Müller",
                                                                                       "Jürgen Müller")
    assert (juergen["job_title"], juergen["department"]) == ("Leiter Vertrieb", "Sales")
    juergen_id = uid(acme.sim, "Juergen.Mueller@contoso.example")
    assert (juergen["source"], juergen["status"], juergen["m365_id"]) == ("m365", "active", juergen_id)
    assert rows["wei.wang@contoso.example"]["display_name"] == "王伟"
    assert rows["wei.wang@contoso.example"]["job_title"] == "高级软件工程师"
    assert rows["dmitry.ivanov@contoso.example"]["first_name"] == "Дмитрий"
    assert rows["nikos.papadopoulos@contoso.example"]["last_name"] == "Παπαδόπουλος"
    assert rows["hanako.sato@contoso.example"]["display_name"] == "佐藤 花子"
    created = acme.decisions(result["run_id"], "created")
    assert {d.reason for d in created} == {"no import rules"}


def test_multi_value_department_is_split_into_departments_by_a_rule(acme):
    acme.configure(import_rules=SPLIT_DEPARTMENTS)
    acme.sync()

    jose = acme.export()["jose.garcia@contoso.example"]
    assert jose["department"] == "Sales;Marketing"  # the field keeps Graph's text
    assert jose["departments"] == ["Marketing", "Sales"]
    assert acme.export()["juergen.mueller@contoso.example"]["departments"] == ["Sales"]


def test_users_without_a_licence_are_imported(acme):
    acme.sync()

    rows = acme.export()
    assert acme.sim.tenant.get_user("Ole.Nordmann@contoso.example")["assignedLicenses"] == []
    assert rows["ole.nordmann@contoso.example"]["status"] == "active"
    assert "adams@contoso.example" in rows  # a room mailbox without a licence


@pytest.mark.parametrize(("setting", "email", "reason"), [
    ("include_disabled", "max.mustermann@contoso.example", "account disabled"),
    ("include_guests", "adele.vance@fabrikam.example", "guest user"),
])
def test_disabled_accounts_and_guests_are_out_of_scope_unless_included(acme, setting, email, reason):
    first = acme.sync()

    assert email not in acme.employees()
    [decision] = [d for d in acme.decisions(first["run_id"], "out_of_scope") if d.email == email]
    assert decision.reason == reason

    acme.configure(settings={setting: True})
    second = acme.sync()

    assert second["mode"] == "full"
    assert acme.employee(email).status == "active"
    assert email in {d.email for d in acme.decisions(second["run_id"], "created")}


def test_user_without_usable_address_is_skipped_with_the_reason(acme):
    odd = acme.sim.tenant.add_user({"userPrincipalName": "room42#EXT#@contoso.example", "displayName": "Room 42",
                                    "mail": "not an address"})

    result = acme.sync()

    [skipped] = acme.decisions(result["run_id"], "skipped")
    assert skipped.m365_id == odd
    assert skipped.reason == ("no usable e-mail address: mail 'not an address' is not an e-mail address and "
                              "the user principal name is a guest (#EXT#) name")
    assert not [e for e in acme.employees().values() if e.m365_id == odd]


def test_duplicate_addresses_in_any_case_make_one_employee_and_a_conflict(acme):
    acme.configure(settings={"include_disabled": True})
    later = acme.sim.tenant.add_user({"userPrincipalName": "jm2@contoso.example", "displayName": "Jürgen Zwo",
                                      "mail": "JUERGEN.MUELLER@contoso.example"})

    result = acme.sync()

    assert result["status"] == "succeeded"
    conflicts = {d.m365_id: d for d in acme.decisions(result["run_id"], "conflict")}
    old_anna = uid(acme.sim, "a.schmidt@contoso.example")  # the same mail as Anna.Schmidt, listed after her
    assert set(conflicts) == {old_anna, later}
    assert conflicts[later].email == "juergen.mueller@contoso.example"
    employees = acme.employees()
    assert employees["anna.schmidt@contoso.example"].m365_id == uid(acme.sim, "Anna.Schmidt@contoso.example")
    assert employees["juergen.mueller@contoso.example"].m365_id == uid(acme.sim, "Juergen.Mueller@contoso.example")
    assert employees["max.mustermann@contoso.example"].status == "active"  # the run went on
