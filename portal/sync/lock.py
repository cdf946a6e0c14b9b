"""One run per connection at a time, enforced by the database.

The lock is a compare-and-set on the connection row, so it holds across many
workers on many machines; it expires, so a killed worker cannot block syncs for
ever — a live run renews it with every heartbeat.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.engine import Connection as DBConnection
from sqlalchemy.engine import Engine

from portal.errors import SigsyncError
from portal.models import Connection, utcnow

LOCK_TTL = timedelta(minutes=10)


class RunInProgress(SigsyncError):
    """Another run holds this connection's lock."""

    admin_message = "A sync for this connection is already running. Wait for it to finish."


class LockLost(SigsyncError):
    """This run's lock expired while it stalled, or was cleared (disconnect, pause): it must stop writing."""

    admin_message = ("This sync stopped: it stalled longer than its lock lasts, or the connection was paused or "
                     "disconnected meanwhile. Nothing it had not written is lost; the next run continues.")


def acquire(engine: Engine, connection_id: int, run_id: int) -> None:
    """Take the connection's run lock for ``run_id`` or raise RunInProgress."""
    now = utcnow()
    with engine.begin() as conn:
        taken = conn.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .where(or_(Connection.lock_run_id.is_(None), Connection.lock_expires_at < now))
            .values(lock_run_id=run_id, lock_expires_at=now + LOCK_TTL)
        ).rowcount
    if taken != 1:
        raise RunInProgress()


def renew(engine: Engine, connection_id: int, run_id: int) -> bool:
    """Extend the lock; False when it was lost (expired and taken by another run)."""
    with engine.begin() as conn:
        return renew_in(conn, connection_id, run_id)


def renew_in(conn: DBConnection, connection_id: int, run_id: int) -> bool:
    """Extend the lock inside the caller's transaction, so its writes commit only while the lock is held.

    An expired lock is gone even if nobody took it: a run that stalled past it (or whose lock a
    disconnect or a pause cleared) gets False and must stop.
    """
    now = utcnow()
    renewed = conn.execute(
        update(Connection)
        .where(Connection.id == connection_id, Connection.lock_run_id == run_id, Connection.lock_expires_at >= now)
        .values(lock_expires_at=now + LOCK_TTL)
    ).rowcount
    return renewed == 1


def hold_in(conn: DBConnection, connection_id: int, run_id: int) -> None:
    """``renew_in``, raising LockLost when the lock is gone."""
    if not renew_in(conn, connection_id, run_id):
        raise LockLost()


def ensure_idle_in(conn: DBConnection, connection_id: int) -> None:
    """Raise RunInProgress while a live run holds the lock; else keep runs out until the caller commits.

    The row is updated (a dead lock is cleared), so on PostgreSQL it stays locked until the caller's
    transaction ends and a run cannot start in between; SQLite has one writer at a time anyway.
    """
    free = conn.execute(
        update(Connection)
        .where(Connection.id == connection_id,
               or_(Connection.lock_run_id.is_(None), Connection.lock_expires_at < utcnow()))
        .values(lock_run_id=None, lock_expires_at=None)
    ).rowcount
    if free != 1:
        raise RunInProgress()


def release(engine: Engine, connection_id: int, run_id: int) -> None:
    """Give the lock back (only if we still hold it)."""
    with engine.begin() as conn:
        conn.execute(
            update(Connection)
            .where(Connection.id == connection_id, Connection.lock_run_id == run_id)
            .values(lock_run_id=None, lock_expires_at=None)
        )
