"""Job functions the worker runs (and the CLI calls in-process): ids in, engine calls out."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from types import TracebackType

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from config import Config
from portal.connections import graph_for
from portal.db import get_engine
from portal.m365.errors import ConsentRequired, M365Error
from portal.models import Connection, SyncRun, utcnow
from portal.sync.engine import Progress, create_run, fail_run, run_sync

# A 100,000-user first sync takes about a minute; a million users, much longer.
SYNC_JOB_TIMEOUT = 6 * 3600
# How often a job stamps its run's heartbeat_at; portal.scheduler calls a run dead after two minutes without.
HEARTBEAT_SECONDS = 15.0

log = logging.getLogger(__name__)


def sync_job(run_id: int, config: Config | None = None, progress: Progress | None = None,
             graph_options: dict | None = None) -> dict:
    """Run a queued sync; returns the run's summary (also stored on the run row)."""
    config = config or Config.from_env()
    engine = get_engine(config.database_url)
    with Heartbeat(engine, run_id):
        return _sync(config, engine, run_id, progress, graph_options)


def _sync(config: Config, engine: Engine, run_id: int, progress: Progress | None, graph_options: dict | None) -> dict:
    with engine.begin() as conn:
        connection_id = conn.execute(select(SyncRun.connection_id).where(SyncRun.id == run_id)).scalar_one()
        row = conn.execute(select(Connection.__table__).where(Connection.id == connection_id)).one()
    connection = Connection.model_validate(row._asdict())
    try:
        graph = graph_for(config, engine, connection, **(graph_options or {}))
    except M365Error as exc:  # e.g. a token cache the configured key cannot read: the run must not stay queued
        fail_run(engine, run_id, exc.admin_message)
        if isinstance(exc, ConsentRequired):  # as the engine does: no run is started until an admin reconnects
            with engine.begin() as conn:
                conn.execute(update(Connection)
                             .where(Connection.id == connection_id, Connection.state != "disconnected")
                             .values(state="needs_consent"))
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
        # Bounded waits: a Redis host that does not answer at all must not hang "Sync now" for minutes.
        redis = Redis.from_url(config.redis_url, socket_connect_timeout=5, socket_timeout=10)
        queue = Queue(config.rq_queue, connection=redis)
        with get_engine(config.database_url).connect() as conn:
            created_at = conn.execute(select(SyncRun.created_at).where(SyncRun.id == run_id)).scalar_one()
        queue.enqueue(sync_job, run_id, job_timeout=SYNC_JOB_TIMEOUT, job_id=job_id_for(run_id, created_at))
    except RedisError as exc:
        # A run no worker will ever see must not sit "queued" for ever.
        fail_run(get_engine(config.database_url), run_id, "The job queue (Redis) is unreachable, so no worker "
                                                          "got this sync. Check REDIS_URL and run it again.")
        raise QueueUnavailable(str(exc)) from None


def job_id_for(run_id: int, created_at: datetime) -> str:
    """The RQ job id of a run (the scheduler looks it up to tell a lost run from a waiting one).

    The run's creation time is part of it: run ids start again at 1 in another database on the same
    Redis (a second installation, a restored backup, CI on two databases), and RQ gives a job that
    reuses a finished job's id that job's expiry, so the queued run would vanish from Redis.
    """
    if created_at.tzinfo is None:  # SQLite hands back naive datetimes; every stored time is UTC
        created_at = created_at.replace(tzinfo=UTC)
    return f"sync-run-{run_id}-{int(created_at.timestamp() * 1_000_000)}"


class Heartbeat:
    """Stamps the run's ``heartbeat_at`` every few seconds from a thread while the job runs.

    Only that column, and only while the run is queued or running: a worker that is alive but busy in
    one long Graph call or database write still beats, and a killed worker stops beating, which is how
    portal.scheduler tells the two apart.
    """

    def __init__(self, engine: Engine, run_id: int, every: float = HEARTBEAT_SECONDS) -> None:
        self.engine = engine
        self.run_id = run_id
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-run-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.beat()
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def beat(self) -> None:
        """One stamp (a failure is logged: the next beat may get through)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(update(SyncRun)
                             .where(SyncRun.id == self.run_id, SyncRun.status.in_(("queued", "running")))
                             .values(heartbeat_at=utcnow()))
        except Exception:
            log.warning("Run %s: could not record its heartbeat", self.run_id, exc_info=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.beat()


class QueueUnavailable(RuntimeError):
    """Redis did not take the job; the run is marked failed with the reason."""
