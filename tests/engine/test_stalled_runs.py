"""A run that lost its lock (stalled past expiry, disconnected, paused) writes nothing more."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal import connections
from portal.models import utcnow
from portal.sync import lock, removals
from portal.sync.engine import create_run
from tests.engine.support import leaf_employees


def _stall_then(acme, action):
    """Run a full sync; after its first page the lock expires (the run stalled) and ``action`` happens."""
    acme.sim.settings.delta_page_size = 50
    pages: list[int] = []

    def stalled(done, total, phase):
        if phase == "users" and not pages:
            pages.append(done)
            acme.update_connection(lock_expires_at=utcnow() - timedelta(seconds=1))
            action()

    result, error = acme.try_sync(full=True, progress=stalled)
    return result, error, pages


def test_a_stalled_run_writes_nothing_after_a_disconnect_that_deleted_the_employees(acme):
    acme.sync()
    result, error, pages = _stall_then(
        acme, lambda: connections.disconnect(acme.engine, acme.connection_row(), keep_employees=False))

    assert pages and isinstance(error, lock.LockLost)
    assert result["status"] == "failed" and "already running" not in result["error"]
    assert acme.employees() == {}  # deleted by the disconnect, and not created again
    connection = acme.connection_row()
    assert (connection.state, connection.delta_link, connection.lock_run_id) == ("disconnected", None, None)


def test_a_stalled_run_stops_at_its_next_write_even_when_nobody_took_its_lock(acme):
    result, error, pages = _stall_then(acme, lambda: None)

    assert isinstance(error, lock.LockLost) and result["status"] == "failed"
    assert 0 < len(acme.employees()) <= pages[0]
    assert acme.connection_row().delta_link is None


def test_pausing_the_connection_stops_a_running_sync_at_its_next_page(acme):
    acme.sim.settings.delta_page_size = 50
    pages: list[int] = []

    def pause(done, total, phase):
        if phase == "users" and not pages:
            pages.append(done)
            connections.set_connection_paused(acme.engine, acme.connection_row(), True)

    result, error = acme.try_sync(progress=pause)

    assert isinstance(error, lock.LockLost) and result["status"] == "failed"
    assert 0 < len(acme.employees()) <= pages[0]
    connection = acme.connection_row()
    assert (connection.state, connection.delta_link, connection.lock_run_id) == ("paused", None, None)


def test_held_removals_are_not_approved_while_a_run_holds_the_lock(acme):
    acme.configure(settings={"removal_threshold": {"count": 1, "percent": 100}})
    acme.sync()
    for email in leaf_employees(acme.export(), 2):
        acme.sim.tenant.hard_delete(email)
    held = acme.sync()
    assert held["counts"]["removal_held"] == 2
    running = create_run(acme.engine, acme.connection.id)
    lock.acquire(acme.engine, acme.connection.id, running)

    with pytest.raises(lock.RunInProgress), acme.engine.begin() as conn:
        removals.resolve_held(conn, acme.run(held["run_id"]), True, "deactivate")

    lock.release(acme.engine, acme.connection.id, running)
    with acme.engine.begin() as conn:
        applied = removals.resolve_held(conn, acme.run(held["run_id"]), True, "deactivate")
    assert len(applied) == 2


def test_a_consent_error_after_a_disconnect_leaves_the_connection_disconnected(acme):
    acme.sync()

    def disconnect_and_revoke():
        connections.disconnect(acme.engine, acme.connection_row(), keep_employees=True)
        acme.sim.tokens.admin_consent = False  # the stalled run's next Graph read is refused

    result, error, pages = _stall_then(acme, disconnect_and_revoke)

    assert pages and result["status"] == "failed"
    connection = acme.connection_row()
    assert (connection.state, connection.delta_link) == ("disconnected", None)
