"""An organisation's Microsoft 365 connection: connect, configure, disconnect.

One place for these, shared by the CLI, the portal views and the worker.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Connection as DBConnection
from sqlalchemy.engine import Engine
from sqlmodel import Session
from sqlmodel import select as sqlmodel_select

from config import Config
from portal.configuration import store_config
from portal.employees.deletion import delete_employees
from portal.errors import SigsyncError
from portal.m365.auth import TokenProvider
from portal.m365.graph import GraphClient
from portal.models import Connection, Employee, GroupMember, Organization, utcnow
from portal.sync.config import config_hash, default_config, export_config, parse_config

log = logging.getLogger(__name__)


class ConnectionProblem(SigsyncError):
    """The connection cannot do what was asked; the message says why and what to do."""


def live_connection(conn: DBConnection, organization_id: int) -> Connection:
    """The organisation's connection that is not disconnected, or ConnectionProblem."""
    row = conn.execute(
        select(Connection.__table__)
        .where(Connection.organization_id == organization_id, Connection.state != "disconnected")
        .order_by(Connection.id.desc())
    ).first()
    if row is None:
        raise ConnectionProblem("This organisation is not connected to Microsoft 365. Connect it first.")
    return Connection.model_validate(row._asdict())


def graph_for(config: Config, engine: Engine, connection: Connection, **client_options: Any) -> GraphClient:
    """A Graph client whose token cache changes are saved (encrypted) on the connection row."""

    def save_cache(blob: bytes) -> None:
        with engine.begin() as conn:
            conn.execute(update(Connection).where(Connection.id == connection.id).values(token_cache=blob))

    return GraphClient(config, TokenProvider(config, connection, on_cache_changed=save_cache), **client_options)


def connect_app_only(config: Config, engine: Engine, org: Organization, tenant_id: str,
                     connected_by: str = "") -> Connection:
    """Connect with application permissions (admin consent already granted in the tenant)."""
    with engine.begin() as conn:
        _refuse_second_connection(conn, org.id)
    probe = Connection(organization_id=org.id, tenant_id=tenant_id.strip(), mode="app", token_cache=None)
    with GraphClient(config, TokenProvider(config, probe)) as graph:
        # Proves the consent covers reading users before anything is stored.
        graph.get("/users", params={"$top": "1", "$select": "id"})
    return _store_new(engine, org, tenant_id.strip(), "app", connected_by, probe.token_cache)


def connect_delegated(engine: Engine, org: Organization, tenant_id: str, token_cache: bytes,
                      connected_by: str) -> Connection:
    """Store a connection made by an admin's sign-in (the portal's consent flow)."""
    with engine.begin() as conn:
        _refuse_second_connection(conn, org.id)
    return _store_new(engine, org, tenant_id, "delegated", connected_by, token_cache)


def _refuse_second_connection(conn: DBConnection, organization_id: int) -> None:
    try:
        live = live_connection(conn, organization_id)
    except ConnectionProblem:
        return
    raise ConnectionProblem(f"Already connected to tenant {live.tenant_id}. Disconnect first.")


def refuse_tenant_of_another_organisation(session: Session, organization_id: int, tenant_id: str) -> None:
    """A tenant is connected to one organisation at a time.

    The tenant id of an admin-consent answer comes back in a redirect anyone can edit, and Sigsync's app
    reads every tenant that consented to it: without this, an admin of one organisation could attach
    another organisation's tenant (its directory, and its employees' signatures in the Outlook add-in).
    """
    taken = session.exec(sqlmodel_select(Connection.id).where(
        func.lower(Connection.tenant_id) == tenant_id.strip().lower(),
        Connection.organization_id != organization_id, Connection.state != "disconnected")).first()
    if taken is not None:
        raise ConnectionProblem(f"Microsoft 365 tenant {tenant_id.strip()} is already connected to another Sigsync "
                                "organisation. A tenant can be connected to one organisation at a time.")


def _store_new(engine: Engine, org: Organization, tenant_id: str, mode: str, connected_by: str,
               token_cache: bytes | None) -> Connection:
    cfg = default_config(org.timezone)
    document = export_config(cfg)
    with engine.begin() as conn:
        conn.execute(
            Connection.__table__.insert(),
            {"organization_id": org.id, "tenant_id": tenant_id, "mode": mode, "state": "active",
             "connected_by": connected_by, "connected_at": utcnow(), "token_cache": token_cache,
             "settings": document["settings"], "mapping": document["mapping"],
             "import_rules": document["import_rules"], "config_hash": config_hash(cfg), "last_error": ""},
        )
        log.info("Organisation %s connected to tenant %s (%s mode)", org.slug, tenant_id, mode)
        return live_connection(conn, org.id)


def connection_settings(connection: Connection, timezone: str = "UTC"):
    """The connection's parsed settings (defaults filled in)."""
    return parse_config(
        {"settings": connection.settings, "mapping": connection.mapping, "import_rules": connection.import_rules},
        default_timezone=timezone,
    ).settings


def export_connection_config(connection: Connection, timezone: str = "UTC") -> dict[str, Any]:
    """The connection's settings, mapping and import rules as the documented JSON."""
    cfg = parse_config(
        {"settings": connection.settings, "mapping": connection.mapping, "import_rules": connection.import_rules},
        default_timezone=timezone,
    )
    return export_config(cfg)


def import_connection_config(engine: Engine, connection: Connection, text: str, timezone: str = "UTC") -> None:
    """Replace the configuration with a JSON document; a bad document changes nothing."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ConnectionProblem(f"The file is not valid JSON: {exc.msg} at {where}") from None
    cfg = parse_config(data, default_timezone=timezone)  # raises ConfigInvalid naming the bad key
    with engine.begin() as conn:
        store_config(conn, connection.id, cfg)  # the portal's pages save through it too


def set_connection_paused(engine: Engine, connection: Connection, paused: bool) -> None:
    """Pause or resume the sync of the whole connection."""
    if connection.state not in ("active", "paused"):
        raise ConnectionProblem(f"The connection is {connection.state}; only an active connection can be paused.")
    with engine.begin() as conn:
        # Pausing takes the lock away from a running sync: it stops at its next page.
        pause = {"lock_run_id": None, "lock_expires_at": None} if paused else {}
        conn.execute(update(Connection).where(Connection.id == connection.id)
                     .values(state="paused" if paused else "active", **pause))


def disconnect(engine: Engine, connection: Connection, *, keep_employees: bool) -> dict[str, int]:
    """End the connection; keep the synced employees as manual ones, or delete those the sync created."""
    with engine.begin() as conn:
        locked = conn.execute(
            update(Connection)
            # A lock past its expiry belongs to a worker that died: it does not block a disconnect.
            .where(Connection.id == connection.id,
                   or_(Connection.lock_run_id.is_(None), Connection.lock_expires_at < utcnow()))
            # Its lock goes too: a stalled run that comes back must find it gone and write nothing more.
            .values(state="disconnected", disconnected_at=utcnow(), token_cache=None, delta_link=None,
                    delta_config_hash="", lock_run_id=None, lock_expires_at=None)
        ).rowcount
        if not locked:
            raise ConnectionProblem("A sync is running for this connection. Wait for it to finish, then disconnect.")
        org_id = connection.organization_id
        linked = Employee.organization_id == org_id, Employee.m365_id.is_not(None)
        deleted = 0
        if not keep_employees:
            doomed = select(Employee.id).where(*linked, Employee.created_by_sync.is_(True))
            deleted = delete_employees(conn, doomed)
        unlinked = conn.execute(
            update(Employee).where(*linked).values(
                m365_id=None, source="manual", manager_m365_id=None, synced_values={}, m365_snapshot={},
                updated_at=utcnow())
        ).rowcount
        conn.execute(delete(GroupMember).where(GroupMember.connection_id == connection.id))
    log.info("Connection %s disconnected: %s employees deleted, %s kept as manual", connection.id, deleted, unlinked)
    return {"deleted": deleted, "kept": unlinked}


def status_report(engine: Engine, connection: Connection, recent: int = 5) -> dict[str, Any]:
    """What an operator asks first: the connection's state and its latest runs (no secrets)."""
    from portal.models import SyncDecision, SyncRun

    with engine.begin() as conn:
        runs = conn.execute(
            select(SyncRun.id, SyncRun.trigger, SyncRun.mode, SyncRun.status, SyncRun.counts, SyncRun.error,
                   SyncRun.started_at, SyncRun.finished_at)
            .where(SyncRun.connection_id == connection.id).order_by(SyncRun.id.desc()).limit(recent)
        ).all()
        held = {run_id: count for run_id, count in conn.execute(
            select(SyncDecision.run_id, func.count())
            .join(SyncRun, SyncRun.id == SyncDecision.run_id)
            .where(SyncRun.connection_id == connection.id, SyncDecision.kind == "removal_held",
                   SyncDecision.resolution == "pending")
            .group_by(SyncDecision.run_id)
        )}
    return {
        "tenant_id": connection.tenant_id,
        "mode": connection.mode,
        "state": connection.state,
        "connected_by": connection.connected_by,
        "connected_at": _iso(connection.connected_at),
        "last_full_run_at": _iso(connection.last_full_run_at),
        "next_run": "delta" if connection.delta_link else "full",
        "last_error": connection.last_error or None,
        "removals_waiting": {str(run_id): count for run_id, count in sorted(held.items())},
        "runs": [{"run_id": r.id, "trigger": r.trigger, "mode": r.mode, "status": r.status,
                  "counts": r.counts, "error": r.error or None, "started_at": _iso(r.started_at),
                  "finished_at": _iso(r.finished_at)} for r in runs],
    }


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


# --- for the portal's pages: a request's Session, so the audit event commits with the change ---------


def current_connection(session: Session, organization_id: int) -> Connection | None:
    """The organisation's connection that is not disconnected, or None."""
    return session.exec(
        sqlmodel_select(Connection)
        .where(Connection.organization_id == organization_id, Connection.state != "disconnected")
        .order_by(Connection.id.desc())
    ).first()


def disconnect_impact(session: Session, connection: Connection) -> dict[str, int]:
    """What each disconnect choice does, counted before it is made.

    ``linked``: employees synced from Microsoft 365 (all kept as manual ones when keeping);
    ``created``: those the sync created (deleted when deleting; the rest are kept as manual).
    """
    linked, created = session.exec(
        sqlmodel_select(func.count(), func.count().filter(Employee.created_by_sync.is_(True)))
        .select_from(Employee)
        .where(Employee.organization_id == connection.organization_id, Employee.m365_id.is_not(None))
    ).one()
    return {"linked": linked, "created": created}


def restore_consent(session: Session, connection: Connection, *, tenant_id: str, mode: str,
                    token_cache: bytes | None, connected_by: str) -> None:
    """Give a connection that needs consent its sign-in back; settings, mapping, rules and employees stay."""
    if tenant_id.strip().lower() != connection.tenant_id.strip().lower():
        raise ConnectionProblem(
            f"You signed in to tenant {tenant_id}, but this organisation is connected to tenant "
            f"{connection.tenant_id}. Sign in with an administrator of tenant {connection.tenant_id}, "
            "or disconnect first to connect another tenant.")
    changed = session.exec(
        update(Connection)
        .where(Connection.id == connection.id, Connection.state == "needs_consent")
        .values(state="active", mode=mode, token_cache=token_cache, connected_by=connected_by,
                connected_at=utcnow(), last_error="")
    ).rowcount
    if not changed:
        raise ConnectionProblem(
            "This connection no longer needs consent: it was reconnected or disconnected meanwhile.")
    session.expire(connection)


def set_sync_paused(session: Session, connection: Connection, paused: bool) -> None:
    """Pause or resume the whole connection's sync (the caller records the audit event and commits)."""
    wanted, other = ("paused", "active") if paused else ("active", "paused")
    # Pausing takes the lock away from a running sync: it stops at its next page.
    pause = {"lock_run_id": None, "lock_expires_at": None} if paused else {}
    changed = session.exec(
        update(Connection).where(Connection.id == connection.id, Connection.state == other)
        .values(state=wanted, **pause)
    ).rowcount
    if not changed:
        session.refresh(connection)
        if connection.state == wanted:
            raise ConnectionProblem(f"The sync is already {'paused' if paused else 'running'}.")
        raise ConnectionProblem(
            f"The connection is {connection.state.replace('_', ' ')}; only a connected tenant's sync can be "
            f"{'paused' if paused else 'resumed'}.")
    session.expire(connection)


def app_only_token_cache(config: Config, organization_id: int, tenant_id: str) -> bytes | None:
    """Prove the tenant's admin consent lets Sigsync read users; the encrypted token cache it produced."""
    probe = Connection(organization_id=organization_id, tenant_id=tenant_id.strip(), mode="app", token_cache=None)
    with GraphClient(config, TokenProvider(config, probe)) as graph:
        graph.get("/users", params={"$top": "1", "$select": "id"})
    return probe.token_cache
