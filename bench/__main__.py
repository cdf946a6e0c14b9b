"""``python -m bench``: how fast the sync is on a big tenant, beside a floor measured in the same run.

    python -m bench [--users 100000] [--db sqlite,postgresql] [--changes 1000] [--first-only] [--no-portal]
    python -m bench portal [--employees 100000] [--db sqlite,postgresql] [--iterations 40]
    python -m bench signatures [--employees 100000]
    python -m bench fleet [--orgs 200] [--users 2000] [--workers 1,2,4]

For each database: a fresh simulator process with the tenant, then (each step in a fresh
process, so peak RSS is the step's own) the floor (fetch every delta page + bulk-insert the
same rows), the first full run, a run with nothing changed (delta), the same as a full run,
and a delta run after ``--changes`` users changed. Prints a Markdown table. Then (unless
``--no-portal``) the portal's list, search, department and run queries with as many employees
(bench/portal.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.simulator_process import ROOT, SimulatorProcess

TARGETS = {"first": 60.0, "noop": 20.0, "delta": 5.0, "rss_mb": 400.0, "floor_factor": 3.0}
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/sigsync_bench"


def child(env: dict[str, str], *args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "bench.child", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"bench step {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def fresh_postgres(url: str) -> str:
    """Drop and create the benchmark database (never the tests' one)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url


def change_users(sim: SimulatorProcess, count: int) -> None:
    """Give ``count`` users, spread over the tenant, a new job title."""
    ids: list[str] = []
    token = sim.http.post(
        f"{sim.base_url}/{sim.env['MS_TENANT_ID']}/oauth2/v2.0/token", verify=sim.env["REQUESTS_CA_BUNDLE"],
        data={"grant_type": "client_credentials", "client_id": sim.env["MS_CLIENT_ID"],
              "client_secret": sim.env["MS_CLIENT_SECRET"], "scope": "https://graph.microsoft.com/.default"},
    ).json()["access_token"]
    url = f"{sim.env['GRAPH_URL']}/users?$select=id&$top=999"
    while url and len(ids) < count * 20:
        page = sim.http.get(url, headers={"Authorization": f"Bearer {token}"},
                            verify=sim.env["REQUESTS_CA_BUNDLE"]).json()
        ids += [u["id"] for u in page["value"]]
        url = page.get("@odata.nextLink")
    step = max(1, len(ids) // count)
    for n, uid in enumerate(ids[::step][:count]):
        sim.control("PATCH", f"/users/{uid}", json={"jobTitle": f"Benchmark title {n}"})


def bench_database(db: str, users: int, changes: int, first_only: bool, workdir: Path) -> list[dict]:
    sim = SimulatorProcess(users, workdir / f"sim-{db}")
    try:
        env = {**os.environ, **sim.env, "SIGSYNC_ENV": "development"}
        if db == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.db'}"
        else:
            env["DATABASE_URL"] = fresh_postgres(os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
        child(env, "setup", "bench")
        child(env, "setup", "floor")
        rows = []
        floor = child(env, "floor", "floor")
        rows.append({"step": "floor: fetch every page", **floor, "wall_s": floor["fetch_s"]})
        rows.append({"step": "floor: bulk-insert the rows", **floor, "wall_s": floor["insert_s"],
                     "graph_requests": 0})
        rows.append({"step": "floor (fetch + insert)", **floor})
        sim.clear_log()
        first = child(env, "sync", "bench")
        first["sim_graph_requests"] = sim.graph_requests()
        rows.append({"step": "first run (full)", **first, "floor_factor": first["wall_s"] / floor["wall_s"]})
        if not first_only:
            rows.append({"step": "nothing changed (delta)", **child(env, "sync", "bench")})
            rows.append({"step": "nothing changed (full)", **child(env, "sync", "bench", "--full")})
            started = time.perf_counter()
            change_users(sim, changes)
            print(f"# {db}: changed {changes} users in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            rows.append({"step": f"delta after {changes} changes", **child(env, "sync", "bench")})
        for row in rows:
            row["db"] = db
        return rows
    finally:
        sim.stop()


def table(rows: list[dict], users: int) -> str:
    lines = [
        f"Tenant: {users:,} users. Machine: {os.cpu_count()} cores. Each step runs in its own process.",
        "",
        "| database | step | wall s | users/s | Graph requests | peak RSS MB | decisions | × floor |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        rate = r.get("users", 0) / r["wall_s"] if r["wall_s"] else 0
        counts = ", ".join(f"{k} {v:,}" for k, v in sorted((r.get("counts") or {}).items())) or "—"
        factor = f"{r['floor_factor']:.2f}" if "floor_factor" in r else ""
        lines.append(f"| {r['db']} | {r['step']} | {r['wall_s']:.1f} | {rate:,.0f} | {r.get('graph_requests', 0):,} "
                     f"| {r['peak_rss_mb']:.0f} | {counts} | {factor} |")
    return "\n".join(lines)


def verdicts(rows: list[dict], users: int) -> list[str]:
    out = [] if users == 100_000 else [f"- wall-time targets are set for 100,000 users; this run has {users:,}"]
    for r in rows:
        step, wall = r["step"], r["wall_s"]
        target = {"first run (full)": TARGETS["first"], "nothing changed (delta)": TARGETS["noop"]}.get(step)
        if step.startswith("delta after"):
            target = TARGETS["delta"]
        if users != 100_000:
            target = None
        if target:
            out.append(f"- {r['db']} {step}: {wall:.1f} s (target ≤ {target:g} s) "
                       + ("met" if wall <= target else f"MISSED by {wall - target:.1f} s"))
        if "floor_factor" in r:
            out.append(f"- {r['db']} first run / floor: {r['floor_factor']:.2f} × (target ≤ 3 ×) "
                       + ("met" if r["floor_factor"] <= TARGETS["floor_factor"] else "MISSED"))
        if not step.startswith("floor") and r["peak_rss_mb"] > TARGETS["rss_mb"]:
            out.append(f"- {r['db']} {step}: peak RSS {r['peak_rss_mb']:.0f} MB exceeds 400 MB")
    return out


def main() -> int:
    if sys.argv[1:2] == ["portal"]:  # python -m bench portal …: the portal's lists (bench/portal.py)
        from bench.portal import main as portal_main

        return portal_main(sys.argv[2:])
    if sys.argv[1:2] == ["fleet"]:  # python -m bench fleet …: many organisations on 1, 2, 4 workers (bench/fleet.py)
        from bench.fleet import main as fleet_main

        return fleet_main(sys.argv[2:])
    if sys.argv[1:2] == ["signatures"]:  # python -m bench signatures …: rendering (bench/signatures.py)
        from bench.signatures import main as signatures_main

        return signatures_main(sys.argv[2:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--first-only", action="store_true", help="only the floor and the first run")
    parser.add_argument("--no-portal", action="store_true", help="skip the portal's list and search latencies")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sigsync-bench-") as tmp:
        for db in [d.strip() for d in args.db.split(",") if d.strip()]:
            print(f"# benchmarking {db} with {args.users:,} users…", file=sys.stderr)
            found = bench_database(db, args.users, args.changes, args.first_only, Path(tmp))
            print(table(found, args.users), "", "\n".join(verdicts(found, args.users)), "", sep="\n", flush=True)
    if not args.no_portal:  # the Employees, Departments and Sync pages' queries at the same size
        from bench.portal import main as portal_main

        return portal_main(["--employees", str(args.users), "--db", args.db])
    return 0


if __name__ == "__main__":
    sys.exit(main())
