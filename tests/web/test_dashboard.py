"""The dashboard: connection, runs, employees by source and state, seats, and what needs the admin."""

from __future__ import annotations

import re

import pytest
from flask import url_for

from portal import dashboard
from portal.m365.errors import ConsentRequired
from portal.models import Connection, Employee, SyncDecision, SyncRun, utcnow


def _employees(db, org, source, status, n, start=0):
    db.add_all(Employee(organization_id=org.id, email=f"{source}-{status}-{start + i}@acme.example",
                        source=source, status=status) for i in range(n))
    db.commit()


def _connection(db, org, state="active", **settings):
    connection = Connection(organization_id=org.id, tenant_id="tenant-1", state=state,
                            connected_by="ada@acme.example", settings=settings)
    db.add(connection)
    db.commit()
    return connection


def _run(db, connection, status="succeeded", counts=None, error="", mode="full"):
    run = SyncRun(connection_id=connection.id, organization_id=connection.organization_id, status=status,
                  mode=mode, counts=counts or {}, error=error, finished_at=utcnow())
    db.add(run)
    db.commit()
    return run


def _warnings(page: str) -> list[str]:
    return re.findall(r'<li class="warning warning-([a-z-]+)">', page)


def _link(app, endpoint, **values):
    """The URL the dashboard should link to, once that page exists in the app."""
    if endpoint not in app.view_functions:
        return None
    with app.test_request_context():
        return url_for(endpoint, **values)


def test_a_new_organisation_is_not_connected_and_needs_nothing(signed_in):
    page = signed_in.get("/").get_data(as_text=True)
    assert "Not connected" in page
    assert "No sync has run yet." in page
    assert "Nothing needs your attention." in page
    assert "None scheduled" in page


def test_the_main_navigation_names_the_areas_that_exist(app, signed_in):
    page = signed_in.get("/").get_data(as_text=True)
    nav = re.search(r'<nav aria-label="Main" class="main-nav">(.*?)</nav>', page, flags=re.S).group(1)
    assert '<a href="/" aria-current="page">Dashboard</a>' in nav
    labels = re.findall(r">([A-Za-z]+)</a>", nav)
    assert labels == ["Dashboard", "Employees", "Departments", "Signatures", "Sync", "Settings"]


def test_employees_by_source_and_state_and_seats_used(signed_in, db, org, other_org):
    _employees(db, org, "m365", "active", 7)
    _employees(db, org, "m365", "paused", 2)
    _employees(db, org, "m365", "excluded", 3)
    _employees(db, org, "manual", "active", 4)
    _employees(db, org, "manual", "inactive", 1)
    _employees(db, other_org, "m365", "active", 50)  # never counted for Acme
    page = signed_in.get("/").get_data(as_text=True)
    table = re.search(r'<table id="employee-counts-table">(.*?)</table>', page, flags=re.S).group(1)
    cells = lambda label: re.findall(r'<td class="num">([\d,]+)</td>',  # noqa: E731
                                     re.search(rf"<th scope=\"row\">{label}</th>(.*?)</tr>", table, re.S).group(1))
    assert cells("Microsoft 365") == ["7", "2", "3", "0", "12"]
    assert cells("Added in Sigsync") == ["4", "0", "0", "1", "5"]
    assert cells("All") == ["11", "2", "3", "1", "17"]
    # Excluded employees free their seat: 17 - 3.
    assert '<p class="big-number">14 <span class="muted">of 100</span></p>' in page


def test_the_schedule_is_read_from_the_connection_settings(signed_in, db, org):
    connection = _connection(db, org, auto_sync=True, sync_time="05:30", timezone="Europe/Vienna")
    page = signed_in.get("/").get_data(as_text=True)
    assert "Connected" in page and "tenant-1" in page
    assert page.count("Daily at 05:30 (Europe/Vienna)") == 2  # the connection panel and "Next run"
    connection.settings = {"auto_sync": False}
    db.add(connection)
    db.commit()
    page = signed_in.get("/").get_data(as_text=True)
    assert "Automatic sync is off" in page


def test_a_paused_connection_has_no_next_run(signed_in, db, org):
    _connection(db, org, state="paused")
    page = signed_in.get("/").get_data(as_text=True)
    assert "Sync paused" in page
    assert "None while the sync is paused" in page
    assert "None scheduled" in page


def test_the_last_run_and_a_run_in_progress(signed_in, db, org):
    connection = _connection(db, org)
    done = _run(db, connection, counts={"created": 120, "updated": 3})
    _run(db, connection, mode="dry_run", counts={"created": 999})  # a preview is not a sync
    running = SyncRun(connection_id=connection.id, organization_id=org.id, status="running", mode="full",
                      done=40, total=500)
    db.add(running)
    db.commit()
    overview = dashboard.overview(db, org)
    assert overview.last_run.id == done.id and overview.active_run.id == running.id
    page = signed_in.get("/").get_data(as_text=True)
    assert "created: 120 · updated: 3" in page
    assert "(40 of 500)" in page
    assert "999" not in page
    # a changes-only run has no total (Graph's $count is every user): it says how many changes so far
    running.mode, running.total, running.started_at = "delta", None, utcnow()
    db.add(running)
    db.commit()
    assert "(40 changes so far)" in signed_in.get("/").get_data(as_text=True)


@pytest.mark.parametrize("kind", ["consent_needed", "removals_waiting", "run_failed", "conflicts", "seat_limit"])
def test_each_warning_says_what_is_wrong_and_links_where_it_is_fixed(app, signed_in, db, org, kind):
    connection = _connection(db, org, state="needs_consent" if kind == "consent_needed" else "active")
    expected_link = None
    if kind == "consent_needed":
        words = "Microsoft 365 needs you to sign in again"
        expected_link = _link(app, "connect.index")
    elif kind == "removals_waiting":
        run = _run(db, connection, counts={"removal_held": 3})
        db.add_all(SyncDecision(run_id=run.id, kind="removal_held", resolution=resolution, email=f"u{i}@x.example")
                   for i, resolution in enumerate(["pending", "pending", "pending", "approved"]))
        db.commit()
        words = f"3 employees would be removed by run {run.id}. They wait for your approval."
        expected_link = _link(app, "sync.run", run_id=run.id)
    elif kind == "run_failed":
        run = _run(db, connection, status="failed", error="Microsoft Graph answered 503 five times.")
        words = "The last sync failed: Microsoft Graph answered 503 five times."
        expected_link = _link(app, "sync.run", run_id=run.id)
    elif kind == "conflicts":
        run = _run(db, connection, counts={"created": 10, "conflict": 2})
        words = "The last sync found 2 users whose e-mail address belongs to another employee"
        expected_link = _link(app, "sync.run", run_id=run.id, kind="conflict")
    else:
        org.seats = 3
        db.add(org)
        db.commit()
        _employees(db, org, "manual", "active", 3)
        words = "All 3 seats are in use"
        expected_link = _link(app, "employees.index")
    page = signed_in.get("/").get_data(as_text=True)
    assert _warnings(page) == [kind.replace("_", "-")]
    assert words in page
    item = re.search(r'<li class="warning.*?</li>', page, flags=re.S).group(0)
    if expected_link is None:  # that page is not part of this app (yet): no broken link
        assert "<a " not in item
    else:
        assert f'href="{expected_link.replace("&", "&amp;")}"' in item


def test_a_run_stopped_by_withdrawn_consent_is_one_notice_saying_what_happened_and_what_to_do(app, signed_in, db,
                                                                                               org):
    connection = _connection(db, org)
    error = ConsentRequired("Microsoft Graph rejected the access token even after a refresh").admin_message
    run = _run(db, connection, status="failed", error=error)  # as the engine leaves them
    connection.state, connection.last_error = "needs_consent", error
    db.add(connection)
    db.commit()
    page = signed_in.get("/").get_data(as_text=True)
    assert _warnings(page) == ["consent-needed"]  # not a second "the last sync failed" saying the same
    item = re.search(r'<li class="warning.*?</li>', page, flags=re.S).group(0)
    assert f"The sync stopped: Microsoft 365 no longer lets Sigsync read your directory (run {run.id} failed" in item
    assert "Employees already synced are kept" in item
    assert "until a Microsoft 365 administrator reconnects" in item
    assert f'<a href="{_link(app, "connect.index")}">Reconnect Microsoft 365</a>' in item
    assert f'<a href="{_link(app, "sync.run", run_id=run.id)}">See run {run.id}</a>' in item
    assert "Needs consent" in page

    # a later failure for another reason (here: the CLI refused to sync) is still named by the notice
    refused = _run(db, connection, status="failed", error="Microsoft 365 needs the admin's consent again. "
                                                          "Reconnect to sync.")
    page = signed_in.get("/").get_data(as_text=True)
    assert _warnings(page) == ["consent-needed"] and f"(run {refused.id} failed" in page


def test_settled_removals_and_older_failures_raise_no_warning(signed_in, db, org):
    connection = _connection(db, org)
    _run(db, connection, status="failed", error="old failure")
    held = _run(db, connection, counts={"removal_held": 1})
    db.add(SyncDecision(run_id=held.id, kind="removal_held", resolution="discarded"))
    db.commit()
    _run(db, connection)
    assert "Nothing needs your attention." in signed_in.get("/").get_data(as_text=True)


def test_another_organisations_trouble_never_shows(signed_in, db, org, other_org):
    connection = _connection(db, other_org, state="needs_consent")
    _run(db, connection, status="failed", error="Globex broke")
    page = signed_in.get("/").get_data(as_text=True)
    assert "Globex broke" not in page and "Nothing needs your attention." in page
