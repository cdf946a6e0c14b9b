"""Paused and excluded employees, and a paused connection: the sync keeps its hands off."""

from __future__ import annotations

import pytest

from portal import connections
from portal.sync.engine import SyncRefused
from tests.engine.support import leaf_employees

JUERGEN = "juergen.mueller@contoso.example"
JUERGEN_UPN = "Juergen.Mueller@contoso.example"


def test_paused_employee_is_untouched_while_graph_changes_it_and_catches_up_when_resumed(acme):
    acme.sync()
    acme.set_status(JUERGEN, "pause")
    before = acme.employee(JUERGEN)
    acme.sim.tenant.update_user(JUERGEN_UPN, jobTitle="Vertriebsdirektor")

    paused = acme.sync()

    after = acme.employee(JUERGEN)
    assert (after.job_title, after.status, after.updated_at) == ("Leiter Vertrieb", "paused", before.updated_at)
    [decision] = acme.decisions(paused["run_id"], "paused")
    assert decision.details["fields"] == {"job_title": {"synced": "Leiter Vertrieb", "m365": "Vertriebsdirektor"}}

    acme.set_status(JUERGEN, "resume")
    resumed = acme.sync()

    assert resumed["mode"] == "delta"
    assert acme.employee(JUERGEN).job_title == "Vertriebsdirektor"
    assert resumed["counts"] == {"updated": 1}


def test_excluded_employee_is_not_changed_and_not_imported_again(acme):
    acme.sync()
    acme.set_status(JUERGEN, "exclude")
    before = acme.employee(JUERGEN)
    acme.sim.tenant.update_user(JUERGEN_UPN, jobTitle="Vertriebsdirektor")

    delta = acme.sync()
    full = acme.sync(full=True)

    matching = [e for e in acme.employees().values() if e.m365_id == before.m365_id or e.email == JUERGEN]
    assert len(matching) == 1
    after = matching[0]
    assert (after.id, after.job_title, after.status, after.updated_at) == (
        before.id, "Leiter Vertrieb", "excluded", before.updated_at)
    assert [d.kind for d in acme.decisions(delta["run_id"])] == ["excluded"]
    assert "created" not in full["counts"]
    assert [d.email for d in acme.decisions(full["run_id"], "excluded")] == [JUERGEN]


def test_paused_connection_refuses_to_sync_and_changes_nothing(acme):
    acme.sync()
    before = acme.export()
    acme.sim.tenant.update_user(JUERGEN_UPN, jobTitle="Vertriebsdirektor")
    connections.set_connection_paused(acme.engine, acme.connection_row(), True)

    result, error = acme.try_sync()

    assert isinstance(error, SyncRefused)
    assert result["status"] == "failed"
    assert result["error"] == "The Microsoft 365 connection is paused. Resume it to sync."
    assert acme.export() == before
    assert acme.decisions(result["run_id"]) == []

    connections.set_connection_paused(acme.engine, acme.connection_row(), False)
    assert acme.sync()["counts"] == {"updated": 1}


def test_paused_connection_refusal_reaches_the_caller(acme):
    connections.set_connection_paused(acme.engine, acme.connection_row(), True)
    with pytest.raises(SyncRefused, match="paused"):
        acme.sync()
    assert acme.employees() == {}


def test_included_employee_catches_up_with_what_changed_while_excluded(acme):
    acme.sync()
    acme.set_status(JUERGEN, "exclude")
    acme.sim.tenant.update_user(JUERGEN_UPN, jobTitle="Vertriebsdirektor", city="Potsdam")
    acme.sync()
    assert acme.employee(JUERGEN).job_title == "Leiter Vertrieb"

    acme.set_status(JUERGEN, "include")
    result = acme.sync()

    assert (result["mode"], result["counts"]) == ("delta", {"updated": 1})
    juergen = acme.employee(JUERGEN)
    assert (juergen.job_title, juergen.city, juergen.status) == ("Vertriebsdirektor", "Potsdam", "active")


def test_paused_manager_still_passes_new_name_to_the_reports(acme):
    acme.sync()
    acme.set_status("zoe@contoso.example", "pause")
    acme.sim.tenant.update_user("zoe@contoso.example", displayName="Zoë Durand")

    result = acme.sync()

    assert acme.employee("zoe@contoso.example").display_name == "Zoë"
    assert acme.employee("hanako.sato@contoso.example").manager_name == "Zoë Durand"
    assert result["counts"] == {"paused": 1, "updated": 2}


def test_employee_resumed_while_a_run_is_going_catches_up_on_the_next_delta_run(acme):
    acme.sync()
    email = leaf_employees(acme.export(), 1)[0]
    acme.set_status(email, "pause")
    acme.sim.tenant.update_user(email, jobTitle="Changed while paused")
    resumed: list[bool] = []

    def resume_after_the_page(done, total, phase):
        if phase == "users" and not resumed:  # the run has judged this employee as paused already
            acme.set_status(email, "resume")
            resumed.append(True)

    during = acme.sync(progress=resume_after_the_page)
    assert resumed and during["counts"].get("paused") == 1
    assert acme.employee(email).job_title != "Changed while paused"

    after = acme.sync()

    assert after["mode"] == "delta"
    assert acme.employee(email).job_title == "Changed while paused"
