"""One run per connection at a time, enforced by the database."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from portal.models import SyncRun, utcnow
from portal.sync import lock
from portal.sync.engine import create_run
from portal.sync.lock import RunInProgress


def test_run_refused_while_another_holds_the_lock(acme):
    holder = create_run(acme.engine, acme.connection.id)
    lock.acquire(acme.engine, acme.connection.id, holder)

    result, error = acme.try_sync()

    assert isinstance(error, RunInProgress)
    assert result["status"] == "failed"
    assert result["error"] == "A sync for this connection is already running. Wait for it to finish."
    assert acme.employees() == {}
    assert acme.connection_row().lock_run_id == holder  # the holder keeps it

    lock.release(acme.engine, acme.connection.id, holder)
    assert acme.sync()["status"] == "succeeded"


def test_expired_lock_of_a_killed_worker_is_taken_over(acme):
    killed = create_run(acme.engine, acme.connection.id)
    with acme.engine.begin() as conn:
        conn.execute(update(SyncRun).where(SyncRun.id == killed).values(status="running", phase="users"))
    acme.update_connection(lock_run_id=killed, lock_expires_at=utcnow() - timedelta(seconds=1))

    result = acme.sync()

    assert result["status"] == "succeeded"
    assert acme.connection_row().lock_run_id is None
    dead = acme.run(killed)
    assert dead.status == "failed" and "stopped before it finished" in dead.error
    # The killed run cannot renew what it lost.
    assert not lock.renew(acme.engine, acme.connection.id, killed)


def test_run_that_lost_its_lock_stops(acme):
    acme.sim.settings.delta_page_size = 50

    def steal(done, total, phase):
        if phase == "users":  # another worker took over after the lock expired
            acme.update_connection(lock_run_id=999_999, lock_expires_at=utcnow() + timedelta(minutes=5))

    with pytest.raises(lock.LockLost):
        acme.sync(progress=steal)
    assert acme.last_run().status == "failed"
    assert "already running" not in acme.last_run().error  # it was running: it lost its lock
    assert acme.last_run().error == lock.LockLost.admin_message
    assert acme.connection_row().lock_run_id == 999_999  # not released by the loser


def test_two_concurrent_runs_exactly_one_succeeds(acme):
    acme.sim.settings.delta_page_size = 50
    start = threading.Barrier(2)
    outcomes: list = []

    def run() -> None:
        start.wait()
        outcomes.append(acme.try_sync())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    statuses = sorted(result["status"] for result, _error in outcomes)
    assert statuses == ["failed", "succeeded"]
    [(loser, error)] = [(r, e) for r, e in outcomes if r["status"] == "failed"]
    assert isinstance(error, RunInProgress)
    assert loser["error"] == RunInProgress.admin_message
    assert len(acme.employees()) == 275
    assert acme.connection_row().lock_run_id is None


def test_run_that_lost_its_lock_writes_nothing_more(acme):
    acme.sim.settings.delta_page_size = 50
    pages: list[int] = []

    def steal(done, total, phase):
        if phase == "users" and not pages:
            pages.append(done)
            acme.update_connection(lock_run_id=999_999, lock_expires_at=utcnow() + timedelta(minutes=5))

    with pytest.raises(lock.LockLost):
        acme.sync(progress=steal)
    # Only the page written before the lock was lost is there: the next page's writes were refused.
    assert 0 < len(acme.employees()) <= pages[0]


def test_disconnect_is_not_blocked_by_a_dead_workers_lock(acme, cli):
    acme.sync()
    acme.update_connection(lock_run_id=424_242, lock_expires_at=utcnow() - timedelta(hours=3))

    out = cli("m365", "disconnect", "acme", "--keep-employees")

    assert out.exit_code == 0, out.output
    assert acme.connection_row().state == "disconnected"
