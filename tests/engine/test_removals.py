"""Users gone from Microsoft 365: deleted, deactivated or kept per setting; many at once wait for approval."""

from __future__ import annotations

import pytest

from tests.engine.support import leaf_employees

JUERGEN = "juergen.mueller@contoso.example"


@pytest.mark.parametrize(("setting", "kind"), [("delete", "deleted"), ("deactivate", "deactivated"),
                                               ("keep", "unlinked")])
def test_deleted_user_is_removed_as_the_setting_says(acme, setting, kind):
    acme.configure(settings={"removal": setting})
    acme.add_manual("anna.schmidt@contoso.example", job_title="HR")  # linked by the first run
    acme.sync()
    [gone] = leaf_employees(acme.export(), 1)
    acme.sim.tenant.hard_delete(gone)
    acme.sim.tenant.soft_delete("Anna.Schmidt@contoso.example")

    result = acme.sync()

    employees = acme.employees()
    if setting == "delete":
        assert gone not in employees
        # Made by hand before the sync linked it: deactivated, never deleted.
        assert employees["anna.schmidt@contoso.example"].status == "inactive"
        assert result["counts"] == {"deleted": 1, "deactivated": 1}
    elif setting == "deactivate":
        assert employees[gone].status == "inactive" and employees[gone].m365_id
        assert result["counts"] == {"deactivated": 2}
    else:
        assert (employees[gone].status, employees[gone].source, employees[gone].m365_id) == ("active", "manual", None)
        assert result["counts"] == {"unlinked": 2}
    reasons = {d.email: d.reason for d in acme.decisions(result["run_id"], kind)}
    assert reasons[gone].startswith("deleted in Microsoft 365")
    assert "(restorable)" not in reasons[gone]


@pytest.mark.parametrize("threshold", [{"count": 2, "percent": 100}, {"count": 1000, "percent": 1}],
                         ids=["count", "percent"])
def test_removals_over_the_threshold_are_held_while_other_changes_apply(acme, threshold):
    acme.configure(settings={"removal_threshold": threshold})
    acme.sync()
    doomed = leaf_employees(acme.export(), 3)
    for email in doomed:
        acme.sim.tenant.hard_delete(email)
    acme.sim.tenant.update_user("Juergen.Mueller@contoso.example", jobTitle="Vertriebsdirektor")

    result = acme.sync()

    assert result["status"] == "succeeded"
    assert result["counts"] == {"updated": 1, "removal_held": 3}
    held = acme.decisions(result["run_id"], "removal_held")
    assert {d.email for d in held} == set(doomed)
    assert {d.resolution for d in held} == {"pending"}
    assert "approve or discard" in held[0].reason
    assert {acme.employee(e).status for e in doomed} == {"active"}
    assert acme.employee(JUERGEN).job_title == "Vertriebsdirektor"


def _hold_three(acme) -> tuple[int, list[str]]:
    acme.configure(settings={"removal_threshold": {"count": 2, "percent": 100}})
    acme.sync()
    doomed = leaf_employees(acme.export(), 3)
    for email in doomed:
        acme.sim.tenant.soft_delete(email)
    result = acme.sync()
    assert result["counts"] == {"removal_held": 3}
    return result["run_id"], doomed


def test_approving_held_removals_applies_them(acme, cli):
    run_id, doomed = _hold_three(acme)

    out = cli("m365", "approve-removals", "acme", str(run_id))

    assert out.exit_code == 0, out.output
    assert "3 removal(s) applied" in out.output
    assert {acme.employee(e).status for e in doomed} == {"inactive"}
    assert {d.resolution for d in acme.decisions(run_id, "removal_held")} == {"approved"}
    assert len(acme.decisions(run_id, "deactivated")) == 3
    assert "removal_held" not in acme.sync()["counts"]  # nothing left to hold
    again = cli("m365", "approve-removals", "acme", str(run_id))
    assert again.exit_code == 1 and "no removals waiting" in again.output


def test_discarded_removals_stay_and_are_held_again_while_the_users_are_gone(acme, cli):
    run_id, doomed = _hold_three(acme)

    out = cli("m365", "discard-removals", "acme", str(run_id))

    assert out.exit_code == 0, out.output
    assert {acme.employee(e).status for e in doomed} == {"active"}
    assert {d.resolution for d in acme.decisions(run_id, "removal_held")} == {"discarded"}

    later = acme.sync()
    assert later["mode"] == "full"  # held removals make the next run look at everyone again
    assert later["counts"]["removal_held"] == 3
    assert {d.email for d in acme.decisions(later["run_id"], "removal_held")} == set(doomed)

    acme.sim.tenant.restore(doomed[0])
    last = acme.sync()
    assert last["counts"]["deactivated"] == 2  # two are within the threshold: applied at once
    assert "removal_held" not in last["counts"]


@pytest.mark.parametrize("full", [False, True], ids=["delta", "full"])
def test_deactivated_employee_becomes_active_again_when_the_user_is_restored(acme, full):
    acme.sync()
    [email] = leaf_employees(acme.export(), 1)
    acme.sim.tenant.soft_delete(email)
    result = acme.sync()
    [decision] = acme.decisions(result["run_id"], "deactivated")
    assert decision.reason == "deleted in Microsoft 365 (restorable)"
    assert acme.employee(email).status == "inactive"

    acme.sim.tenant.restore(email)
    back = acme.sync(full=full)

    assert back["counts"] == {"reactivated": 1} if not full else back["counts"]["reactivated"] == 1
    assert acme.employee(email).status == "active"


def test_user_leaving_the_scope_is_removed_like_a_deleted_one(acme):
    acme.sync()
    acme.sim.tenant.update_user("Juergen.Mueller@contoso.example", accountEnabled=False)

    result = acme.sync()

    assert result["counts"] == {"out_of_scope": 1, "deactivated": 1}
    [decision] = acme.decisions(result["run_id"], "deactivated")
    assert decision.reason == "left the import scope: account disabled"
    assert acme.employee(JUERGEN).status == "inactive"


def test_approving_an_old_hold_spares_users_who_came_back(acme, cli):
    run_id, doomed = _hold_three(acme)
    for email in doomed:
        acme.sim.tenant.restore(email)
    assert acme.sync()["status"] == "succeeded"  # a later run finds them again

    out = cli("m365", "approve-removals", "acme", str(run_id))

    assert out.exit_code == 0, out.output
    assert "0 removal(s) applied" in out.output
    assert {acme.employee(e).status for e in doomed} == {"active"}


def test_past_leavers_do_not_dilute_the_removal_threshold(acme):
    acme.configure(settings={"removal_threshold": {"count": 10_000, "percent": 100}})
    acme.sync()
    rows = acme.export()
    gone = leaf_employees(rows, 10)
    leavers = sorted(e for e, r in rows.items() if r["m365_id"] and e not in gone)[:150]
    for email in leavers:  # leavers of the past: deactivated, still linked
        acme.sim.tenant.hard_delete(email)
    assert acme.sync()["counts"] == {"deactivated": len(leavers)}
    active = len(acme.export(status="active"))
    # 10 removals: under 5 % of every linked employee, well over 5 % of the active ones they can affect.
    assert len(gone) * 100 < 5 * len(rows) and len(gone) * 100 > 5 * active
    acme.configure(settings={"removal_threshold": {"count": 10_000, "percent": 5}})
    acme.sync()
    for email in gone:
        acme.sim.tenant.hard_delete(email)

    result = acme.sync()

    assert result["counts"] == {"removal_held": len(gone)}
    assert all(acme.employee(email).status == "active" for email in gone)
