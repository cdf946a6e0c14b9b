"""Run ids start again at 1 in another database on the same Redis (a second installation, a restored
backup, CI on two databases): a queued run must not inherit a finished job of the same run id, whose
expiry RQ would give it, so that it vanished from Redis and was marked abandoned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import delete, insert

from portal import runs
from portal.db import session_scope
from portal.jobs import enqueue_run, job_id_for
from portal.models import Organization, SyncDecision, SyncRun
from portal.scheduler import UNCLAIMED_AFTER, Scheduler
from tests.worker.conftest import work_off


def test_a_run_id_used_again_gets_a_job_of_its_own(queued):
    with session_scope(queued.config.database_url) as session:
        first = runs.request_sync(queued.config, session, session.get(Organization, queued.org.id)).run.id
    work_off(queued)
    assert queued.run(first).status == "succeeded"
    redis = Redis.from_url(queued.config.redis_url)
    finished = Job.fetch(job_id_for(first, queued.run(first).created_at), connection=redis)
    assert finished.get_status() == "finished" and redis.ttl(finished.key) > 0  # RQ keeps it a while

    # The same run id in "another database": the row made again, as a restored backup would.
    with queued.engine.begin() as conn:
        conn.execute(delete(SyncDecision).where(SyncDecision.run_id == first))
        conn.execute(delete(SyncRun).where(SyncRun.id == first))
        conn.execute(insert(SyncRun).values(id=first, connection_id=queued.connection.id,
                                            organization_id=queued.org.id, status="queued",
                                            created_at=datetime.now(UTC) + timedelta(seconds=1)))
    enqueue_run(queued.config, first)

    again = Job.fetch(job_id_for(first, queued.run(first).created_at), connection=redis)
    assert again.id != finished.id and again.get_status() == "queued"
    assert redis.ttl(again.key) == -1  # no expiry while it waits
    assert Queue(queued.config.rq_queue, connection=redis).count == 1
    later = datetime.now(UTC) + UNCLAIMED_AFTER + timedelta(minutes=1)
    assert Scheduler(queued.config, clock=lambda: later).tick().abandoned == []  # its job is there
    work_off(queued)
    assert queued.run(first).status == "succeeded"
