"""The sync job's heartbeat: a thread stamps the run row while the job runs, and nothing after."""

from __future__ import annotations

import threading
import time

from sqlalchemy import update

from portal.jobs import Heartbeat
from portal.models import SyncRun
from portal.sync.engine import create_run


def set_status(harness, run_id: int, status: str) -> None:
    with harness.engine.begin() as conn:
        conn.execute(update(SyncRun).where(SyncRun.id == run_id).values(status=status))


def test_the_heartbeat_beats_while_the_job_runs_and_stops_with_it(acme):
    run_id = create_run(acme.engine, acme.connection.id)
    set_status(acme, run_id, "running")
    beats = []
    with Heartbeat(acme.engine, run_id, every=0.05):
        for _ in range(4):
            time.sleep(0.12)
            beats.append(acme.run(run_id).heartbeat_at)
    assert beats[0] is not None and len(set(beats)) == 4  # a fresh stamp each time we looked
    assert not any(t.name == f"heartbeat-run-{run_id}" for t in threading.enumerate())
    last = acme.run(run_id).heartbeat_at
    time.sleep(0.15)
    assert acme.run(run_id).heartbeat_at == last  # the thread ended with the job


def test_a_finished_run_is_not_stamped(acme):
    run_id = create_run(acme.engine, acme.connection.id)
    set_status(acme, run_id, "succeeded")
    Heartbeat(acme.engine, run_id).beat()
    assert acme.run(run_id).heartbeat_at is None
