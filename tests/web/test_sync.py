"""The Sync pages: "Sync now" on the real Redis, the runs, one run's status, decisions and held removals."""

from __future__ import annotations

import re
import socket
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import func, insert, select
from sqlmodel import Session

from portal import connections
from portal.jobs import job_id_for
from portal.models import AuditEvent, Connection, Employee, Organization, SyncDecision, SyncRun, utcnow
from tests.web.conftest import hx, read_csrf_token


def connect(db: Session, org: Organization, state: str = "active") -> Connection:
    """Connect ``org`` (delegated, no network: nothing here talks to Microsoft)."""
    connection = connections.connect_delegated(db.get_bind(), org, f"tenant-{org.slug}", b"", "test")
    if state != "active":
        connection = db.get(Connection, connection.id)
        connection.state = state
        db.add(connection)
        db.commit()
    return connection


def add_run(db: Session, org: Organization, status: str = "succeeded", **values) -> int:
    connection = db.exec(select(Connection).where(Connection.organization_id == org.id)).scalars().first()
    now = utcnow()
    row = {"connection_id": connection.id, "organization_id": org.id, "trigger": "manual", "mode": "full",
           "status": status, "phase": "done" if status in ("succeeded", "failed") else status, "done": 0,
           "counts": {}, "error": "", "created_at": now, "started_at": now - timedelta(seconds=75),
           "finished_at": now if status in ("succeeded", "failed") else None, **values}
    run_id = db.connection().execute(insert(SyncRun).returning(SyncRun.id), row).scalar_one()
    db.commit()
    return run_id


def add_decisions(db: Session, run_id: int, kind: str, n: int, **values) -> None:
    db.connection().execute(insert(SyncDecision), [
        {"run_id": run_id, "kind": kind, "m365_id": f"{kind}-{i}", "email": f"{kind}-{i:03}@acme.example",
         "reason": "", "details": {}, "resolution": "", **values} for i in range(n)])
    db.commit()


def runs_of(db: Session, org: Organization) -> list[SyncRun]:
    db.expire_all()
    return list(db.exec(select(SyncRun).where(SyncRun.organization_id == org.id).order_by(SyncRun.id)).scalars())


def audit_actions(db: Session, org: Organization) -> list[str]:
    return list(db.exec(select(AuditEvent.action).where(AuditEvent.organization_id == org.id)
                        .order_by(AuditEvent.id)).scalars())


def table_rows(page: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', page, flags=re.S).group(1)
    body = table.split("<tbody>", 1)[1]
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def queue(app):
    """The app's RQ queue: a private one on the real Redis, emptied afterwards."""
    config = app.config["SIGSYNC"]
    redis = Redis.from_url(config.redis_url)
    try:
        redis.ping()
    except RedisError as exc:
        pytest.fail(f"these tests need the real Redis at REDIS_URL ({config.redis_url}): {exc}")
    name = f"test-sync-{uuid.uuid4().hex[:8]}"
    app.config["SIGSYNC"] = replace(config, rq_queue=name)
    q = Queue(name, connection=redis)
    yield q
    q.delete(delete_jobs=True)


def sync_now(client, mode: str | None = None, **kwargs):
    data = {"csrf_token": read_csrf_token(client, "/sync/")}
    if mode is not None:
        data["mode"] = mode
    return client.post("/sync/", data=data, **kwargs)


# -- who may see what -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/sync/", "/sync/runs/1", "/sync/runs/1/status", "/sync/runs/1/removals/approve",
                                  "/sync/runs/1/removals/discard"])
def test_anonymous_visitors_are_sent_to_sign_in_and_back(client, admin, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/signin?next=")


def test_anonymous_sync_now_starts_nothing(client, db, org, admin, queue):
    connect(db, org)
    token = read_csrf_token(client, "/signin")
    response = client.post("/sync/", data={"csrf_token": token, "mode": "changes"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin")
    assert runs_of(db, org) == [] and queue.job_ids == []


@pytest.mark.parametrize("path", ["/sync/", "/sync/runs/{id}/removals/approve", "/sync/runs/{id}/removals/discard"])
def test_posts_without_the_csrf_token_are_refused(signed_in, db, org, queue, path):
    connect(db, org)
    run_id = add_run(db, org, counts={"removal_held": 1})
    add_decisions(db, run_id, "removal_held", 1, resolution="pending", details={"action": "deactivate"})
    response = signed_in.post(path.format(id=run_id), data={"mode": "changes", "expected": "1"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert [r.id for r in runs_of(db, org)] == [run_id] and queue.job_ids == []
    assert db.exec(select(SyncDecision.resolution)).scalars().all() == ["pending"]


def test_another_organisations_runs_are_not_found_by_guessed_ids(signed_in, db, org, other_org):
    connect(db, org)
    connect(db, other_org)
    theirs = add_run(db, other_org, counts={"removal_held": 1}, error="Globex secret failure")
    add_decisions(db, theirs, "removal_held", 1, resolution="pending", details={"action": "deactivate"})
    token = read_csrf_token(signed_in, "/sync/")
    for path in (f"/sync/runs/{theirs}", f"/sync/runs/{theirs}/status", f"/sync/runs/{theirs}/removals/approve",
                 f"/sync/runs/{theirs}/removals/discard", f"/sync/runs/{theirs + 999}"):
        assert signed_in.get(path).status_code == 404, path
    for action in ("approve", "discard"):
        response = signed_in.post(f"/sync/runs/{theirs}/removals/{action}", data={"csrf_token": token, "expected": "1"})
        assert response.status_code == 404
    assert db.exec(select(SyncDecision.resolution)).scalars().all() == ["pending"]
    assert "Globex secret failure" not in signed_in.get("/sync/").get_data(as_text=True)


# -- sync now ---------------------------------------------------------------------------------------


def test_without_a_connection_the_page_says_so_and_sync_now_starts_nothing(signed_in, db, org, queue):
    page = signed_in.get("/sync/").get_data(as_text=True)
    assert "not connected to Microsoft 365. Connect it first." in page
    assert '<a href="/connect/">Connect Microsoft 365</a>' in page
    assert ">Sync now</button>" not in page
    assert "No sync has run yet." in page
    response = sync_now(signed_in, "changes")
    assert response.status_code == 409
    assert "The sync did not start." in response.get_data(as_text=True)
    assert runs_of(db, org) == [] and queue.job_ids == []


def test_a_paused_connection_says_how_to_sync_again(signed_in, db, org, queue):
    connect(db, org, state="paused")
    page = signed_in.get("/sync/").get_data(as_text=True)
    assert "The Microsoft 365 connection is paused. Resume it to sync." in page
    assert '<a href="/settings/">Resume the sync in Settings</a>' in page
    assert ">Sync now</button>" not in page
    assert sync_now(signed_in, "changes").status_code == 409
    assert runs_of(db, org) == []


def test_sync_now_twice_queues_one_run_and_then_shows_it(signed_in, db, org, queue):
    connect(db, org)
    page = signed_in.get("/sync/").get_data(as_text=True)
    assert '<button type="submit" class="button button-primary">Sync now</button>' in page
    assert '<legend>What to sync</legend>' in page and '<label for="mode-full">Full sync</label>' in page

    first = sync_now(signed_in, "changes", follow_redirects=True)
    [run] = runs_of(db, org)
    assert first.status_code == 200
    shown = first.get_data(as_text=True)
    assert f"Sync started: run {run.id} is queued" in shown
    assert f'<a href="/sync/runs/{run.id}">Open run {run.id}</a>' in shown
    assert f"Run {run.id} is under way. Sigsync starts no other sync until it has" in shown
    assert ">Sync now</button>" not in shown
    assert 'hx-trigger="every 1s"' in shown  # the run's status follows itself

    second = sync_now(signed_in, "full", follow_redirects=True).get_data(as_text=True)
    assert f"Run {run.id} is already queued, so Sigsync did not start another sync." in second
    assert [r.id for r in runs_of(db, org)] == [run.id]
    assert (run.status, run.mode, run.trigger) == ("queued", "auto", "manual")
    assert queue.job_ids == [job_id_for(run.id, run.created_at)]
    assert audit_actions(db, org).count("sync_started") == 1


@pytest.mark.parametrize(("mode", "stored"), [("full", "full"), ("dry_run", "dry_run"), ("changes", "auto")])
def test_sync_now_queues_the_chosen_kind_of_run(signed_in, db, org, queue, mode, stored):
    connect(db, org)
    assert sync_now(signed_in, mode).status_code == 303
    [run] = runs_of(db, org)
    assert run.mode == stored


@pytest.mark.parametrize("mode", ["", "everything", "FULL"])
def test_an_unknown_kind_of_sync_is_refused_with_the_form_again(signed_in, db, org, queue, mode):
    connect(db, org)
    response = sync_now(signed_in, mode)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Choose what to sync" in page and 'aria-describedby="mode-error"' in page
    assert ">Sync now</button>" in page
    assert runs_of(db, org) == [] and queue.job_ids == []


def test_with_the_job_queue_down_the_page_says_what_to_do(app, signed_in, db, org):
    connect(db, org)
    app.config["SIGSYNC"] = replace(app.config["SIGSYNC"], redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    response = sync_now(signed_in, "changes")
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert 'role="alert"' in page
    assert "The job queue is unavailable, so the sync did not start." in page
    assert "Check that Redis is running and reachable at REDIS_URL, then try again." in page
    # The attempt is on record, failed with the reason, and nothing is left waiting.
    [run] = runs_of(db, org)
    assert run.status == "failed" and "The job queue (Redis) is unreachable" in run.error
    assert ">Sync now</button>" in page
    assert "The job queue (Redis) is unreachable" in table_rows(page, "runs-table")[0]


def test_the_sync_page_answers_htmx_with_its_body_only(signed_in, db, org):
    connect(db, org)
    add_run(db, org)
    response = signed_in.get("/sync/", headers=hx())
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<div id="sync-body"')
    assert 'hx-trigger="run-finished from:body"' in body and 'id="runs-table"' in body


# -- the list of runs -------------------------------------------------------------------------------


def test_past_runs_show_trigger_mode_status_duration_counts_and_error(signed_in, db, org):
    connect(db, org)
    add_run(db, org, trigger="schedule", mode="delta", counts={"created": 1200, "updated": 3})
    add_run(db, org, status="failed", trigger="cli", error="Microsoft 365 refused the token.")
    rows = table_rows(signed_in.get("/sync/").get_data(as_text=True), "runs-table")
    assert len(rows) == 2
    assert "Command line" in rows[0] and "Failed" in rows[0] and "Microsoft 365 refused the token." in rows[0]
    assert "Schedule" in rows[1] and "Changes only" in rows[1] and "Succeeded" in rows[1]
    assert "Created: 1,200" in rows[1] and "Updated: 3" in rows[1]
    assert "1 min 15 s" in rows[1]


def test_runs_are_paged_newest_first_without_repeats(signed_in, db, org, other_org):
    connect(db, org)
    connect(db, other_org)
    ids = [add_run(db, org) for _ in range(30)]
    add_run(db, other_org)
    first = signed_in.get("/sync/").get_data(as_text=True)
    seen = [int(n) for n in re.findall(r'<th scope="row" class="nowrap"><a href="/sync/runs/(\d+)">', first)]
    assert seen == ids[::-1][:25]
    older = re.search(r'<a href="(/sync/\?before=\d+)" rel="next">Older runs</a>', first).group(1)
    second = signed_in.get(older).get_data(as_text=True)
    seen += [int(n) for n in re.findall(r'<th scope="row" class="nowrap"><a href="/sync/runs/(\d+)">', second)]
    assert seen == ids[::-1]
    assert 'rel="next"' not in second and '<a href="/sync/" rel="prev">Newest runs</a>' in second


@pytest.mark.parametrize("query", ["before=abc", "before=-3", "after=x"])
def test_malformed_cursors_are_404(signed_in, db, org, query):
    connect(db, org)
    run_id = add_run(db, org)
    path = "/sync/" if query.startswith("before") else f"/sync/runs/{run_id}"
    assert signed_in.get(f"{path}?{query}").status_code == 404


# -- one run ----------------------------------------------------------------------------------------


def test_a_run_page_filters_decisions_by_kind_a_page_at_a_time(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org, counts={"created": 60, "kept_manual": 1})
    add_decisions(db, run_id, "created", 60, reason="imported by rule Everyone")
    add_decisions(db, run_id, "kept_manual", 1, details={"fields": {"job_title": {"manual": "Boss", "m365": "CEO"}}})
    page = signed_in.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    assert f"<h1>Run {run_id}</h1>" in page
    assert '<label for="kind">Show</label>' in page
    assert '<option value="kept_manual">Kept a hand-typed value (1)</option>' in page
    assert '<option value="" selected>All decisions (61)</option>' in page
    assert len(table_rows(page, "decisions-table")) == 50

    kept = signed_in.get(f"/sync/runs/{run_id}?kind=kept_manual").get_data(as_text=True)
    [row] = table_rows(kept, "decisions-table")
    assert "kept_manual-000@acme.example" in row
    assert "<strong>Job title</strong>" in row
    assert "Typed in Sigsync, kept “Boss”" in row and "Microsoft 365 “CEO”" in row

    created, url = [], f"/sync/runs/{run_id}?kind=created"
    while url:
        body = signed_in.get(url).get_data(as_text=True)
        created += re.findall(r"(created-\d+)@acme\.example", body)
        assert "kept_manual-000" not in body
        found = re.search(r'<a href="([^"]+)" rel="next">Next decisions</a>', body)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert created == [f"created-{i:03}" for i in range(60)]


def test_the_decision_filter_answers_htmx_with_the_run_body_only(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org)
    add_decisions(db, run_id, "conflict", 2, reason="the address belongs to another user")
    add_decisions(db, run_id, "updated", 1,
                  details={"fields": {"city": {"before": "Bonn", "after": "Köln"}}})
    response = signed_in.get(f"/sync/runs/{run_id}?kind=updated", headers=hx())
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body
    assert '<div id="run-body"' in body
    assert "Before “Bonn”; Now “Köln”" in body and "conflict-000" not in body
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize("kind", ["made_up", "CREATED"])
def test_an_unknown_decision_kind_is_404(signed_in, db, org, kind):
    connect(db, org)
    run_id = add_run(db, org)
    assert signed_in.get(f"/sync/runs/{run_id}?kind={kind}").status_code == 404


def test_a_run_that_changed_nothing_says_so(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org)
    page = signed_in.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    assert "This run changed nothing." in page
    assert '<label for="kind">' not in page
    going = add_run(db, org, status="running", phase="users", started_at=utcnow())
    page = signed_in.get(f"/sync/runs/{going}").get_data(as_text=True)
    assert "No decisions yet." in page and "changed nothing" not in page  # it may still change everything


def test_the_status_panel_polls_while_the_run_goes_and_stops_with_286_when_it_ended(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org, status="running", phase="users", done=120, total=300)
    page = signed_in.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    assert f'hx-get="/sync/runs/{run_id}/status?seen=users" hx-trigger="every 1s"' in page

    going = signed_in.get(f"/sync/runs/{run_id}/status", headers=hx())
    body = going.get_data(as_text=True)
    assert going.status_code == 200 and "<html" not in body
    assert 'hx-trigger="every 1s"' in body and "Reading users from Microsoft 365" in body
    assert '<progress max="300" value="120"' in body and "120 of 300 users" in body

    db.connection().execute(SyncRun.__table__.update().where(SyncRun.id == run_id).values(
        status="succeeded", phase="done", done=300, counts={"created": 300}, finished_at=utcnow()))
    db.commit()
    ended = signed_in.get(f"/sync/runs/{run_id}/status", headers=hx())
    body = ended.get_data(as_text=True)
    assert ended.status_code == 286
    assert ended.headers["HX-Trigger"] == "run-finished"
    assert "hx-trigger" not in body.split('id="status"')[0]
    assert "Succeeded" in body and "Created: 300" in body
    assert f"Run {run_id} has finished: succeeded." in body and 'hx-swap-oob="true"' in body
    # Opened by hand (no htmx), the same address is a plain page.
    assert signed_in.get(f"/sync/runs/{run_id}/status").status_code == 200


def test_a_failed_run_shows_its_error(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org, status="failed", error="Microsoft 365 needs the admin's consent again.")
    page = signed_in.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    assert '<p class="notice notice-error" id="run-error"><strong>Error:</strong> Microsoft 365 needs' in page
    assert 'hx-trigger="every 1s"' not in page


# -- held removals (rows as the engine writes them; the real engine's are in test_sync_removals) ------


def held(db: Session, org: Organization, n: int) -> int:
    run_id = add_run(db, org, counts={"removal_held": n})
    for i in range(n):
        emp = Employee(organization_id=org.id, email=f"gone-{i}@acme.example", m365_id=f"m{i}", source="m365",
                       status="active", created_by_sync=True)
        db.add(emp)
        db.commit()
        db.connection().execute(insert(SyncDecision), {
            "run_id": run_id, "kind": "removal_held", "m365_id": f"m{i}", "email": emp.email, "employee_id": emp.id,
            "reason": "deleted in Microsoft 365; above the threshold", "details": {"action": "deactivate"},
            "resolution": "pending"})
        db.commit()
    return run_id


def test_a_changed_count_asks_for_confirmation_again(signed_in, db, org):
    connect(db, org)
    run_id = held(db, org, 2)
    token = read_csrf_token(signed_in, f"/sync/runs/{run_id}/removals/approve")
    response = signed_in.post(f"/sync/runs/{run_id}/removals/approve", data={"csrf_token": token, "expected": "5"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "it is 2 now. Nothing was changed" in page and ">Approve 2 removals</button>" in page
    db.expire_all()
    assert set(db.exec(select(Employee.status).where(Employee.organization_id == org.id)).scalars()) == {"active"}


def test_nothing_waiting_says_so_instead_of_asking(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org)
    page = signed_in.get(f"/sync/runs/{run_id}/removals/discard").get_data(as_text=True)
    assert "No removals are waiting" in page and "<button" not in page.split("<main")[1]
    token = read_csrf_token(signed_in, f"/sync/runs/{run_id}")
    response = signed_in.post(f"/sync/runs/{run_id}/removals/discard", data={"csrf_token": token, "expected": "0"},
                              follow_redirects=True)
    assert "has no removals waiting for approval any more; nothing was changed." in response.get_data(as_text=True)
    assert db.exec(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "removals_discarded")).scalar_one() == 0



def test_removals_wait_while_a_sync_is_changing_the_employees(signed_in, db, org):
    connection = connect(db, org)
    run_id = held(db, org, 1)
    running = add_run(db, org, status="running")
    db.connection().execute(Connection.__table__.update().where(Connection.id == connection.id).values(
        lock_run_id=running, lock_expires_at=utcnow() + timedelta(minutes=5)))
    db.commit()
    token = read_csrf_token(signed_in, f"/sync/runs/{run_id}/removals/approve")
    response = signed_in.post(f"/sync/runs/{run_id}/removals/approve", data={"csrf_token": token, "expected": "1"},
                              follow_redirects=True)
    assert "A sync for this connection is already running. Wait for it to finish." in response.get_data(as_text=True)
    db.expire_all()
    assert db.exec(select(SyncDecision.resolution).where(SyncDecision.run_id == run_id)).scalars().all() == ["pending"]
    assert db.exec(select(Employee.status)).scalars().all() == ["active"]


def test_a_dry_run_says_it_changed_nothing(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org, mode="dry_run", counts={"created": 2})
    add_decisions(db, run_id, "created", 2)
    page = signed_in.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    assert 'id="dry-run-note"' in page and "nothing was changed" in page
    assert "Dry run" in page


def test_the_run_list_says_which_scheduled_runs_were_skipped_or_abandoned(signed_in, db, org):
    connect(db, org)
    add_run(db, org, status="skipped", trigger="schedule", phase="done", finished_at=utcnow(),
            error="Skipped: run 7 was still running when the daily sync was due, so it was not started twice.")
    add_run(db, org, status="abandoned", phase="done", finished_at=utcnow(),
            error="The worker running this sync stopped answering.")
    page = signed_in.get("/sync/").get_data(as_text=True)
    assert '<span class="badge badge-skipped">Skipped</span>' in page
    assert '<span class="badge badge-abandoned">Abandoned</span>' in page
    assert "so it was not started twice" in page
