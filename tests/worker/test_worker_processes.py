"""`python worker.py` as real processes: the schedule runs by itself; a killed run is abandoned, the next converges."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import select

from portal import runs
from portal.db import session_scope
from portal.models import Organization, SchedulerLease, SyncRun
from portal.scheduler import HEARTBEAT_STALE, UNCLAIMED_AFTER, Scheduler
from tests.engine.support import differences
from tests.worker.conftest import ROOT, wait_for, work_off

DELTA = "/v1.0/users/delta"
SCHEDULER_STARTED = r"Scheduler \S+?:(\d+):\S+ started"

pytestmark = pytest.mark.slow  # each test starts worker processes


def request_sync(harness) -> int:
    with session_scope(harness.config.database_url) as session:
        return runs.request_sync(harness.config, session, session.get(Organization, harness.org.id)).run.id


def test_two_workers_run_the_due_daily_sync_once(queued, start_worker):
    scheduler = Scheduler(queued.config)
    scheduler.tick()  # the next due time is stored...
    scheduler.release_lease()
    queued.update_connection(next_sync_at=datetime.now(UTC) - timedelta(minutes=1))  # ...and it is due now

    # One whole worker and one more scheduling loop (as a second machine would run): two schedulers race.
    workers = [start_worker(queued), start_worker(queued, "--scheduler-only")]

    def scheduled():
        with session_scope(queued.config.database_url) as session:
            return list(session.exec(select(SyncRun).where(SyncRun.trigger == "schedule")).scalars())

    wait_for(lambda: [r for r in scheduled() if r.status == "succeeded"], 30, "the scheduled run to succeed")
    assert len(scheduled()) == 1
    assert len(queued.employees()) == scheduled()[0].counts["created"] > 250
    next_at = queued.connection_row().next_sync_at.replace(tzinfo=UTC)
    assert datetime.now(UTC) < next_at < datetime.now(UTC) + timedelta(days=1, minutes=30)
    with session_scope(queued.config.database_url) as session:
        holder = session.get(SchedulerLease, "scheduler").holder
    pids = {int(pid) for w in workers for pid in re.findall(SCHEDULER_STARTED, w.output())}
    assert len(pids) == 2 and int(holder.split(":")[1]) in pids  # both loops run; one holds the lease


def test_a_worker_killed_mid_run_leaves_an_abandoned_run_and_the_next_run_converges(queued, start_worker, fresh):
    queued.sim.settings.delta_page_size = 50
    queued.sim.faults.latency(400, path_prefix=DELTA)  # about 0.4 s a page: a run of a few seconds
    worker = start_worker(queued, "--no-scheduler")
    run_id = request_sync(queued)
    wait_for(lambda: queued.run(run_id).status == "running" and queued.run(run_id).done >= 50, 30,
             "the run to write its first page")

    worker.kill()  # SIGKILL to the worker and the job's process: no clean-up runs

    killed = queued.run(run_id)
    assert killed.status == "running" and queued.connection_row().lock_run_id == run_id
    now = datetime.now(UTC)
    assert Scheduler(queued.config, clock=lambda: now).tick().abandoned == []  # its heartbeat is still fresh
    later = now + HEARTBEAT_STALE + timedelta(seconds=20)
    assert Scheduler(queued.config, clock=lambda: later).tick().abandoned == [run_id]
    abandoned = queued.run(run_id)
    assert abandoned.status == "abandoned" and abandoned.error.startswith("Abandoned: the worker running this sync")
    assert queued.connection_row().lock_run_id is None  # released at once, not in ten minutes
    queued.sim.faults.clear()
    reference = fresh()  # what a clean full run from scratch gives
    assert 0 < len(queued.employees()) < len(reference.employees())  # the first pages are kept, not the rest
    again = request_sync(queued)
    work_off(queued)  # a worker that is alive (RQ in this process) takes the next run

    assert queued.run(again).status == "succeeded", queued.run(again).error
    employees = queued.employees().values()
    assert len({e.m365_id for e in employees}) == len(employees)  # nobody twice
    assert differences(queued.export(status="active"), reference.export()) == {}  # nobody lost


def test_a_queued_run_whose_job_vanished_from_redis_is_abandoned(queued):
    run_id = request_sync(queued)
    Queue(queued.config.rq_queue, connection=Redis.from_url(queued.config.redis_url)).delete(delete_jobs=True)
    soon = datetime.now(UTC) + timedelta(minutes=1)
    assert Scheduler(queued.config, clock=lambda: soon).tick().abandoned == []  # waiting its turn is fine
    later = datetime.now(UTC) + UNCLAIMED_AFTER + timedelta(minutes=1)
    assert Scheduler(queued.config, clock=lambda: later).tick().abandoned == [run_id]
    assert queued.run(run_id).status == "abandoned"
    assert "no worker picked this sync up" in queued.run(run_id).error


def test_a_crashed_scheduler_stops_the_whole_worker_so_it_is_restarted(queued, start_worker):
    worker = start_worker(queued)
    found = wait_for(lambda: re.search(SCHEDULER_STARTED, worker.output()), 30, "the scheduler")
    os.kill(int(found.group(1)), signal.SIGKILL)

    assert worker.process.wait(30) == 1
    assert "The scheduler stopped unexpectedly" in worker.output()


def test_a_killed_worker_takes_its_scheduler_with_it(queued, start_worker):
    worker = start_worker(queued)
    wait_for(lambda: re.search(SCHEDULER_STARTED, worker.output()), 30, "the scheduler")
    os.kill(worker.process.pid, signal.SIGKILL)  # the worker process only: its scheduler child is left behind

    wait_for(lambda: "The worker process is gone; the scheduler stops too." in worker.output(), 15,
             "the scheduler to notice")


def test_worker_with_redis_unreachable_says_so_and_exits(queued):
    env = {**os.environ, "DATABASE_URL": queued.config.database_url, "REDIS_URL": "redis://127.0.0.1:1/0"}
    done = subprocess.run([sys.executable, "worker.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2
    assert "Cannot reach Redis at redis://127.0.0.1:1/0" in done.stderr and "REDIS_URL" in done.stderr
