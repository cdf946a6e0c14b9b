"""Consent withdrawn in Microsoft 365 while a real `python worker.py` runs a sync: the run fails once with a
clear message, the connection needs consent, nothing retries it, and the dashboard tells the admins."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import select

from portal import runs
from portal.db import session_scope
from portal.jobs import job_id_for
from portal.models import Organization, SyncRun
from portal.scheduler import Scheduler
from tests.web.conftest import read_csrf_token
from tests.worker.conftest import portal_for, wait_for

DELTA = "/v1.0/users/delta"
TOKEN = "/oauth2/v2.0/token"

pytestmark = pytest.mark.slow  # a worker process


def runs_of(harness) -> list[SyncRun]:
    with session_scope(harness.config.database_url) as session:
        return list(session.exec(select(SyncRun).where(SyncRun.connection_id == harness.connection.id)
                                 .order_by(SyncRun.id)).scalars())


def test_consent_revoked_mid_run_fails_it_once_and_the_dashboard_asks_for_a_reconnect(queued, start_worker):
    queued.sim.settings.delta_page_size = 50
    queued.sim.faults.latency(300, path_prefix=DELTA)  # a run of a few seconds, so it is revoked mid-way
    worker = start_worker(queued, "--no-scheduler")
    with session_scope(queued.config.database_url) as session:
        run_id = runs.request_sync(queued.config, session, session.get(Organization, queued.org.id)).run.id
    wait_for(lambda: queued.run(run_id).status == "running" and queued.run(run_id).done >= 50, 30,
             "the run to write its first page")

    # The tenant's admin removes Sigsync's permissions; the token the worker holds stops working.
    revoked_at = len(queued.sim.log.items("identity"))
    queued.sim.tokens.admin_consent = False
    queued.sim.tokens.expire_access_tokens()

    failed = wait_for(lambda: (r := queued.run(run_id)).status not in runs.ACTIVE_STATUSES and r, 60,
                      "the run to end")
    assert failed.status == "failed"
    assert failed.error.startswith("Sigsync can no longer read your Microsoft 365 directory")
    assert "administrator needs to reconnect on the Connection page" in failed.error
    connection = queued.connection_row()
    assert connection.state == "needs_consent" and connection.last_error == failed.error
    assert 0 < len(queued.employees()) < 300  # what the first pages wrote is kept (some pages' users are out of scope)

    # Not retried: the job failed once in RQ, nothing waits to run it again, no other run was made.
    redis = Redis.from_url(queued.config.redis_url)
    queue = Queue(queued.config.rq_queue, connection=redis)
    job_id = job_id_for(run_id, failed.created_at)
    wait_for(lambda: job_id in FailedJobRegistry(queue=queue).get_job_ids(), 30, "RQ to record it")
    assert queued.connection_row().lock_run_id is None  # the job is over: its lock is given back
    assert queue.count == 0 and ScheduledJobRegistry(queue=queue).count == 0
    assert StartedJobRegistry(queue=queue).count == 0
    graph_refusals = [i for i in queued.sim.log.items("graph") if i.status in (401, 403)]
    after_revoke = queued.sim.log.items("identity")[revoked_at:]
    # A 401, one new token (Entra issues it, without Sigsync's roles), a 403 on it, and the run stops: no loop.
    assert [i.status for i in graph_refusals] == [401, 403]
    assert [i.status for i in after_revoke if i.path.endswith(TOKEN)] == [200]
    # The daily schedule does not start it again either, even when its time has come.
    queued.update_connection(next_sync_at=datetime.now(UTC) - timedelta(minutes=1))
    assert Scheduler(queued.config).tick().started == []
    assert [r.id for r in runs_of(queued)] == [run_id]

    # The dashboard says what happened and what to do; "Sync now" says it too and starts nothing.
    portal = portal_for(queued)
    page = portal.get("/").get_data(as_text=True)
    notice = re.search(r'<li class="warning warning-consent-needed">.*?</li>', page, flags=re.S).group(0)
    assert f"The sync stopped: Microsoft 365 no longer lets Sigsync read your directory (run {run_id} failed" in notice
    assert '<a href="/connect/">Reconnect Microsoft 365</a>' in notice
    assert f'<a href="/sync/runs/{run_id}">See run {run_id}</a>' in notice
    assert "warning-run-failed" not in page  # one notice, not the same news twice
    refused = portal.post("/sync/", data={"mode": "changes", "csrf_token": read_csrf_token(portal, "/sync/")})
    assert refused.status_code == 409
    assert "needs the admin&#39;s consent again" in refused.get_data(as_text=True)
    assert [r.id for r in runs_of(queued)] == [run_id]
    assert worker.process.poll() is None  # the worker carries on with other organisations' jobs
