"""Delta runs apply exactly what changed in Microsoft 365, and end where a clean full run would."""

from __future__ import annotations

from tests.engine.support import leaf_employees, uid

SPLIT = [{"name": "Everyone", "departments": {"from_attribute": "department", "split": ";"}}]


def _active(rows: dict[str, dict]) -> dict[str, dict]:
    return {email: row for email, row in rows.items() if row["status"] == "active"}


def test_delta_run_applies_exactly_the_changes_and_equals_a_full_run_from_scratch(acme, fresh):
    acme.configure(import_rules=SPLIT)
    acme.sync()
    rows = acme.export()
    restored, soft, hard, retitled = leaf_employees(rows, 4)
    tenant = acme.sim.tenant
    tenant.soft_delete(restored)
    assert acme.sync()["counts"] == {"deactivated": 1}
    assert acme.employee(restored).status == "inactive"

    tenant.update_user(retitled, jobTitle="Chief Signature Officer")
    added = tenant.add_user({"userPrincipalName": "neu.person@contoso.example", "displayName": "Neu Person",
                             "givenName": "Neu", "surname": "Person", "mail": "Neu.Person@contoso.example",
                             "department": "Sales;Legal", "jobTitle": "Trainee"})
    tenant.soft_delete(soft)
    tenant.hard_delete(hard)
    tenant.restore(restored)
    # A manager gets a new address: their reports' manager_email follows.
    tenant.rename_address("Juergen.Mueller@contoso.example", mail="J.Mueller@contoso.example")

    result = acme.sync()

    assert result["mode"] == "delta"
    assert result["counts"] == {"updated": 3, "created": 1, "deactivated": 2, "reactivated": 1}
    decided = {(d.kind, d.email) for d in acme.decisions(result["run_id"])}
    assert {e for k, e in decided if k == "updated"} == {retitled, "j.mueller@contoso.example",
                                                         "paul.fischer@contoso.example"}
    assert {e for k, e in decided if k == "deactivated"} == {soft, hard}
    after = acme.export()
    assert after["neu.person@contoso.example"]["departments"] == ["Legal", "Sales"]
    assert after["neu.person@contoso.example"]["m365_id"] == added
    assert after[retitled]["job_title"] == "Chief Signature Officer"
    assert after["j.mueller@contoso.example"]["m365_id"] == uid(acme.sim, "Juergen.Mueller@contoso.example")
    assert "juergen.mueller@contoso.example" not in after
    assert after[restored]["status"] == "active"
    assert after[soft]["status"] == after[hard]["status"] == "inactive"

    reference = fresh(import_rules=SPLIT).export()
    assert _differences(_active(after), reference) == {}


def _differences(got: dict[str, dict], want: dict[str, dict]) -> dict:
    """Field by field, what differs between two exports (readable where == would print a wall)."""
    out: dict = {}
    for email in sorted(got.keys() | want.keys()):
        a, b = got.get(email), want.get(email)
        if a is None or b is None:
            out[email] = "only in the delta org" if b is None else "only in the reference"
        elif a != b:
            out[email] = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    return out


def test_user_taking_another_users_address_keeps_their_own_in_delta_and_full_runs(acme):
    acme.sync()
    # Zoë is listed right after Jürgen: in a full run both are on the same page.
    acme.sim.tenant.update_user("zoe@contoso.example", mail="Juergen.Mueller@contoso.example", jobTitle="CMO")

    delta = acme.sync()
    full = acme.sync(full=True)

    for result in (delta, full):
        [conflict] = acme.decisions(result["run_id"], "conflict")
        assert conflict.m365_id == uid(acme.sim, "zoe@contoso.example")
        assert conflict.reason == ("juergen.mueller@contoso.example already belongs to another employee; "
                                   "the address was kept")
        assert not {"deactivated", "deleted", "unlinked", "removal_held"} & set(result["counts"])
    zoe = acme.employee("zoe@contoso.example")
    assert (zoe.status, zoe.job_title, zoe.m365_id) == ("active", "CMO", uid(acme.sim, "zoe@contoso.example"))
    assert acme.employee("juergen.mueller@contoso.example").m365_id == uid(acme.sim,
                                                                          "Juergen.Mueller@contoso.example")
