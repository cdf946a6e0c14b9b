"""One measured step in a fresh process: peak RSS is this process's own high-water mark.

    python -m bench.child setup SLUG | sync SLUG [--full] | floor SLUG
Prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from sqlalchemy import delete, insert, select

from config import Config
from portal import connections
from portal.db import get_engine, session_scope
from portal.migrations import upgrade
from portal.models import Employee, Organization
from portal.organizations import create_organization
from portal.sync.config import default_config, graph_select
from portal.sync.engine import create_run, run_sync
from portal.sync.mapping import Mapper


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _org(engine, slug: str) -> Organization:
    with engine.begin() as conn:
        row = conn.execute(select(Organization.__table__).where(Organization.slug == slug)).one()
    return Organization.model_validate(row._asdict())


def setup(config: Config, slug: str) -> dict:
    """Schema, organisation and app-only connection to the simulator's tenant."""
    upgrade(config.database_url)
    with session_scope(config.database_url) as session:
        org = create_organization(session, slug, slug.title(), timezone="UTC")
    connections.connect_app_only(config, get_engine(config.database_url), org, config.ms_tenant_id, "bench")
    return {"ok": True}


def sync(config: Config, slug: str, full: bool) -> dict:
    """One sync run, as the worker would run it."""
    engine = get_engine(config.database_url)
    org = _org(engine, slug)
    with engine.begin() as conn:
        connection = connections.live_connection(conn, org.id)
    run_id = create_run(engine, connection.id, trigger="cli", full=full)
    started = time.perf_counter()
    with connections.graph_for(config, engine, connection) as graph:
        run = run_sync(engine, run_id, graph)
        stats = graph.stats.as_dict()
    wall = time.perf_counter() - started
    return {"wall_s": wall, "mode": run.mode, "status": run.status, "users": run.done, "counts": run.counts,
            "graph_requests": stats["requests"], "throttled": stats["throttled"], "peak_rss_mb": peak_rss_mb()}


def floor(config: Config, slug: str) -> dict:
    """The least any sync could cost: fetch every delta page, and bulk-insert the same rows."""
    engine = get_engine(config.database_url)
    org = _org(engine, slug)
    with engine.begin() as conn:
        connection = connections.live_connection(conn, org.id)
    cfg = default_config()
    mapper = Mapper(cfg.mapping)
    fetch_s = insert_s = 0.0
    users = 0
    with connections.graph_for(config, engine, connection) as graph:
        pages = graph.iter_delta("/users/delta", select=graph_select(cfg))
        while True:
            t0 = time.perf_counter()
            page = next(pages, None)
            fetch_s += time.perf_counter() - t0
            if page is None:
                break
            rows = []
            for user in page.users:
                values = {k: v for k, v in mapper.values(user).items() if not k.startswith("custom.")}
                values["email"] = f"{user['id']}@floor.invalid"  # unique, so the insert never conflicts
                rows.append({**values, "organization_id": org.id, "m365_id": user["id"], "source": "m365",
                             "status": "active", "synced_values": values, "m365_snapshot": user})
            t0 = time.perf_counter()
            if rows:
                with engine.begin() as conn:
                    conn.execute(insert(Employee), rows)
            insert_s += time.perf_counter() - t0
            users += len(page.users)
        stats = graph.stats.as_dict()
    with engine.begin() as conn:
        conn.execute(delete(Employee).where(Employee.organization_id == org.id))
    return {"fetch_s": fetch_s, "insert_s": insert_s, "wall_s": fetch_s + insert_s, "users": users,
            "graph_requests": stats["requests"], "peak_rss_mb": peak_rss_mb()}


def main(argv: list[str]) -> int:
    action, slug, *rest = argv
    config = Config.from_env()
    if action == "setup":
        result = setup(config, slug)
    elif action == "sync":
        result = sync(config, slug, full="--full" in rest)
    elif action == "floor":
        result = floor(config, slug)
    else:
        raise SystemExit(f"unknown action {action!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
