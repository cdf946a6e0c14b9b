"""Bad input and failures end in a clear state, and nothing finished is lost."""

from __future__ import annotations

from dataclasses import replace

import pytest

from portal import connections
from portal.m365.errors import ConsentRequired, GraphThrottled, GraphUnavailable
from portal.sync.engine import SyncRefused, create_run, run_sync
from simulator.faults import Fault
from tests.engine.support import differences, leaf_employees

DELTA = "/v1.0/users/delta"
SPLIT = [{"name": "Everyone", "departments": {"from_attribute": "department", "split": ";"}}]


def _converged(acme, fresh) -> None:
    """The organisation's active employees are exactly what a clean full run from scratch gives."""
    reference = fresh(import_rules=SPLIT).export()
    assert differences(acme.export(status="active"), reference) == {}


def _change_many(acme, count: int = 120) -> list[str]:
    emails = leaf_employees(acme.export(), count)
    for n, email in enumerate(emails):
        acme.sim.tenant.update_user(email, jobTitle=f"Title {n}", department="Legal;Sales")
    return emails


# -- odd data ----------------------------------------------------------------------------------


def test_users_with_odd_types_are_synced_without_failing_the_run(acme):
    odd = acme.sim.tenant.add_user({
        "userPrincipalName": "odd.types@contoso.example", "displayName": "Odd Types",
        "mail": "odd.types@contoso.example",
        "businessPhones": None, "jobTitle": 1234, "department": ["Sales", "Legal"], "givenName": {"first": "Odd"},
        "mobilePhone": True, "city": "  Köln  ", "accountEnabled": "true", "onPremisesExtensionAttributes": None})
    acme.configure(import_rules=SPLIT,
                   mapping={"custom.cost_center": "onPremisesExtensionAttributes.extensionAttribute1"})

    result = acme.sync()

    assert result["status"] == "succeeded"
    row = acme.export()["odd.types@contoso.example"]
    assert (row["phone"], row["job_title"], row["department"], row["first_name"]) == ("", "1234", "", "")
    assert (row["mobile"], row["city"], row["custom"], row["departments"]) == ("true", "Köln", {}, [])
    assert row["m365_id"] == odd
    assert acme.sync(full=True)["counts"].get("updated") is None  # and odd data stays stable


ONLY_AN_ID = "00000000-0000-4000-8000-000000000001"


class _OddPages:
    """The real Graph client, its pages bent: unknown properties, missing ones, records without an id."""

    def __init__(self, graph) -> None:
        self._graph = graph

    def __getattr__(self, name):
        return getattr(self._graph, name)

    def iter_delta(self, *args, **kwargs):
        for number, page in enumerate(self._graph.iter_delta(*args, **kwargs)):
            users = [{**{k: v for k, v in u.items() if k != "officeLocation"}, "futureProperty": {"nested": [1, None]},
                      "weird@odata.type": "#x", "jobTitle@x": 5, "businessPhones": None} for u in page.users]
            odd = [{"displayName": "no id"}, {"id": ONLY_AN_ID}] if number == 0 else []
            yield replace(page, users=[*odd, *users])


def test_unknown_or_missing_properties_in_a_graph_page_do_not_fail_the_run(acme):
    run_id = create_run(acme.engine, acme.connection.id)
    with connections.graph_for(acme.config, acme.engine, acme.connection_row()) as graph:
        run = run_sync(acme.engine, run_id, _OddPages(graph))

    assert run.status == "succeeded"
    assert run.counts["created"] == 275
    juergen = acme.employee("juergen.mueller@contoso.example")
    assert (juergen.job_title, juergen.phone, juergen.office) == ("Leiter Vertrieb", "", "")
    assert "futureProperty" in juergen.m365_snapshot
    [skipped] = acme.decisions(run_id, "skipped")
    assert skipped.m365_id == ONLY_AN_ID
    assert skipped.reason.startswith("no usable e-mail address: mail is empty")


# -- throttling and outages ----------------------------------------------------------------------


@pytest.mark.parametrize(("retry_after", "decimal"), [(3, False), (2.128, True)])
def test_throttling_storm_is_waited_out_as_graph_asks(acme, retry_after, decimal):
    acme.sim.settings.delta_page_size = 25
    # Five in a row, then about every third request: a storm, but each request gets through within the retries.
    acme.sim.faults.add(Fault("throttle", retry_after=retry_after, decimal=decimal, count=5))
    acme.sim.faults.add(Fault("throttle", retry_after=retry_after, decimal=decimal, rate=0.35, count=20))

    result = acme.sync()

    assert result["status"] == "succeeded"
    assert len(acme.sleeps) >= 10
    assert set(acme.sleeps) == {retry_after}  # exactly Retry-After: never shorter, never guessed
    assert len(acme.employees()) == 275


def test_throttling_that_never_ends_fails_the_run_keeping_finished_pages(acme, fresh):
    acme.configure(import_rules=SPLIT)
    acme.sim.settings.delta_page_size = 50
    acme.sim.faults.add(Fault("throttle", retry_after=5, after=2, path_prefix=DELTA))

    result, error = acme.try_sync()

    assert isinstance(error, GraphThrottled)
    assert result["status"] == "failed"
    assert "asked Sigsync to slow down (HTTP 429)" in result["error"] and "Nothing was lost" in result["error"]
    kept = acme.employees()
    assert 80 <= len(kept) <= 100  # the two pages that came through, minus guests and disabled accounts
    assert acme.sleeps == [5] * 6
    connection = acme.connection_row()
    assert connection.delta_link is None and connection.lock_run_id is None
    assert "slow down" in connection.last_error

    acme.sim.faults.clear()
    again = acme.sync()
    assert (again["status"], again["mode"]) == ("succeeded", "full")
    assert {acme.employee(e).id for e in kept} == {e.id for e in kept.values()}  # the same rows, not new ones
    _converged(acme, fresh)


@pytest.mark.parametrize("how", ["expired token", "410 reset"])
def test_expired_delta_link_falls_back_to_a_full_run_in_the_same_run(acme, fresh, how):
    acme.configure(import_rules=SPLIT)
    acme.sync()
    changed = _change_many(acme, 5)
    if how == "expired token":
        acme.sim.faults.expire_delta_tokens()
    else:
        acme.sim.faults.reset_delta()

    result = acme.sync()

    assert (result["status"], result["mode"]) == ("succeeded", "full")
    assert result["counts"]["updated"] == 5
    assert acme.employee(changed[0]).job_title == "Title 0"
    refused = [i for i in acme.sim.log.items("graph") if i.path == DELTA and i.status in (400, 410)]
    assert len(refused) == 1 and "deltatoken" in refused[0].query
    _converged(acme, fresh)
    assert acme.sync()["mode"] == "delta"


def test_consent_revoked_mid_run_fails_it_and_asks_for_a_reconnect(acme):
    acme.sim.settings.delta_page_size = 50

    def revoke(done, total, phase):
        if phase == "users" and acme.sim.tokens.admin_consent:
            acme.sim.tokens.admin_consent = False  # the admin removed Sigsync's permissions
            acme.sim.tokens.expire_access_tokens()

    result, error = acme.try_sync(progress=revoke)

    assert isinstance(error, ConsentRequired)
    assert result["status"] == "failed"
    assert "reconnect" in result["error"] and "administrator" in result["error"]
    connection = acme.connection_row()
    assert connection.state == "needs_consent"
    assert connection.delta_link is None
    assert len(acme.employees()) > 0  # the first page is kept

    later, refused = acme.try_sync()
    assert isinstance(refused, SyncRefused)
    assert later["error"] == "Microsoft 365 needs the admin's consent again. Reconnect to sync."


def test_dropped_connections_are_retried_and_the_run_succeeds(acme):
    acme.sim.settings.delta_page_size = 50
    acme.sim.faults.drop(after=2, count=3, path_prefix=DELTA)

    result = acme.sync()

    assert result["status"] == "succeeded"
    assert len(acme.employees()) == 275
    assert len(acme.sleeps) == 3
    assert [i.status for i in acme.sim.log.items("graph") if i.path == DELTA].count(0) == 3


# -- a run that dies half way ---------------------------------------------------------------------


def test_run_dying_half_way_loses_nothing_and_the_next_run_converges(acme, fresh):
    acme.configure(import_rules=SPLIT)
    acme.sim.settings.delta_page_size = 50
    acme.sync()
    link = acme.connection_row().delta_link
    changed = _change_many(acme)
    gone = leaf_employees(acme.export(), 1, skip=len(changed))[0]
    acme.sim.tenant.soft_delete(gone)  # removals come at the end of a run
    # The network goes for good after the first page of changes: every retry fails.
    acme.sim.faults.drop(after=1, count=None, path_prefix=DELTA)

    result, error = acme.try_sync()

    assert isinstance(error, GraphUnavailable)
    assert result["status"] == "failed" and "could not be reached" in result["error"]
    done = [e for e in changed if acme.employee(e).job_title.startswith("Title ")]
    assert 0 < len(done) < len(changed)  # the first page is written, the rest is not
    assert acme.connection_row().delta_link == link
    assert acme.employee(gone).status == "active"

    acme.sim.faults.clear()
    again = acme.sync()
    assert (again["status"], again["mode"]) == ("succeeded", "delta")
    assert acme.employee(gone).status == "inactive"
    _converged(acme, fresh)


def test_run_crashing_inside_sigsync_loses_nothing_and_the_next_run_converges(acme, fresh):
    acme.configure(import_rules=SPLIT)
    acme.sim.settings.delta_page_size = 50

    def crash(done, total, phase):
        if done >= 100:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        acme.sync(progress=crash)

    run = acme.last_run()
    assert run.status == "failed"
    assert run.error == "Internal error: RuntimeError. Nothing was lost; run again."
    assert acme.connection_row().lock_run_id is None
    assert 80 <= len(acme.employees()) <= 100

    assert acme.sync()["status"] == "succeeded"
    _converged(acme, fresh)
