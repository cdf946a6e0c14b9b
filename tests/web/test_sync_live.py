"""The live panel of a running sync and the CSV of a run's decisions, on run rows as the engine writes them
(the real engine and worker drive the panel in tests/e2e/test_live_panel.py)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, insert
from sqlmodel import Session

from portal import runs
from portal.models import Connection, SyncDecision, SyncRun, utcnow
from tests.web.conftest import hx
from tests.web.test_sync import add_decisions, add_run, connect


def set_run(db: Session, run_id: int, **values) -> None:
    db.connection().execute(SyncRun.__table__.update().where(SyncRun.id == run_id).values(**values))
    db.commit()


def feed_rows(body: str) -> list[str]:
    table = re.search(r'<table id="run-feed">(.*?)</table>', body, flags=re.S)
    return re.findall(r"<tr>(.*?)</tr>", table.group(1).split("<tbody>", 1)[1], flags=re.S) if table else []


def status_region(body: str) -> str:
    found = re.search(r'<div id="status"[^>]*>(.*?)</div>', body, flags=re.S)
    return found.group(1) if found else ""


def test_a_running_sync_shows_progress_time_left_counts_and_the_newest_decisions(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org, status="running", phase="users", done=0, total=4000,
                     started_at=utcnow() - timedelta(seconds=60))
    add_decisions(db, run_id, "created", 30)
    set_run(db, run_id, done=1000, counts={"created": 30})
    going = signed_in.get(f"/sync/runs/{run_id}/status", headers=hx())
    body = going.get_data(as_text=True)
    assert going.status_code == 200 and "<html" not in body
    assert f'hx-get="/sync/runs/{run_id}/status?seen=users" hx-trigger="every 1s"' in body
    assert '<label for="run-progress-bar">Users processed</label>' in body
    assert '<progress max="4000" value="1000" id="run-progress-bar"' in body
    assert "1,000 of 4,000 users (25 %)" in body
    # 1,000 users in 60 s: 3,000 more take about 180 s
    assert re.search(r"Running for 1 min 0\d s\.", body)
    assert re.search(r"About 3 min 0\d s left", body)
    assert "Created: 30" in body
    # the 20 newest decisions, newest first
    rows = feed_rows(body)
    assert len(rows) == 20
    assert [re.search(r"created-(\d+)@", r).group(1) for r in rows] == [f"{i:03}" for i in range(29, 9, -1)]
    # the panel is not a live region: only the status region speaks
    panel = body.split("<section", 1)[1].split(">", 1)[0]
    assert "aria-live" not in panel and 'role="status"' not in panel


def test_the_feed_shows_the_field_and_both_values_where_hand_typed_data_was_overwritten_or_kept(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org, status="running", phase="users", done=2, total=10, started_at=utcnow())
    add_decisions(db, run_id, "overwrote_manual", 1, details={"fields": {"job_title": {"manual": "Boss",
                                                                                      "m365": "Chief Executive"}}})
    add_decisions(db, run_id, "kept_manual", 1, details={"fields": {"mobile": {"manual": "+44 7700 900123",
                                                                              "m365": "+44 7700 900999"}}})
    body = signed_in.get(f"/sync/runs/{run_id}/status", headers=hx()).get_data(as_text=True)
    kept, overwrote = feed_rows(body)  # newest first
    assert "kept_manual-000@acme.example" in kept and "Kept a hand-typed value" in kept
    assert "<strong>Mobile</strong>" in kept
    assert "Typed in Sigsync, kept “+44 7700 900123”" in kept and "Microsoft 365 “+44 7700 900999”" in kept
    assert "overwrote_manual-000@acme.example" in overwrote and "Overwrote a hand-typed value" in overwrote
    assert "<strong>Job title</strong>" in overwrote
    assert "Typed in Sigsync “Boss”" in overwrote and "Microsoft 365, now used “Chief Executive”" in overwrote


def test_a_page_opened_mid_run_shows_the_run_so_far(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org, status="running", phase="users", done=500, total=2000, counts={"updated": 3},
                     started_at=utcnow() - timedelta(seconds=10))
    add_decisions(db, run_id, "updated", 3, details={"fields": {"department": {"before": "Sales", "after": "Ops"}}})
    page = signed_in.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    assert '<progress max="2000" value="500"' in page and "Updated: 3" in page
    assert len(feed_rows(page)) == 3 and "Before “Sales”; Now “Ops”" in page
    # and so does the Sync page, where the run going (it holds the connection's lock) stands in for "Sync now"
    db.connection().execute(Connection.__table__.update().where(Connection.organization_id == org.id).values(
        lock_run_id=run_id, lock_expires_at=utcnow() + timedelta(minutes=5)))
    db.commit()
    sync = signed_in.get("/sync/").get_data(as_text=True)
    assert '<progress max="2000" value="500"' in sync and len(feed_rows(sync)) == 3


def test_without_a_total_the_panel_shows_a_count_and_an_indeterminate_bar(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org, status="running", phase="users", done=700, total=None, started_at=utcnow())
    body = signed_in.get(f"/sync/runs/{run_id}/status", headers=hx()).get_data(as_text=True)
    assert '<label for="run-progress-bar">Users processed</label>' in body
    assert re.search(r'<progress id="run-progress-bar" aria-describedby="run-progress run-progress-why">', body)
    assert "700 users processed so far" in body and "%" not in body
    assert "Microsoft 365 did not say how many users there are" in body and "Time left: not known yet." in body


def test_a_changes_only_run_reads_as_changes_processed_without_a_percentage_or_time_left(signed_in, db, org):
    connect(db, org)
    # Graph's $count is every user, not the changes, so the engine leaves a delta run's total empty
    run_id = add_run(db, org, mode="delta", status="running", phase="changes", done=412, total=None,
                     counts={"updated": 400, "created": 12}, started_at=utcnow() - timedelta(seconds=30))
    add_decisions(db, run_id, "updated", 3, details={"fields": {"department": {"before": "Sales", "after": "Ops"}}})
    url = f"/sync/runs/{run_id}/status"
    body = signed_in.get(url, headers=hx()).get_data(as_text=True)
    assert '<label for="run-progress-bar">Changes processed</label>' in body
    bar = re.search(r"<progress[^>]*>", body).group(0)
    assert "value=" not in bar and "max=" not in bar  # indeterminate: no made-up end
    assert "412 changes processed so far" in body
    assert "does not know in advance how many users changed, so it shows no percentage and no time left" in body
    assert "%" not in body and " left</strong>" not in body and "Time left" not in body
    assert re.search(r"Running for 3\d s\.", body)
    assert "Created: 12 · Updated: 400" in body and len(feed_rows(body)) == 3

    set_run(db, run_id, phase="removals")
    body = signed_in.get(url, headers=hx()).get_data(as_text=True)
    assert "412 changes processed so far" in body and "All changes are read; finishing off." in body

    # one change: singular; and whatever a row says about a total, a delta run shows no percentage
    set_run(db, run_id, phase="changes", done=1, total=100000)
    body = signed_in.get(url, headers=hx()).get_data(as_text=True)
    assert "1 change processed so far" in body and "%" not in body and 'max="100000"' not in body

    set_run(db, run_id, status="succeeded", phase="done", done=412, finished_at=utcnow())
    ended = signed_in.get(url, headers=hx())
    body = ended.get_data(as_text=True)
    assert ended.status_code == 286 and "<progress" not in body and "%" not in body
    assert re.search(r"<dt>Changes processed</dt><dd>412</dd>", body)


def test_a_change_of_phase_is_announced_once_and_the_end_stops_the_polling(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org, status="running", phase="users", done=10, total=10, started_at=utcnow())
    add_decisions(db, run_id, "created", 10)
    url = f"/sync/runs/{run_id}/status"
    same = signed_in.get(f"{url}?seen=users", headers=hx()).get_data(as_text=True)
    assert status_region(same) == ""  # nothing new: screen readers are left alone

    set_run(db, run_id, phase="removals")
    changed = signed_in.get(f"{url}?seen=users", headers=hx())
    body = changed.get_data(as_text=True)
    assert changed.status_code == 200
    assert f"Run {run_id}: Looking for employees who left." in status_region(body)
    assert f'{url}?seen=removals" hx-trigger="every 1s"' in body
    assert "All users are read; finishing off." in body
    assert status_region(signed_in.get(f"{url}?seen=removals", headers=hx()).get_data(as_text=True)) == ""

    set_run(db, run_id, status="succeeded", phase="done", counts={"created": 10}, finished_at=utcnow())
    ended = signed_in.get(f"{url}?seen=removals", headers=hx())
    body = ended.get_data(as_text=True)
    assert ended.status_code == 286 and ended.headers["HX-Trigger"] == "run-finished"
    assert 'hx-trigger="every 1s"' not in body and "Running for" not in body
    assert '<progress max="10" value="10"' in body and "10 of 10 users (100 %)" in body  # the bar stays, full
    assert feed_rows(body) == []  # the page below lists every decision now
    assert f"Run {run_id} has finished: succeeded." in status_region(body)


def test_polling_reads_the_run_once_and_the_feed_once(app, signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org, status="running", phase="users", done=5, total=50, started_at=utcnow())
    add_decisions(db, run_id, "created", 5)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement.lower())

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert signed_in.get(f"/sync/runs/{run_id}/status", headers=hx()).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    run_reads = [s for s in statements if "from syncrun" in s and "syncdecision" not in s]
    feed_reads = [s for s in statements if "from syncdecision" in s]
    assert len(run_reads) == 1 and len(feed_reads) == 1, statements
    assert "desc" in feed_reads[0] and "limit" in feed_reads[0]


def test_another_organisations_live_panel_and_csv_are_not_found(signed_in, db, org, other_org):
    connect(db, org)
    connect(db, other_org)
    theirs = add_run(db, other_org, status="running", phase="users", done=1, total=5, started_at=utcnow())
    add_decisions(db, theirs, "created", 1, email="secret@globex.example")
    for path in (f"/sync/runs/{theirs}/status", f"/sync/runs/{theirs}/status?seen=groups",
                 f"/sync/runs/{theirs}/decisions.csv", f"/sync/runs/{theirs + 999}/decisions.csv"):
        response = signed_in.get(path, headers=hx())
        assert response.status_code == 404, path
        assert "secret@globex.example" not in response.get_data(as_text=True)
    assert runs.latest_decisions(db, org, theirs) == []


def test_the_csv_is_for_signed_in_admins_only(client, db, org, admin):
    connect(db, org)
    run_id = add_run(db, org)
    response = client.get(f"/sync/runs/{run_id}/decisions.csv")
    assert response.status_code in (302, 303) and "/signin" in response.headers["Location"]


def test_the_csv_streams_every_decision_one_line_per_changed_field(signed_in, db, org):
    connect(db, org)
    run_id = add_run(db, org, counts={"created": 2500, "overwrote_manual": 1})
    add_decisions(db, run_id, "created", 2500, reason="imported by rule Everyone")
    add_decisions(db, run_id, "overwrote_manual", 1, details={"fields": {
        "job_title": {"manual": "Boss", "m365": "CEO"}, "mobile": {"manual": "1", "m365": "2"}}})
    page = signed_in.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    assert f'<a href="/sync/runs/{run_id}/decisions.csv" download>Download decisions (CSV)</a>' in page

    response = signed_in.get(f"/sync/runs/{run_id}/decisions.csv")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="sigsync-run-{run_id}-decisions.csv"'
    chunks = list(response.response)  # the header, then one chunk per batch of 1,000 decisions
    assert len(chunks) == 1 + 3
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode("utf-8-sig"), newline="")))
    assert len(rows) == 2500 + 2
    created = [r for r in rows if r["Kind"] == "created"]
    assert [r["Email"] for r in created] == [f"created-{i:03}@acme.example" for i in range(2500)]
    assert created[0]["Reason"] == "imported by rule Everyone" and created[0]["Decision in words"] == "Created"
    job, mobile = [r for r in rows if r["Kind"] == "overwrote_manual"]
    assert (job["Field"], job["Value in Sigsync"], job["Value from Microsoft 365"]) == ("job_title", "Boss", "CEO")
    assert (mobile["Field"], mobile["Value in Sigsync"], mobile["Value from Microsoft 365"]) == ("mobile", "1", "2")
    assert job["Decision"] == mobile["Decision"] and int(job["Decision"]) > int(created[-1]["Decision"])


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://evil.example\")", "+1+2", "-2+3", "@SUM(A1)",
                                   "\tcmd", "\r=1"])
def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted(signed_in, db, org, value):
    connect(db, org)
    run_id = add_run(db, org)
    db.connection().execute(insert(SyncDecision), [{
        "run_id": run_id, "kind": "kept_manual", "m365_id": "u1", "email": "x@acme.example", "reason": value,
        "details": {"fields": {"job_title": {"manual": value, "m365": "Plain"}}}, "resolution": ""}])
    db.commit()
    text = signed_in.get(f"/sync/runs/{run_id}/decisions.csv").get_data().decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text, newline="")))
    assert row["Reason"] == "'" + value and row["Value in Sigsync"] == "'" + value
    assert row["Value from Microsoft 365"] == "Plain" and row["Email"] == "x@acme.example"


def test_the_estimate_of_the_time_left_comes_from_the_rate_so_far():
    now = utcnow()
    base = dict(id=1, connection_id=1, trigger="manual", mode="full", error="", created_at=now,
                finished_at=None, heartbeat_at=None, counts={})
    going = runs.RunView(status="running", phase="users", done=2000, total=10000,
                         started_at=now - timedelta(seconds=100), **base)
    progress = runs.live_progress(going, now)
    assert progress.elapsed == timedelta(seconds=100) and progress.remaining == timedelta(seconds=400)
    assert progress.percent == 20 and progress.shown == 2000
    # more users than counted at the start (some were added meanwhile): the bar stays full, no negative time
    over = runs.live_progress(runs.RunView(status="running", phase="users", done=10100, total=10000,
                                           started_at=now - timedelta(seconds=100), **base), now)
    assert over.shown == 10000 and over.percent == 100 and over.remaining == timedelta(0)
    for phase, done, total in (("groups", 0, 10000), ("users", 0, 10000), ("users", 50, None),
                               ("removals", 10000, 10000)):
        view = runs.RunView(status="running", phase=phase, done=done, total=total,
                            started_at=now - timedelta(seconds=5), **base)
        assert runs.live_progress(view, now).remaining is None, phase
