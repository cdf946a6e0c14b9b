"""What reporting a run's progress costs, and what watching it live costs the database.

    python -m bench.progress_cost [--users 20000] [--db sqlite|postgresql] [--watchers 3]

One first (full) run against the simulator, in this process, as the worker runs it. The engine is not
changed: its bookkeeping methods are timed by wrapping them (``_Run._heartbeat_in``: the run row's
done/counts/heartbeat written in each page's transaction; ``_Run._update_run``: phase changes;
``_Run._check_lock``: lock renewals outside a page). Meanwhile
``--watchers`` threads read what the live panel reads, once a second each, exactly as the portal does
(portal.runs.get_run + latest_decisions), and their query times are reported.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.simulator_process import SimulatorProcess

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/sigsync_bench_progress"


class Timer:
    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0
        self.lock = threading.Lock()

    def wrap(self, cls: type, name: str) -> None:
        original = getattr(cls, name)
        timer = self

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with timer.lock:
                    timer.calls += 1
                    timer.seconds += time.perf_counter() - started

        setattr(cls, name, timed)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.progress_cost")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--watchers", type=int, default=3)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="sigsync-progress-"))
    sim = SimulatorProcess(args.users, workdir / "sim")
    try:
        os.environ.update(sim.env)
        os.environ["SIGSYNC_ENV"] = "development"
        if args.db == "sqlite":
            os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.db'}"
        else:
            from bench.__main__ import fresh_postgres

            os.environ["DATABASE_URL"] = fresh_postgres(os.environ.get("BENCH_PROGRESS_DATABASE_URL", DEFAULT_PG))
        return run(args)
    finally:
        sim.stop()


def run(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from bench.child import _org, setup
    from config import Config
    from portal import connections, runs
    from portal.db import get_engine
    from portal.sync import engine as sync_engine

    config = Config.from_env()
    setup(config, "progress")
    engine = get_engine(config.database_url)
    org = _org(engine, "progress")
    with engine.begin() as conn:
        connection = connections.live_connection(conn, org.id)

    row_writes, lock_renewals, page_progress = Timer(), Timer(), Timer()
    row_writes.wrap(sync_engine._Run, "_update_run")
    lock_renewals.wrap(sync_engine._Run, "_check_lock")
    page_progress.wrap(sync_engine._Run, "_heartbeat_in")  # the run row written in each page's transaction

    run_id = sync_engine.create_run(engine, connection.id, trigger="cli", full=True)
    stop = threading.Event()
    polls: list[float] = []

    def watch() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            with Session(engine) as session:
                view = runs.get_run(session, org, run_id)
                runs.latest_decisions(session, org, run_id)
            polls.append(time.perf_counter() - started)
            if not view.active and view.status != "queued":
                return
            stop.wait(1.0)

    watchers = [threading.Thread(target=watch, daemon=True) for _ in range(args.watchers)]
    for w in watchers:
        w.start()
    started = time.perf_counter()
    with connections.graph_for(config, engine, connection) as graph:
        result = sync_engine.run_sync(engine, run_id, graph)
    wall = time.perf_counter() - started
    stop.set()
    for w in watchers:
        w.join(5)
    polls.sort()
    report = {
        "db": engine.dialect.name, "users": result.done, "status": result.status, "wall_s": round(wall, 2),
        "run_row_writes": row_writes.calls, "run_row_write_s": round(row_writes.seconds, 3),
        "run_row_share_pct": round(100 * row_writes.seconds / wall, 3),
        "lock_renewals": lock_renewals.calls, "lock_renewal_s": round(lock_renewals.seconds, 3),
        "page_progress_writes": page_progress.calls, "page_progress_s": round(page_progress.seconds, 3),
        "with_lock_share_pct": round(100 * (row_writes.seconds + lock_renewals.seconds + page_progress.seconds)
                                     / wall, 3),
        "watchers": args.watchers, "panel_reads": len(polls),
        "panel_read_p50_ms": round(1000 * statistics.median(polls), 2) if polls else None,
        "panel_read_p95_ms": round(1000 * polls[int(len(polls) * 0.95)], 2) if polls else None,
        "counts": result.counts,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
