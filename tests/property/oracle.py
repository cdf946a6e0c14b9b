"""The oracle of the model-based test: a forced full run on a copy of the database must change nothing.

No second implementation of the sync is needed: whatever a delta run did, a full run from the same
database state reads everyone again, so if it still finds something to change, the delta run (or an
admin action before it) left the employees somewhere a full run would not.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import replace
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from config import Config
from portal import migrations
from portal.db import get_engine, session_scope
from portal.employees import export_rows
from portal.jobs import sync_job
from portal.models import Organization, SyncDecision
from portal.sync.engine import create_run

# Decisions that change an employee: a full run right after a delta run must make none of them.
ALTERING = frozenset({"created", "updated", "linked", "overwrote_manual", "kept_manual", "reactivated",
                      "deleted", "deactivated", "unlinked"})
# What a dry run before a delta run must predict: every decision a delta run records whenever it holds
# (skipped/out_of_scope/paused/excluded/conflict repeat on every full read, so a delta run may omit them).
PREDICTED_FOR_DELTA = ALTERING | {"removal_held", "seat_limit"}


def empty_database(url: str) -> None:
    """Delete every row (the schema stays), as the suite's clean_db fixture does."""
    engine = get_engine(url)
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))


class DatabaseCopier:
    """Copies the test database into a second one, on SQLite (a file) and on PostgreSQL (a database)."""

    def __init__(self, source_url: str, workdir: Path) -> None:
        self.source_url = source_url
        source = make_url(source_url)
        if source.get_backend_name() == "sqlite":
            self.copy_url = f"sqlite:///{workdir / 'oracle-copy.db'}"
        else:
            # A sibling database on the same server; trust auth as the same user creates it (CI: postgres).
            self.copy_url = source.set(database=f"{source.database}_oracle").render_as_string(hide_password=False)
            self._create_postgres_copy_database(source)
            migrations.upgrade(self.copy_url)

    def copy(self) -> str:
        """Make the copy equal to the source now; returns its URL."""
        if self.copy_url.startswith("sqlite:"):
            self._copy_sqlite()
        else:
            self._copy_postgres()
        return self.copy_url

    def _copy_sqlite(self) -> None:
        get_engine(self.copy_url).dispose()
        target = Path(self.copy_url.split(":///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        src = sqlite3.connect(self.source_url.split(":///", 1)[1])
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # a consistent snapshot, WAL included
        finally:
            dst.close()
            src.close()

    def _create_postgres_copy_database(self, source) -> None:
        # Its own short-lived engine: CREATE DATABASE needs autocommit, which a pooled connection must not keep.
        admin = create_engine(source, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        name = f"{source.database}_oracle"
        try:
            with admin.connect() as conn:
                exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
                if not exists:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()

    def _copy_postgres(self) -> None:
        # Row by row through SQLAlchemy: works while other sessions use the source database (CREATE
        # DATABASE … TEMPLATE would not) and needs no pg_dump on the machine.
        tables = SQLModel.metadata.sorted_tables
        source, target = get_engine(self.source_url), get_engine(self.copy_url)
        with source.connect() as src, target.begin() as dst:
            dst.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            for table in tables:
                rows = [dict(r._mapping) for r in src.execute(select(table))]
                if rows:
                    dst.execute(table.insert(), rows)
                if "id" in table.c and table.c.id.autoincrement and rows:
                    top = dst.execute(select(func.max(table.c.id))).scalar()
                    dst.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), :v)"),
                                {"v": top})


def export(url: str, organization_id: int) -> dict[str, dict]:
    """Every employee of the organisation as the CLI exports it, by e-mail."""
    with session_scope(url) as session:
        org = session.get(Organization, organization_id)
        return {r["email"]: r for r in export_rows(session, org)}


def decisions(url: str, run_id: int) -> list[SyncDecision]:
    with session_scope(url) as session:
        stmt = select(SyncDecision).where(SyncDecision.run_id == run_id).order_by(SyncDecision.id)
        return list(session.exec(stmt).scalars().all())


def decision_keys(rows: list[SyncDecision], kinds: frozenset[str] | None = None) -> Counter:
    """Decisions as comparable (kind, user, e-mail, details) keys; reasons differ by path and are left out."""
    return Counter((d.kind, d.m365_id, d.email, json.dumps(d.details or {}, sort_keys=True))
                   for d in rows if kinds is None or d.kind in kinds)


def full_run_on_copy(config: Config, copier: DatabaseCopier, connection_id: int,
                     organization_id: int) -> tuple[dict, dict[str, dict], dict[str, dict], list[SyncDecision]]:
    """Copy the database, force a full run on the copy: (summary, export before, export after, decisions)."""
    url = copier.copy()
    copy_config = replace(config, database_url=url)
    before = export(url, organization_id)
    run_id = create_run(get_engine(url), connection_id, trigger="cli", full=True)
    result = sync_job(run_id, copy_config)
    return result, before, export(url, organization_id), decisions(url, run_id)


class Divergence(AssertionError):
    """A broken promise, with what it concerns: the check, the employee fields and the decision kinds involved."""

    def __init__(self, check: str, message: str, fields: frozenset[str] = frozenset(),
                 kinds: frozenset[str] = frozenset()) -> None:
        super().__init__(f"[{check}] {message}")
        self.check = check
        self.fields = fields
        self.kinds = kinds


def differing_fields(diff: dict) -> frozenset[str]:
    """The field names in a ``differences`` result; a whole employee missing on one side counts as "row"."""
    names: set[str] = set()
    for value in diff.values():
        names.update(value) if isinstance(value, dict) else names.add("row")
    return frozenset(names)


def decision_fields(keys) -> frozenset[str]:
    """The fields named in the details of decision keys (kind, user, e-mail, details JSON)."""
    names: set[str] = set()
    for _kind, _uid, _email, details in keys:
        names.update(json.loads(details).get("fields", {}))
    return frozenset(names)
