"""``python -m bench portal``: how fast the portal's lists answer with 100,000 employees.

    python -m bench portal [--employees 100000] [--db sqlite,postgresql] [--iterations 40]

For each database: a fresh schema (migrations), one organisation with ``--employees`` employees
(realistic names with umlauts and accents, a few hundred departments of very different sizes, mixed
sources and states, a year of update times) and a smaller second organisation beside it, written with
bulk inserts; a run with one decision per employee and a few hundred older runs. Then every query the
Employees, Departments and Sync pages make, through the same service functions, ``--iterations``
times each after a warm-up, and its p50/p95 beside a floor measured in the same run: the cheapest
possible page, ``SELECT id FROM employee WHERE organization_id = ? ORDER BY id LIMIT 50``.

PostgreSQL runs on a database of its own (``sigsync_portal_bench``, dropped and created) on the
server of BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the sync benchmark's default server.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select, text
from sqlmodel import Session

from portal import departments, runs
from portal.db import get_engine
from portal.employees.search import count_employees, search_employees
from portal.migrations import upgrade
from portal.models import (
    Connection,
    Department,
    Employee,
    EmployeeDepartment,
    Organization,
    SyncDecision,
    SyncRun,
    utcnow,
)

TARGET_MS = 100.0
BENCH_DB = "sigsync_portal_bench"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/sigsync_bench"  # as bench/__main__.py
FIRST = ("Anna", "Jürgen", "Özlem", "Zoë", "Łukasz", "Søren", "Ana", "Peter", "John", "Maria", "Thomas", "Laura",
         "Michael", "Sarah", "David", "Émile", "François", "Björn", "Åsa", "Ines", "Jörg", "Mehmet", "Ayşe", "Chen",
         "Wei", "Priya", "Rahul", "Olga", "Dmitri", "Fatima", "Omar", "Lucía", "José", "Mónica", "Sven", "Ingrid",
         "Kai", "Lena", "Paul", "Sophie", "Max", "Mia", "Noah", "Emma", "Leon", "Hannah", "Felix", "Clara", "Tobias",
         "Julia", "Niklas", "Marie", "Jonas", "Lea", "Lukas", "Sara", "Elias", "Nora", "Finn", "Ida")
LAST = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
        "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
        "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann",
        "Yılmaz", "Kaya", "Demir", "Şahin", "Nowak", "Kowalski", "Wiśniewski", "Dubois", "Lefèvre", "García",
        "Núñez", "Pérez", "Ørsted", "Nilsson", "Åberg", "Smith", "Jones", "Brown", "Taylor", "Wilson", "Zhang",
        "Wang", "Li", "Kumar", "Singh", "Ivanova", "Petrov", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi")
TITLES = ("Engineer", "Senior Engineer", "Sales Manager", "Account Executive", "Consultant", "Accountant",
          "Team Lead", "Designer", "Support Specialist", "Head of Marketing")
DEPARTMENT_WORDS = ("Sales", "Engineering", "Support", "Marketing", "Finance", "Legal", "Operations", "Research",
                    "Logistics", "Procurement", "HR", "IT", "Facilities", "Quality", "Training")
CITIES = ("Berlin", "München", "Köln", "Zürich", "Wien", "Hamburg", "Düsseldorf", "Paris", "London", "Madrid")


# -- populating ------------------------------------------------------------------------------------


def populate(engine, employees: int, seed: int = 7) -> dict:
    """Two organisations, their departments and employees, a run with a decision per employee."""
    rng = random.Random(seed)
    started = time.perf_counter()
    with engine.begin() as conn:
        org_ids = [conn.execute(insert(Organization).returning(Organization.id),
                                {"slug": slug, "name": slug.title(), "timezone": "Europe/Berlin",
                                 "created_at": utcnow()}).scalar_one() for slug in ("bench", "neighbour")]
        connection_id = conn.execute(insert(Connection).returning(Connection.id), {
            "organization_id": org_ids[0], "tenant_id": "bench", "mode": "app", "state": "active",
            "connected_by": "bench", "connected_at": utcnow(), "settings": {}, "mapping": {}, "import_rules": [],
            "config_hash": "", "delta_config_hash": "", "last_error": ""}).scalar_one()
    department_ids = {}
    for org_id, count in ((org_ids[0], employees), (org_ids[1], employees // 10)):
        department_ids[org_id] = _departments(engine, org_id, rng, 300 if org_id == org_ids[0] else 30)
        _employees(engine, org_id, count, department_ids[org_id], rng)
    run_id = _runs(engine, org_ids[0], connection_id, rng)
    inserted = time.perf_counter() - started
    _analyze(engine)
    return {"org_id": org_ids[0], "run_id": run_id, "insert_s": inserted, "departments": department_ids[org_ids[0]]}


def _departments(engine, org_id: int, rng: random.Random, count: int) -> list[int]:
    names = []
    for n in range(count):
        base = DEPARTMENT_WORDS[n % len(DEPARTMENT_WORDS)]
        names.append(base if n < len(DEPARTMENT_WORDS) else f"{base} {CITIES[n % len(CITIES)]} {n}")
    with engine.begin() as conn:
        return [conn.execute(insert(Department).returning(Department.id),
                             {"organization_id": org_id, "name": name, "source": rng.choice(["sync", "manual"]),
                              "created_at": utcnow()}).scalar_one() for name in names]


def _employees(engine, org_id: int, count: int, department_ids: list[int], rng: random.Random) -> None:
    now = utcnow()
    # Department sizes fall off like real companies': a few very large, most small.
    weights = [1 / (rank + 1) for rank in range(len(department_ids))]
    chunk = 5000
    for start in range(0, count, chunk):
        rows, links = [], []
        for n in range(start, min(start + chunk, count)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            manual = rng.random() < 0.1
            rows.append({
                "organization_id": org_id, "email": f"{first}.{last}.{n}@example.com".lower(),
                "first_name": first, "last_name": last, "display_name": f"{first} {last}",
                "job_title": rng.choice(TITLES), "city": rng.choice(CITIES), "source": "manual" if manual else "m365",
                "status": rng.choices(["active", "paused", "excluded", "inactive"], [93, 3, 2, 2])[0],
                "m365_id": None if manual else f"{org_id}-{n:08d}", "created_by_sync": not manual,
                "custom": {}, "synced_values": {}, "m365_snapshot": {},
                "created_at": now, "updated_at": now - timedelta(minutes=rng.randint(0, 525_600)),
            })
        with engine.begin() as conn:
            conn.execute(insert(Employee), rows)
            ids = conn.execute(select(Employee.id).where(Employee.organization_id == org_id, Employee.id > 0)
                               .order_by(Employee.id.desc()).limit(len(rows))).scalars().all()
            for emp_id in ids:
                for dep_id in set(rng.choices(department_ids, weights, k=rng.choice([1, 1, 1, 2]))):
                    links.append({"employee_id": emp_id, "department_id": dep_id,
                                  "source": rng.choice(["sync", "sync", "manual"])})
            conn.execute(insert(EmployeeDepartment), links)


def _runs(engine, org_id: int, connection_id: int, rng: random.Random) -> int:
    now = utcnow()
    kinds = [str(k) for k in runs.DecisionKind]
    with engine.begin() as conn:
        conn.execute(insert(SyncRun), [
            {"connection_id": connection_id, "organization_id": org_id, "trigger": "schedule", "mode": "delta",
             "status": "succeeded", "phase": "done", "done": 10, "counts": {"updated": 10}, "error": "",
             "created_at": now - timedelta(days=n), "started_at": now - timedelta(days=n),
             "finished_at": now - timedelta(days=n) + timedelta(seconds=30)} for n in range(500, 0, -1)])
        run_id = conn.execute(insert(SyncRun).returning(SyncRun.id), {
            "connection_id": connection_id, "organization_id": org_id, "trigger": "manual", "mode": "full",
            "status": "succeeded", "phase": "done", "done": 0, "counts": {}, "error": "", "created_at": now,
            "started_at": now, "finished_at": now}).scalar_one()
        employees = conn.execute(select(Employee.id, Employee.email, Employee.m365_id)
                                 .where(Employee.organization_id == org_id)).all()
        decisions = [{"run_id": run_id, "kind": rng.choices(kinds, [50, 30] + [2] * (len(kinds) - 2))[0],
                      "m365_id": m365_id or "", "email": email, "employee_id": emp_id, "reason": "benchmark",
                      "details": {}, "resolution": ""} for emp_id, email, m365_id in employees]
        for start in range(0, len(decisions), 10_000):
            conn.execute(insert(SyncDecision), decisions[start:start + 10_000])
    return run_id


def _analyze(engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


# -- measuring -------------------------------------------------------------------------------------


def cases(session: Session, org: Organization, run_id: int, department_ids: list[int]) -> list[tuple[str, Callable]]:
    """(what a page asks, the call) for every query the Employees, Departments and Sync pages make."""

    def deep(**kw) -> str:
        """The cursor 40 pages (2,000 employees) into the list."""
        page = search_employees(session, org, **kw)
        for _ in range(39):
            page = search_employees(session, org, after=page.next_cursor, **kw)
        return page.next_cursor

    large, small = department_ids[0], department_ids[-1]
    name_cursor, email_cursor, updated_cursor = deep(), deep(sort="email"), deep(sort="updated")
    second = search_employees(session, org).next_cursor
    address = session.execute(select(Employee.email).where(Employee.organization_id == org.id)
                              .order_by(Employee.id).offset(777).limit(1)).scalar_one()
    decision_cursor = runs.decisions(session, org, run_id, kind="updated", limit=50).next_after_id
    floor = text("SELECT id FROM employee WHERE organization_id = :org ORDER BY id LIMIT 50")
    s = search_employees
    return [
        ("floor: SELECT id … ORDER BY id LIMIT 50", lambda: session.execute(floor, {"org": org.id}).all()),
        ("list: first page (by name)", lambda: s(session, org)),
        ("list: second page", lambda: s(session, org, after=second)),
        ("list: page 41 (by name)", lambda: s(session, org, after=name_cursor)),
        ("list: first page by e-mail", lambda: s(session, org, sort="email")),
        ("list: page 41 by e-mail", lambda: s(session, org, sort="email", after=email_cursor)),
        ("list: first page, recently changed", lambda: s(session, org, sort="updated")),
        ("list: page 41, recently changed", lambda: s(session, org, sort="updated", after=updated_cursor)),
        ("filter: state paused", lambda: s(session, org, status="paused")),
        ("filter: state inactive, by e-mail", lambda: s(session, org, status="inactive", sort="email")),
        ("filter: source manual", lambda: s(session, org, source="manual")),
        ("filter: largest department", lambda: s(session, org, department_id=large)),
        ("filter: smallest department", lambda: s(session, org, department_id=small)),
        ("filter: largest department + paused", lambda: s(session, org, department_id=large, status="paused")),
        ("search: 1 letter 'a'", lambda: s(session, org, q="a")),
        ("search: 1 letter 'q'", lambda: s(session, org, q="q")),
        ("search: 2 letters 'mü'", lambda: s(session, org, q="mü")),
        ("search: 3 letters 'sch'", lambda: s(session, org, q="sch")),
        ("search: 3 letters 'Öz' + 'l' ('özl')", lambda: s(session, org, q="özl")),
        ("search: substring 'rste' (Ørsted)", lambda: s(session, org, q="rste")),
        ("search: full name 'jürgen müller'", lambda: s(session, org, q="jürgen müller")),
        ("search: e-mail 'anna.schmidt.4'", lambda: s(session, org, q="anna.schmidt.4")),
        ("search: one exact address", lambda: s(session, org, q=address)),
        ("search: no hits 'zzqx'", lambda: s(session, org, q="zzqx")),
        ("search: no hits, 2 letters 'qx'", lambda: s(session, org, q="qx")),
        ("search + filter: 'mül' in paused", lambda: s(session, org, q="mül", status="paused")),
        ("search + department: 'a' in largest", lambda: s(session, org, q="a", department_id=large)),
        ("count: all (capped at 1,000)", lambda: count_employees(session, org)),
        ("count: search 'sch' (capped)", lambda: count_employees(session, org, q="sch")),
        ("count: no hits 'zzqx'", lambda: count_employees(session, org, q="zzqx")),
        ("departments: list with member counts", lambda: departments.list_departments(session, org)),
        ("department: members, first page", lambda: departments.members(session, org, large)),
        ("runs: first page of 501", lambda: runs.list_runs(session, org)),
        ("run: decisions, first page", lambda: runs.decisions(session, org, run_id)),
        ("run: decisions of a rare kind", lambda: runs.decisions(session, org, run_id, kind="conflict")),
        ("run: decisions 'updated', next page",
         lambda: runs.decisions(session, org, run_id, kind="updated", after_id=decision_cursor)),
        ("run: decision counts by kind (100k)", lambda: runs.decision_counts(session, org, run_id)),
    ]


def measure(call: Callable, iterations: int) -> tuple[float, float]:
    call()  # warm-up: caches, plans
    times = []
    for _ in range(iterations):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(round(0.95 * len(times))) - 1)]


def bench_database(db: str, url: str, employees: int, iterations: int) -> list[dict]:
    upgrade(url)
    engine = get_engine(url)
    setup = populate(engine, employees)
    print(f"# {db}: {employees:,} employees written in {setup['insert_s']:.1f} s", file=sys.stderr)
    rows = []
    with Session(engine) as session:
        org = session.get(Organization, setup["org_id"])
        for name, call in cases(session, org, setup["run_id"], setup["departments"]):
            p50, p95 = measure(call, iterations)
            rows.append({"db": db, "query": name, "p50": p50, "p95": p95})
    engine.dispose()
    return rows


def table(rows: list[dict], employees: int, iterations: int) -> str:
    lines = [f"{employees:,} employees in the organisation (+{employees // 10:,} in another), {iterations} timed "
             f"calls per query after a warm-up, through the service functions the pages call. "
             f"Machine: {os.cpu_count()} cores.", "",
             "| database | query | p50 ms | p95 ms | p95 × floor |", "|---|---|---:|---:|---:|"]
    floors = {r["db"]: r["p95"] for r in rows if r["query"].startswith("floor")}
    for r in rows:
        factor = r["p95"] / floors[r["db"]] if floors.get(r["db"]) else 0
        lines.append(f"| {r['db']} | {r['query']} | {r['p50']:.1f} | {r['p95']:.1f} | {factor:.1f} |")
    return "\n".join(lines)


def verdicts(rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        if r["query"].startswith(("list", "filter", "search")) and r["p95"] > TARGET_MS:
            out.append(f"- {r['db']} {r['query']}: p95 {r['p95']:.1f} ms MISSED the {TARGET_MS:g} ms target")
    for db in dict.fromkeys(r["db"] for r in rows):
        worst = max((r for r in rows if r["db"] == db and r["query"].startswith(("list", "filter", "search"))),
                    key=lambda r: r["p95"])
        out.append(f"- {db}: every list, filter and search p95 ≤ {TARGET_MS:g} ms: "
                   + ("met" if worst["p95"] <= TARGET_MS else "MISSED")
                   + f" (slowest: {worst['query']}, {worst['p95']:.1f} ms)")
    return out


def fresh_postgres(base_url: str) -> str:
    """Drop and create the portal benchmark's own database on the server of ``base_url``."""
    import psycopg

    server = base_url.rsplit("/", 1)[0]
    with psycopg.connect(server.replace("postgresql+psycopg", "postgresql") + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    return f"{server}/{BENCH_DB}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench portal", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--iterations", type=int, default=40)
    args = parser.parse_args(argv)
    pg_base = (os.environ.get("BENCH_DATABASE_URL", "").strip() or os.environ.get("TEST_DATABASE_URL", "").strip()
               or DEFAULT_PG)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="sigsync-portal-bench-") as tmp:
        for db in [d.strip() for d in args.db.split(",") if d.strip()]:
            url = f"sqlite:///{Path(tmp) / 'portal.db'}" if db == "sqlite" else fresh_postgres(pg_base)
            print(f"# portal benchmark on {db} with {args.employees:,} employees…", file=sys.stderr)
            rows += bench_database(db, url, args.employees, args.iterations)
    print(table(rows, args.employees, args.iterations), "", "\n".join(verdicts(rows)), "", sep="\n", flush=True)
    return 0 if all(not line.endswith("MISSED") and "MISSED (" not in line for line in verdicts(rows)) else 1


if __name__ == "__main__":
    sys.exit(main())
