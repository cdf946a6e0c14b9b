"""A dry run decides exactly what a real run would, and writes nothing but the run and its decisions."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from portal.models import Department, EmployeeDepartment, GroupMember
from tests.engine.support import group_id, leaf_employees

RULES = [{"name": "Falcon", "conditions": [{"attribute": "memberOf", "operator": "member_of", "value": ""}],
          "departments": {"names": ["Falcon"]}},
         {"name": "Everyone", "departments": {"from_attribute": "department", "split": ";"}}]


def _decided(acme, run_id: int) -> Counter:
    return Counter((d.kind, d.m365_id, d.email, d.reason, repr(d.details)) for d in acme.decisions(run_id))


def _written(acme) -> tuple:
    """Everything a run may write besides its own rows."""
    connection = acme.connection_row()
    with acme.engine.begin() as conn:
        counts = tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                       for t in (Department, EmployeeDepartment, GroupMember))
    employees = {e: (r.updated_at, r.status, r.m365_snapshot, r.synced_values) for e, r in acme.employees().items()}
    return employees, counts, connection.delta_link, connection.delta_config_hash, connection.last_full_run_at


def _configure(acme) -> None:
    rules = [dict(RULES[0], conditions=[dict(RULES[0]["conditions"][0], value=group_id(acme.sim, "Project Falcon"))]),
             RULES[1]]
    acme.configure(settings={"include_disabled": True}, import_rules=rules)


def test_dry_run_of_a_first_sync_decides_like_the_real_one_and_writes_nothing(acme):
    acme.sim.settings.delta_page_size = 9  # the two Anna Schmidts land on different pages
    _configure(acme)
    acme.add_manual("ZOE@contoso.example", job_title="Marketing")
    before = _written(acme)

    dry = acme.sync(dry_run=True)

    assert (dry["status"], dry["mode"]) == ("succeeded", "dry_run")
    assert _written(acme) == before
    real = acme.sync()
    assert _decided(acme, dry["run_id"]) == _decided(acme, real["run_id"])
    assert dry["counts"] == real["counts"]
    assert {"created", "linked", "kept_manual", "conflict", "out_of_scope"} <= set(real["counts"])


def test_dry_run_after_changes_decides_like_a_full_run_and_writes_nothing(acme):
    _configure(acme)
    acme.sync()
    rows = acme.export()
    gone, retitled = leaf_employees(rows, 2)
    tenant = acme.sim.tenant
    tenant.hard_delete(gone)
    tenant.update_user(retitled, jobTitle="Chief Signature Officer", department="Legal;Sales")
    tenant.update_user("zoe@contoso.example", displayName="Zoë Durand")  # a manager: reports follow
    tenant.add_user({"userPrincipalName": "neu@contoso.example", "displayName": "Neu", "mail": "neu@contoso.example"})
    tenant.remove_member(group_id(acme.sim, "Project Falcon"), "Juergen.Mueller@contoso.example")
    acme.edit("anna.schmidt@contoso.example", job_title="Typed by hand")
    tenant.update_user("Anna.Schmidt@contoso.example", jobTitle="HR Lead")
    before = _written(acme)

    dry = acme.sync(dry_run=True)

    assert _written(acme) == before
    real = acme.sync(full=True)
    assert _decided(acme, dry["run_id"]) == _decided(acme, real["run_id"])
    assert {"created", "updated", "deactivated", "kept_manual"} <= set(real["counts"])


def test_dry_run_holds_removals_like_a_real_run_but_they_cannot_be_approved(acme, cli):
    acme.configure(settings={"removal_threshold": {"count": 1, "percent": 100}})
    acme.sync()
    doomed = leaf_employees(acme.export(), 2)
    for email in doomed:
        acme.sim.tenant.hard_delete(email)

    dry = acme.sync(dry_run=True)

    assert dry["counts"]["removal_held"] == 2
    out = cli("m365", "approve-removals", "acme", str(dry["run_id"]))
    assert out.exit_code == 1
    assert "dry run" in out.output
    assert {acme.employee(e).status for e in doomed} == {"active"}


def test_a_dry_run_keeps_its_traces_in_the_database_for_its_length_only(acme):
    from portal.models import DryRunMark

    acme.sim.settings.delta_page_size = 50
    during: list[int] = []

    def count_marks(done, total, phase):
        if phase == "users":
            with acme.engine.begin() as conn:
                during.append(conn.execute(select(func.count()).select_from(DryRunMark)).scalar_one())

    acme.add_manual("zoe@contoso.example")
    dry = acme.sync(dry_run=True, progress=count_marks)
    real = acme.sync()

    # What earlier pages did (employees seen, addresses taken) is read back a chunk at a time, not held.
    assert during and during[-1] > during[0] > 0
    with acme.engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(DryRunMark)).scalar_one() == 0
    assert _decided(acme, dry["run_id"]) == _decided(acme, real["run_id"])
