"""Redis stopped and started again under a real `python worker.py` and the portal: the pages serve, "Sync now"
says the queue is unavailable, and the day's scheduled run happens once when Redis is back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal import runs
from portal.db import session_scope
from portal.models import SyncRun
from portal.scheduler import Scheduler
from tests.web.conftest import read_csrf_token, sample_urls
from tests.worker.conftest import portal_for, wait_for

pytestmark = pytest.mark.slow  # a worker process and a redis-server of the test's own

SCHEDULER_STARTED = r"Scheduler \S+ started"


def runs_of(harness, trigger: str) -> list[SyncRun]:
    with session_scope(harness.config.database_url) as session:
        return list(session.exec(select(SyncRun).where(SyncRun.connection_id == harness.connection.id,
                                                       SyncRun.trigger == trigger)
                                 .order_by(SyncRun.id)).scalars())


def due_at(harness) -> datetime | None:
    moment = harness.connection_row().next_sync_at
    return None if moment is None else moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def test_with_redis_down_the_portal_serves_and_the_schedule_catches_up_once_when_it_is_back(
        queued_private, private_redis, start_worker):
    harness = queued_private
    portal = portal_for(harness)
    scheduler = Scheduler(harness.config)
    scheduler.tick()  # the next due time is stored (tomorrow)...
    scheduler.release_lease()
    worker = start_worker(harness)  # jobs and the scheduling loop, as on a worker machine
    wait_for(lambda: re.search(SCHEDULER_STARTED, worker.output()), 30, "the worker's scheduler")

    private_redis.stop()
    due = datetime.now(UTC) - timedelta(minutes=1)
    harness.update_connection(next_sync_at=due)  # ...and today's run falls due while Redis is down

    # Every page still serves (the health check says what is missing).
    app = portal.application
    for endpoint, url in sample_urls(app, "GET", skip={"static", "health.healthz"}):
        response = portal.get(url)
        assert response.status_code < 500, (endpoint, url, response.status_code)
    health = portal.get("/healthz")  # still in service for a load balancer: the pages serve
    assert health.status_code == 200 and health.get_json()["status"] == "degraded"
    assert health.get_json()["checks"]["database"] == "ok"
    assert health.get_json()["checks"]["redis"].startswith("unreachable")

    # "Sync now" says clearly that the queue is unavailable, and no run is left waiting for nobody.
    token = read_csrf_token(portal, "/sync/")
    refused = portal.post("/sync/", data={"mode": "changes", "csrf_token": token})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 503
    assert "The job queue is unavailable, so the sync did not start." in page
    assert "Check that Redis is running" in page
    [manual] = runs_of(harness, "manual")
    assert manual.status == "failed" and "The job queue (Redis) is unreachable" in manual.error
    assert portal.get("/").status_code == 200 and portal.get(f"/sync/runs/{manual.id}").status_code == 200

    # The worker's scheduler keeps going, keeps the due time and starts nothing it could not hand over.
    wait_for(lambda: "The job queue (Redis) is unreachable" in worker.output(), 60,
             "the scheduler to notice that Redis is down")
    assert runs_of(harness, "schedule") == [] and due_at(harness) == due
    assert worker.process.poll() is None, worker.output()

    private_redis.start()  # an empty Redis, as after a restart without persistence

    scheduled = wait_for(lambda: [r for r in runs_of(harness, "schedule") if r.status not in runs.ACTIVE_STATUSES],
                         120, "the missed scheduled run to be queued and run")
    assert [r.status for r in scheduled] == ["succeeded"], scheduled[0].error
    assert len(harness.employees()) == scheduled[0].counts["created"] > 250
    assert datetime.now(UTC) < due_at(harness) < datetime.now(UTC) + timedelta(days=1, minutes=30)  # once a day
    assert "The job queue (Redis) is back: catching up on scheduled syncs" in worker.output()

    # The portal's "Sync now" works again: the run goes to the worker and succeeds.
    token = read_csrf_token(portal, "/sync/")
    assert portal.post("/sync/", data={"mode": "changes", "csrf_token": token}).status_code == 303
    again = wait_for(lambda: [r for r in runs_of(harness, "manual")[1:] if r.status not in runs.ACTIVE_STATUSES],
                     60, "the manual run after Redis came back")
    assert [r.status for r in again] == ["succeeded"], again[0].error
    assert len(runs_of(harness, "schedule")) == 1  # the catch-up ran once, not twice
