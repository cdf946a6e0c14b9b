"""Delta runs apply exactly what changed in Microsoft 365, and end where a clean full run would."""

from __future__ import annotations

from dataclasses import replace

from portal import connections
from portal.sync.engine import create_run, run_sync
from tests.engine.support import differences, leaf_employees, uid

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
    assert differences(_active(after), reference) == {}


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


class _OnlyChangedProperties:
    """The real Graph client, its delta records cut to the id and what changed.

    Microsoft documents that an updated object carries "at least the properties that have been
    updated" (and only those with ``Prefer: return=minimal``); the sync must not read a missing
    property as an emptied one.
    """

    def __init__(self, graph, keep: set[str]) -> None:
        self._graph, self._keep = graph, keep | {"id"}

    def __getattr__(self, name):
        return getattr(self._graph, name)

    def iter_delta(self, *args, **kwargs):
        for page in self._graph.iter_delta(*args, **kwargs):
            yield replace(page, users=[{k: v for k, v in u.items() if k in self._keep} for u in page.users])


def test_delta_records_with_only_the_changed_properties_keep_everything_else(acme, fresh):
    acme.configure(settings={"empty_values": "clear"})  # a missing property must still not clear a field
    acme.sync()
    email = leaf_employees(acme.export(), 1)[0]
    before = acme.export()[email]
    acme.sim.tenant.update_user(email, jobTitle="Chief Partial Officer")

    run_id = create_run(acme.engine, acme.connection.id)
    with connections.graph_for(acme.config, acme.engine, acme.connection_row()) as graph:
        run = run_sync(acme.engine, run_id, _OnlyChangedProperties(graph, {"jobTitle"}))

    assert (run.status, run.mode) == ("succeeded", "delta")
    after = acme.export()[email]
    assert after["job_title"] == "Chief Partial Officer"
    assert {k: v for k, v in after.items() if k != "job_title"} == {
        k: v for k, v in before.items() if k != "job_title"}
    assert after == fresh(settings={"empty_values": "clear"}).export()[email]


def test_a_user_never_seen_arriving_as_a_partial_record_is_read_in_full(acme):
    acme.sync()
    newcomer = acme.sim.tenant.add_user({
        "displayName": "Paula Partial", "givenName": "Paula", "surname": "Partial",
        "mail": "paula.partial@contoso.example", "userPrincipalName": "paula.partial@contoso.example",
        "jobTitle": "Analyst", "accountEnabled": True, "userType": "Member"})

    run_id = create_run(acme.engine, acme.connection.id)
    with connections.graph_for(acme.config, acme.engine, acme.connection_row()) as graph:
        run = run_sync(acme.engine, run_id, _OnlyChangedProperties(graph, {"displayName"}))

    assert run.status == "succeeded"
    paula = acme.employee("paula.partial@contoso.example")
    assert (paula.m365_id, paula.first_name, paula.job_title) == (newcomer, "Paula", "Analyst")
