"""The Sync pages with the real engine: a run against the simulator over HTTPS, its removals held, then
approved or discarded in the portal; and "Sync now" followed until the run has ended."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import select

from portal import admins
from portal.db import session_scope
from portal.jobs import sync_job
from portal.models import AuditEvent
from tests.engine import conftest as engine_fixtures
from tests.engine.conftest import Harness
from tests.engine.support import leaf_employees
from tests.web.conftest import AuthActions, hx, read_csrf_token

# The engine tests' simulator (HTTPS, 300 users) and the configuration that points Sigsync at it.
sim_server_engine = engine_fixtures.sim_server_engine
sim = engine_fixtures.sim
m365_config = engine_fixtures.m365_config

EMAIL, PASSWORD = "peter@initech.example", "a long enough passphrase"


@pytest.fixture
def initech(m365_config, sim) -> Harness:
    """An organisation connected to the simulator's tenant (application permissions)."""
    return Harness(m365_config, sim, slug="initech")


@pytest.fixture
def browser(client, initech):
    """The test client signed in as an admin of ``initech``."""
    with session_scope(initech.config.database_url) as session:
        admins.create_admin(session, initech.org, EMAIL, PASSWORD, name="Peter", actor="test")
    assert AuthActions(client).sign_in(EMAIL, PASSWORD).status_code == 303
    return client


def hold_three(initech: Harness) -> tuple[int, list[str]]:
    """A first sync, then three users deleted in Microsoft 365: the next run holds their removal."""
    initech.configure(settings={"removal_threshold": {"count": 2, "percent": 100}})
    initech.sync()
    doomed = leaf_employees(initech.export(), 3)
    for email in doomed:
        initech.sim.tenant.soft_delete(email)
    result = initech.sync()
    assert result["counts"] == {"removal_held": 3}
    return result["run_id"], doomed


def audit_events(initech: Harness, action: str) -> list[AuditEvent]:
    with session_scope(initech.config.database_url) as session:
        return list(session.exec(select(AuditEvent).where(
            AuditEvent.organization_id == initech.org.id, AuditEvent.action == action)).scalars())


def test_held_removals_are_approved_after_a_confirmation(browser, initech):
    run_id, doomed = hold_three(initech)
    page = browser.get(f"/sync/runs/{run_id}").get_data(as_text=True)
    assert "3 removals waiting for your approval" in page
    assert "Approved, they are deactivated" in page
    assert f'href="/sync/runs/{run_id}/removals/approve">Approve 3 removals…</a>' in page
    held = browser.get(f"/sync/runs/{run_id}?kind=removal_held").get_data(as_text=True)
    assert all(email in held for email in doomed) and held.count(">Waiting<") == 3

    confirm = browser.get(f"/sync/runs/{run_id}/removals/approve").get_data(as_text=True)
    assert "Approve 3 held removals?" in confirm and ">Approve 3 removals</button>" in confirm
    assert {initech.employee(e).status for e in doomed} == {"active"}  # asking changes nothing

    token = read_csrf_token(browser, f"/sync/runs/{run_id}/removals/approve")
    done = browser.post(f"/sync/runs/{run_id}/removals/approve", data={"csrf_token": token, "expected": "3"},
                        follow_redirects=True)
    shown = done.get_data(as_text=True)
    assert "Approved: 3 of 3 held removal(s) applied." in shown
    assert "waiting for your approval" not in shown
    assert {initech.employee(e).status for e in doomed} == {"inactive"}
    assert {d.resolution for d in initech.decisions(run_id, "removal_held")} == {"approved"}
    assert '<option value="deactivated">Deactivated (3)</option>' in shown
    [event] = audit_events(initech, "removals_approved")
    assert event.actor == EMAIL and event.details == {"run_id": run_id, "held": 3, "applied": 3}

    again = browser.post(f"/sync/runs/{run_id}/removals/approve", data={"csrf_token": token, "expected": "3"},
                         follow_redirects=True)
    assert "has no removals waiting for approval any more" in again.get_data(as_text=True)
    assert len(audit_events(initech, "removals_approved")) == 1


def test_held_removals_are_discarded_and_the_employees_stay(browser, initech):
    run_id, doomed = hold_three(initech)
    confirm = browser.get(f"/sync/runs/{run_id}/removals/discard").get_data(as_text=True)
    assert "Discard 3 held removals?" in confirm and "the next sync holds their removal again" in confirm
    token = read_csrf_token(browser, f"/sync/runs/{run_id}/removals/discard")
    done = browser.post(f"/sync/runs/{run_id}/removals/discard", data={"csrf_token": token, "expected": "3"},
                        follow_redirects=True)
    assert "Discarded: the 3 employee(s) stay as they are." in done.get_data(as_text=True)
    assert {initech.employee(e).status for e in doomed} == {"active"}
    assert {d.resolution for d in initech.decisions(run_id, "removal_held")} == {"discarded"}
    [event] = audit_events(initech, "removals_discarded")
    assert event.details == {"run_id": run_id, "discarded": 3}


@pytest.fixture
def queue(app):
    name = f"test-sync-e2e-{uuid.uuid4().hex[:8]}"
    app.config["SIGSYNC"] = replace(app.config["SIGSYNC"], rq_queue=name)
    q = Queue(name, connection=Redis.from_url(app.config["SIGSYNC"].redis_url))
    yield q
    q.delete(delete_jobs=True)


def test_sync_now_is_followed_until_the_worker_has_finished(browser, initech, queue):
    token = read_csrf_token(browser, "/sync/")
    assert browser.post("/sync/", data={"csrf_token": token, "mode": "full"}).status_code == 303
    [job] = queue.jobs
    run_id = job.args[0]
    status = browser.get(f"/sync/runs/{run_id}/status", headers=hx())
    assert status.status_code == 200 and "Waiting for a worker" in status.get_data(as_text=True)

    sync_job(run_id, initech.config)  # what the worker does with the job

    ended = browser.get(f"/sync/runs/{run_id}/status", headers=hx())
    body = ended.get_data(as_text=True)
    assert ended.status_code == 286 and ended.headers["HX-Trigger"] == "run-finished"
    created = initech.run(run_id).counts["created"]
    assert created > 100 and f"Created: {created:,}" in body and "Full" in body
    page = browser.get(f"/sync/runs/{run_id}?kind=created").get_data(as_text=True)
    assert len(re.findall(r'<span class="badge badge-created">Created</span>', page)) == 50
    assert "Next decisions" in page
    listing = browser.get("/sync/").get_data(as_text=True)
    assert ">Sync now</button>" in listing and f"Run {run_id}</a>" in listing
