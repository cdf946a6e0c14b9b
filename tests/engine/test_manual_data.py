"""Employees an admin made or edited by hand: linked, never duplicated, hand-typed values respected."""

from __future__ import annotations

from tests.engine.support import uid

JUERGEN = "juergen.mueller@contoso.example"


def _decision(acme, run_id: int, kind: str, email: str = JUERGEN):
    [found] = [d for d in acme.decisions(run_id, kind) if d.email == email]
    return found


def test_manual_employee_with_the_same_address_is_linked_not_duplicated(acme):
    acme.add_manual("JUERGEN.Mueller@Contoso.example", city="Handstadt")

    result = acme.sync()

    employees = [e for e in acme.employees().values() if e.email == JUERGEN]
    assert len(employees) == 1
    juergen = employees[0]
    assert (juergen.source, juergen.m365_id) == ("m365", uid(acme.sim, "Juergen.Mueller@contoso.example"))
    assert not juergen.created_by_sync
    assert _decision(acme, result["run_id"], "linked").employee_id == juergen.id
    assert result["counts"]["linked"] == 1


def test_hand_typed_values_are_kept_when_overwrite_manual_is_off(acme):
    acme.add_manual(JUERGEN, job_title="Vertriebschef", city="Handstadt")

    result = acme.sync()

    juergen = acme.employee(JUERGEN)
    assert (juergen.job_title, juergen.city) == ("Vertriebschef", "Handstadt")
    assert juergen.last_name == "Müller"  # fields left empty by hand are filled from Microsoft 365
    kept = _decision(acme, result["run_id"], "kept_manual")
    assert kept.details["fields"]["job_title"] == {"manual": "Vertriebschef", "m365": "Leiter Vertrieb"}
    assert kept.details["fields"]["city"]["manual"] == "Handstadt"


def test_hand_typed_values_are_overwritten_when_overwrite_manual_is_on(acme):
    acme.configure(settings={"overwrite_manual": True})
    acme.add_manual(JUERGEN, job_title="Vertriebschef")

    result = acme.sync()

    assert acme.employee(JUERGEN).job_title == "Leiter Vertrieb"
    overwritten = _decision(acme, result["run_id"], "overwrote_manual")
    assert overwritten.details["fields"] == {"job_title": {"manual": "Vertriebschef", "m365": "Leiter Vertrieb"}}


def test_synced_field_edited_by_hand_is_kept_when_graph_changes_it_later(acme):
    acme.sync()
    acme.edit(JUERGEN, job_title="Head of Sales DACH")
    acme.sim.tenant.update_user("Juergen.Mueller@contoso.example", jobTitle="Vertriebsdirektor", city="Potsdam")

    result = acme.sync()

    assert result["mode"] == "delta"
    juergen = acme.employee(JUERGEN)
    assert (juergen.job_title, juergen.city) == ("Head of Sales DACH", "Potsdam")
    kept = _decision(acme, result["run_id"], "kept_manual")
    assert kept.details["fields"] == {"job_title": {"manual": "Head of Sales DACH", "m365": "Vertriebsdirektor"}}
    assert _decision(acme, result["run_id"], "updated").details["fields"]["city"]["after"] == "Potsdam"

    again = acme.sync(full=True)  # nothing new: the hand-typed value is not reported again
    assert not acme.decisions(again["run_id"], "kept_manual")
    assert acme.employee(JUERGEN).job_title == "Head of Sales DACH"


def test_hand_edit_is_overwritten_by_the_next_delta_run_when_overwrite_manual_is_on(acme):
    acme.configure(settings={"overwrite_manual": True})
    acme.sync()
    acme.edit(JUERGEN, job_title="Typed by hand")  # nothing changes in Microsoft 365

    result = acme.sync()

    assert result["mode"] == "delta"
    assert acme.employee(JUERGEN).job_title == "Leiter Vertrieb"  # as a full run would have it
    assert _decision(acme, result["run_id"], "overwrote_manual").details["fields"] == {
        "job_title": {"manual": "Typed by hand", "m365": "Leiter Vertrieb"}}
    assert acme.sync()["counts"] == {}
