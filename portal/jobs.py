"""Job functions the worker runs (and the CLI calls in-process): ids in, engine calls out."""

from __future__ import annotations

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import select

from config import Config
from portal.connections import graph_for
from portal.db import get_engine
from portal.m365.errors import M365Error
from portal.models import Connection, SyncRun
from portal.sync.engine import Progress, create_run, fail_run, run_sync

# A 100,000-user first sync takes about a minute; a million users, much longer.
SYNC_JOB_TIMEOUT = 6 * 3600


def sync_job(run_id: int, config: Config | None = None, progress: Progress | None = None,
             graph_options: dict | None = None) -> dict:
    """Run a queued sync; returns the run's summary (also stored on the run row)."""
    config = config or Config.from_env()
    engine = get_engine(config.database_url)
    with engine.begin() as conn:
        connection_id = conn.execute(select(SyncRun.connection_id).where(SyncRun.id == run_id)).scalar_one()
        row = conn.execute(select(Connection.__table__).where(Connection.id == connection_id)).one()
    connection = Connection.model_validate(row._asdict())
    try:
        graph = graph_for(config, engine, connection, **(graph_options or {}))
    except M365Error as exc:  # e.g. a token cache the configured key cannot read: the run must not stay queued
        fail_run(engine, run_id, exc.admin_message)
        raise
    with graph:
        run = run_sync(engine, run_id, graph, progress)
    return summary(run)


def summary(run: SyncRun) -> dict:
    """What a script needs to know about a run."""
    return {"run_id": run.id, "status": run.status, "mode": run.mode, "counts": dict(run.counts or {}),
            "error": run.error or None}


def enqueue_sync(config: Config, connection_id: int, *, trigger: str = "manual", full: bool = False,
                 dry_run: bool = False) -> int:
    """Record a queued run and hand it to a worker; returns the run id."""
    engine = get_engine(config.database_url)
    run_id = create_run(engine, connection_id, trigger=trigger, full=full, dry_run=dry_run)
    enqueue_run(config, run_id)
    return run_id


def enqueue_run(config: Config, run_id: int) -> None:
    """Hand an already recorded queued run to a worker (portal.runs.request_sync records it under a lock)."""
    try:
        queue = Queue(config.rq_queue, connection=Redis.from_url(config.redis_url))
        queue.enqueue(sync_job, run_id, job_timeout=SYNC_JOB_TIMEOUT, job_id=f"sync-run-{run_id}")
    except RedisError as exc:
        # A run no worker will ever see must not sit "queued" for ever.
        fail_run(get_engine(config.database_url), run_id, "The job queue (Redis) is unreachable, so no worker "
                                                          "got this sync. Check REDIS_URL and run it again.")
        raise QueueUnavailable(str(exc)) from None


class QueueUnavailable(RuntimeError):
    """Redis did not take the job; the run is marked failed with the reason."""
