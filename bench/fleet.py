"""``python -m bench fleet``: many organisations due at the same instant, worked off by 1, 2, 4 … workers.

    python -m bench fleet [--orgs 200] [--users 2000] [--workers 1,2,4] [--rounds first,daily]

One simulator process holds one tenant of ``--users`` users; every organisation is connected to it
(as the tests' "fresh" reference organisations are), so each one's sync reads the whole tenant.
For each worker count: a fresh PostgreSQL database (``FLEET_DATABASE_URL``, default sigsync_fleet),
the organisations with auto-sync on, ``python worker.py`` processes (RQ worker + scheduling loop,
as deployed) on a redis-server of their own (``PrivateRedis``); then every connection's ``next_sync_at`` is set to one
instant and the real scheduler queues the runs. A round ends when every run has finished.
Rounds: ``first`` (each organisation's first sync: every employee created) and ``daily`` (the next
day's run with nothing changed: a delta).

Measured per round: time from due until the last run finished, runs per minute, the longest wait
(due → a worker started the run; of it, due → queued is the scheduler's tick), peak RSS of a job
process (RQ forks one per job) and of a whole worker, CPU seconds of the workers, the simulator and
the fleet database's PostgreSQL backends (from /proc), the machine's load and busy cores, and
whether every organisation ended exactly right: its scheduled run succeeded and its employees
(count and a checksum of e-mail, Microsoft 365 id, status and every mapped field) equal what the
tenant holds, read once from Graph and mapped with the organisation's default mapping and rules.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from sqlalchemy import select, update

from config import Config
from portal import connections
from portal.db import get_engine, session_scope
from portal.migrations import upgrade
from portal.models import Connection, Employee, Organization, SyncRun
from portal.organizations import create_organization
from portal.scheduler import Scheduler
from portal.sync.config import default_config, graph_select, manager_select, needs_manager
from portal.sync.mapping import Mapper
from portal.sync.records import manager_id_of
from portal.sync.rules import RuleSet

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/sigsync_fleet"
SLUG = "fleet-{:04d}"
FINISHED = ("succeeded", "failed", "skipped", "abandoned")
HZ = os.sysconf("SC_CLK_TCK")


# -- the organisations -------------------------------------------------------------------------


def create_fleet(config: Config, orgs: int) -> list[int]:
    """Schema, ``orgs`` organisations each connected (app-only) to the simulator's tenant; their connection ids.

    Auto-sync is on by default; one scheduler tick stores every connection's schedule, so the
    workers' schedulers later see nothing to recompute and act on the due time set by ``make_due``.
    """
    upgrade(config.database_url)
    engine = get_engine(config.database_url)
    ids = []
    for n in range(orgs):
        with session_scope(config.database_url) as session:
            org = create_organization(session, SLUG.format(n), f"Fleet {n}", timezone="UTC")
        ids.append(connections.connect_app_only(config, engine, org, config.ms_tenant_id, "bench").id)
    scheduler = Scheduler(config)
    scheduler.tick()
    scheduler.release_lease()
    return ids


def make_due(config: Config, connection_ids: list[int]) -> datetime:
    """Every connection due now, in one statement; the instant they became due."""
    due = datetime.now(UTC)
    with get_engine(config.database_url).begin() as conn:
        conn.execute(update(Connection).where(Connection.id.in_(connection_ids)).values(next_sync_at=due))
    return due


# -- what the tenant holds -----------------------------------------------------------------------


def row_digest(email: str, m365_id: str, status: str, values: dict[str, str]) -> bytes:
    """One employee's bytes in an organisation's checksum."""
    return repr((email, m365_id, status, sorted(values.items()))).encode()


@dataclass(frozen=True)
class Truth:
    """What every organisation must hold after a sync: its employee count and checksum."""

    employees: int
    checksum: str
    fields: tuple[str, ...]


def tenant_truth(config: Config, connection_id: int) -> Truth:
    """Read the tenant once from Graph (as the engine does) and map it with the default mapping and rules.

    Each in-scope user with a usable address is one active employee. Manager fields come from the
    manager's own record (``manager@delta`` names it). Departments are left out: the checksum covers
    every mapped field, the address, the Microsoft 365 id and the status.
    """
    cfg = default_config()
    mapper, rules = Mapper(cfg.mapping), RuleSet(cfg.import_rules, cfg.settings)
    fields = tuple(sorted(name for name, path in cfg.mapping.items() if path and name not in ("email", "photo")))
    with_manager = needs_manager(cfg)
    chosen = (*dict.fromkeys((*graph_select(cfg), *(manager_select(cfg) if with_manager else ()))),
              *(("manager",) * with_manager))
    engine = get_engine(config.database_url)
    with engine.begin() as conn:
        connection = Connection.model_validate(
            conn.execute(select(Connection.__table__).where(Connection.id == connection_id)).one()._asdict())
    users: dict[str, dict] = {}
    with connections.graph_for(config, engine, connection) as graph:
        for page in graph.iter_delta("/users/delta", select=chosen):
            users.update((user["id"], user) for user in page.users if "@removed" not in user)
    rows: dict[str, bytes] = {}
    for user in users.values():
        email = mapper.email(user)
        if email is None or not rules.evaluate(user).imported:
            continue
        if email in rows:
            raise RuntimeError(f"two users in scope share {email}: the checksum would have to guess the winner")
        manager = users.get(manager_id_of(user) or "")
        values = mapper.values({**user, "manager": manager} if manager else user)
        rows[email] = row_digest(email, user["id"], "active", {f: values.get(f, "") for f in fields})
    return Truth(len(rows), _checksum(rows), fields)


def _checksum(rows: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for email in sorted(rows):
        digest.update(rows[email])
    return digest.hexdigest()


def organisation_checksums(config: Config, fields: tuple[str, ...]) -> dict[int, tuple[int, str]]:
    """Organisation id → (employees, checksum) over the same values ``tenant_truth`` maps."""
    columns = [f for f in fields if not f.startswith("custom.")]
    rows: dict[int, dict[str, bytes]] = {}
    with session_scope(config.database_url) as session:
        query = (select(Employee.organization_id, Employee.email, Employee.m365_id, Employee.status, Employee.custom,
                        *[getattr(Employee, c) for c in columns])
                 .execution_options(yield_per=5000))
        for row in session.execute(query):
            values = {c: getattr(row, c) or "" for c in columns}
            values.update({f: str((row.custom or {}).get(f[7:], "")) for f in fields if f.startswith("custom.")})
            rows.setdefault(row.organization_id, {})[row.email] = row_digest(row.email, row.m365_id or "",
                                                                              row.status, values)
    return {org_id: (len(found), _checksum(found)) for org_id, found in rows.items()}


def verify(config: Config, truth: Truth, runs: list[dict]) -> list[str]:
    """Problems, one line per organisation that did not end exactly right (none: every one did)."""
    found = organisation_checksums(config, truth.fields)
    with session_scope(config.database_url) as session:
        orgs = {o.id: o.slug for o in session.exec(select(Organization)).scalars()}
    ran = {r["organization_id"]: r for r in runs}
    problems = []
    for org_id, slug in sorted(orgs.items()):
        run = ran.get(org_id)
        count, checksum = found.get(org_id, (0, ""))
        if run is None or run["status"] != "succeeded":
            problems.append(f"{slug}: scheduled run {run and run['status']} {run and run['error'] or ''}".strip())
        elif (count, checksum) != (truth.employees, truth.checksum):
            problems.append(f"{slug}: {count} employees (tenant: {truth.employees}), checksum "
                            f"{'equal' if checksum == truth.checksum else 'differs'}")
    return problems


# -- worker processes and what they use ------------------------------------------------------------


# worker.py as it would be with portal.jobs imported before RQ forks a process per job: each job then
# starts with the sync's modules loaded instead of importing them (about 1.7 s of CPU) again.
PRELOADED = "import sys; import portal.jobs; import worker; sys.exit(worker.main([]))"


class WorkerProcess:
    """``python worker.py`` (RQ worker + scheduling loop) with its own log, configured from the environment."""

    def __init__(self, env: dict[str, str], log_path: Path, preload: bool = False) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        command = ["-c", PRELOADED] if preload else ["worker.py"]
        self.process = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM: RQ's warm shutdown (no job is running by then), the scheduler with it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


def _stat(pid: int) -> tuple[int, list[str]] | None:
    """(parent pid, fields after the command name) of /proc/PID/stat, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2:].split()
    return int(rest[1]), rest


def _cpu_ticks(pid: int, children: bool = False) -> int:
    found = _stat(pid)
    if found is None:
        return 0
    rest = found[1]  # utime, stime, cutime, cstime are fields 14..17: 11..14 here
    return int(rest[11]) + int(rest[12]) + (int(rest[13]) + int(rest[14]) if children else 0)


def _rss_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _processes() -> Iterable[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found is None:
                continue
            try:
                cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            yield int(entry.name), found[0], cmdline


def _own_cpu() -> float:
    """This process's CPU seconds (the harness polling the runs)."""
    times = os.times()
    return times.user + times.system


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class Meter:
    """Samples the worker process trees, the fleet database's PostgreSQL backends and the load, in a thread."""

    def __init__(self, workers: list[WorkerProcess], simulator_pid: int, database: str, every: float = 0.5) -> None:
        self.workers = workers
        self.simulator_pid = simulator_pid
        self.database = database
        self.every = every
        self.peak_job_kb = {w.pid: 0 for w in workers}  # the largest process of each tree (the job's work-horse)
        self.peak_tree_kb = {w.pid: 0 for w in workers}  # all of a worker's processes together
        self.backend_ticks: dict[int, tuple[int, int]] = {}  # PostgreSQL backend pid -> (first, last) CPU ticks
        self.loads: list[float] = []
        self._baseline = True  # backends already there when measuring starts count from what they had used
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fleet-meter", daemon=True)

    def start(self) -> None:
        self._sample()
        self._start = (self._worker_ticks(), _cpu_ticks(self.simulator_pid), _machine_ticks(), time.monotonic(),
                       _own_cpu())
        self._baseline = False
        self._thread.start()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self._sample()
        workers0, sim0, (busy0, _), began, own0 = self._start
        busy1, _ = _machine_ticks()
        elapsed = time.monotonic() - began
        workers = (self._worker_ticks() - workers0) / HZ
        sim = (_cpu_ticks(self.simulator_pid) - sim0) / HZ
        postgres = sum(last - first for first, last in self.backend_ticks.values()) / HZ
        machine = (busy1 - busy0) / HZ
        harness = _own_cpu() - own0
        return {
            "peak_job_mb": max(self.peak_job_kb.values()) / 1024,
            "peak_worker_mb": max(self.peak_tree_kb.values()) / 1024,
            "cpu_workers_s": workers, "cpu_simulator_s": sim, "cpu_postgres_s": postgres,
            "cpu_machine_s": machine, "cpu_harness_s": harness,
            "cpu_other_s": max(0.0, machine - workers - sim - postgres - harness),
            "busy_cores": machine / elapsed if elapsed else 0.0,
            "load_max": max(self.loads, default=0.0),
            "load_mean": sum(self.loads) / len(self.loads) if self.loads else 0.0,
        }

    def _worker_ticks(self) -> int:
        """Each worker's own CPU, its reaped job processes' (cutime), and its live children's (the scheduler)."""
        tree = self._trees()
        total = 0
        for worker in self.workers:
            total += _cpu_ticks(worker.pid, children=True)
            total += sum(_cpu_ticks(pid, children=True) for pid in tree.get(worker.pid, ()) if pid != worker.pid)
        return total

    def _trees(self) -> dict[int, list[int]]:
        parents = {pid: ppid for pid, ppid, _ in self._all}
        roots = {w.pid for w in self.workers}
        trees: dict[int, list[int]] = {}
        for pid in parents:
            at, seen = pid, 0
            while at in parents and at not in roots and seen < 50:
                at, seen = parents[at], seen + 1
            if at in roots:
                trees.setdefault(at, []).append(pid)
        return trees

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def _sample(self) -> None:
        self._all = list(_processes())
        for root, pids in self._trees().items():
            self.peak_job_kb[root] = max(self.peak_job_kb[root], *(_rss_kb(p, "VmHWM") for p in pids))
            self.peak_tree_kb[root] = max(self.peak_tree_kb[root], sum(_rss_kb(p, "VmRSS") for p in pids))
        marker = f" {self.database} "
        for pid, _, cmdline in self._all:
            if cmdline.startswith("postgres:") and marker in cmdline:
                ticks = _cpu_ticks(pid)
                first = self.backend_ticks.get(pid, (ticks if self._baseline else 0, 0))[0]
                self.backend_ticks[pid] = (first, ticks)
        self.loads.append(float(Path("/proc/loadavg").read_text().split()[0]))


class PrivateRedis:
    """A redis-server of our own on a free port, nothing saved.

    A queue of our own on the shared Redis is not enough: RQ job ids are per Redis database, and
    every Sigsync database numbers its runs from 1, so another session's worker tests enqueue (and
    clean up) "sync-run-7" too, and our run 7 vanished from the queue.
    """

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no"], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                Redis.from_url(self.url, socket_connect_timeout=1).ping()
                return
            except RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("the private redis-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)

    def __enter__(self) -> PrivateRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- one round ---------------------------------------------------------------------------------------


def start_workers(config: Config, env: dict[str, str], count: int, logs: Path,
                  preload: bool = False) -> list[WorkerProcess]:
    """``count`` worker processes on the fleet's queue; returns once RQ lists every one of them as listening."""
    env = {**env, "DATABASE_URL": config.database_url, "REDIS_URL": config.redis_url,
           "SIGSYNC_QUEUE": config.rq_queue, "PYTHONUNBUFFERED": "1"}
    workers = [WorkerProcess(env, logs / f"worker-{n}.log", preload) for n in range(count)]
    queue = Queue(config.rq_queue, connection=Redis.from_url(config.redis_url))
    deadline = time.monotonic() + 120
    while Worker.count(queue=queue) < count:
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"a worker exited at start:\n{worker.log_path.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not start within two minutes")
        time.sleep(0.2)
    return workers


def scheduled_runs(config: Config, after_run_id: int) -> list[dict]:
    with get_engine(config.database_url).begin() as conn:
        rows = conn.execute(select(SyncRun.id, SyncRun.organization_id, SyncRun.status, SyncRun.error, SyncRun.mode,
                                   SyncRun.created_at, SyncRun.started_at, SyncRun.finished_at)
                            .where(SyncRun.trigger == "schedule", SyncRun.id > after_run_id)).all()
    return [row._asdict() for row in rows]


def last_run_id(config: Config) -> int:
    with get_engine(config.database_url).begin() as conn:
        return conn.execute(select(SyncRun.id).order_by(SyncRun.id.desc()).limit(1)).scalar() or 0


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@dataclass
class Round:
    """What one round measured."""

    name: str
    workers: int
    orgs: int
    users: int
    total_s: float
    longest_wait_s: float
    longest_queueing_s: float  # due → queued: the scheduler's part of the wait
    mean_run_s: float
    in_runs: float  # share of the workers' time from the first queued run to the last finished one spent in runs
    modes: dict[str, int]
    problems: list[str]
    meter: dict = field(default_factory=dict)
    preloaded: bool = False

    @property
    def runs_per_minute(self) -> float:
        return self.orgs / self.total_s * 60 if self.total_s else 0.0


def run_round(config: Config, name: str, connection_ids: list[int], workers: list[WorkerProcess], truth: Truth,
              simulator_pid: int, users: int, timeout: float = 4 * 3600) -> Round:
    """Make every connection due now; wait until the scheduler has queued and the workers finished every run."""
    since = last_run_id(config)
    database = config.database_url.rsplit("/", 1)[1] if config.database_url.startswith("postgresql") else "-"
    meter = Meter(workers, simulator_pid, database)
    meter.start()
    due = make_due(config, connection_ids)
    deadline = time.monotonic() + timeout
    while True:
        runs = scheduled_runs(config, since)
        if len(runs) >= len(connection_ids) and all(r["status"] in FINISHED for r in runs):
            break
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"a worker exited mid-round:\n{worker.log_path.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"round {name}: {len(runs)} of {len(connection_ids)} runs after {timeout:.0f} s")
        time.sleep(1.0)  # the times come from the run rows; polling only notices the end
    measured = meter.stop()
    ended = [_utc(r["finished_at"]) for r in runs]
    started = [_utc(r["started_at"]) or _utc(r["finished_at"]) for r in runs]
    modes: dict[str, int] = {}
    for r in runs:
        modes[r["mode"]] = modes.get(r["mode"], 0) + 1
    return Round(
        name=name, workers=len(workers), orgs=len(connection_ids), users=users,
        total_s=(max(ended) - due).total_seconds(),
        longest_wait_s=(max(started) - due).total_seconds(),
        longest_queueing_s=(max(_utc(r["created_at"]) for r in runs) - due).total_seconds(),
        mean_run_s=sum((e - s).total_seconds() for e, s in zip(ended, started, strict=True)) / len(runs),
        in_runs=sum((e - s).total_seconds() for e, s in zip(ended, started, strict=True))
        / (len(workers) * (max(ended) - min(_utc(r["created_at"]) for r in runs)).total_seconds()),
        modes=modes, problems=verify(config, truth, runs), meter=measured,
    )


def run_fleet(config: Config, env: dict[str, str], connection_ids: list[int], truth: Truth, workers: int,
              rounds: Iterable[str], simulator_pid: int, users: int, logs: Path, preload: bool = False) -> list[Round]:
    """Start ``workers`` processes, run the rounds (each: everybody due at once), stop them."""
    started = start_workers(config, env, workers, logs, preload)
    try:
        found = [run_round(config, name, connection_ids, started, truth, simulator_pid, users) for name in rounds]
        for r in found:
            r.preloaded = preload
        return found
    finally:
        for worker in started:
            worker.stop()


# -- the command -----------------------------------------------------------------------------------------


def table(rounds: list[Round]) -> str:
    lines = [
        "| workers | round | orgs × users | total s | runs/min | longest wait s (of it: queued) | mean run s "
        "| workers in runs | peak RSS MB job / worker | CPU s workers / simulator / PostgreSQL / harness / rest "
        "| busy cores | load max | ended right |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rounds:
        m = r.meter
        right = "all" if not r.problems else f"{r.orgs - len(r.problems)} of {r.orgs}"
        lines.append(
            f"| {r.workers}{' (preloaded)' if r.preloaded else ''} | {r.name} | {r.orgs:,} × {r.users:,} "
            f"| {r.total_s:.1f} | {r.runs_per_minute:.1f} "
            f"| {r.longest_wait_s:.1f} ({r.longest_queueing_s:.1f}) | {r.mean_run_s:.2f} | {r.in_runs:.0%} "
            f"| {m['peak_job_mb']:.0f} / {m['peak_worker_mb']:.0f} "
            f"| {m['cpu_workers_s']:.0f} / {m['cpu_simulator_s']:.0f} / {m['cpu_postgres_s']:.0f} / "
            f"{m['cpu_harness_s']:.0f} / {m['cpu_other_s']:.0f} | {m['busy_cores']:.2f} | {m['load_max']:.2f} "
            f"| {right} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from bench.__main__ import fresh_postgres
    from bench.simulator_process import SimulatorProcess

    parser = argparse.ArgumentParser(prog="python -m bench fleet", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=200)
    parser.add_argument("--users", type=int, default=2000, help="users in the tenant every organisation syncs")
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker process counts")
    parser.add_argument("--rounds", default="first,daily", help="first (everyone created), daily (nothing changed)")
    parser.add_argument("--preload-jobs", default="", metavar="COUNTS",
                        help="worker counts to run again with portal.jobs imported before RQ forks (see PRELOADED)")
    args = parser.parse_args(argv)
    counts = [(int(n), False) for n in args.workers.split(",") if n.strip()]
    counts += [(int(n), True) for n in args.preload_jobs.split(",") if n.strip()]
    rounds = [r.strip() for r in args.rounds.split(",") if r.strip()]
    database_url = os.environ.get("FLEET_DATABASE_URL", DEFAULT_DB)
    results: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="sigsync-fleet-") as tmp:
        sim = SimulatorProcess(args.users, Path(tmp) / "sim")
        try:
            env = {**os.environ, **sim.env, "SIGSYNC_ENV": "development"}
            os.environ.update(sim.env)
            config = replace(Config.from_env(), database_url=database_url, rq_queue="sigsync")
            truth = None
            for count, preload in counts:
                fresh_postgres(database_url)
                get_engine.cache_clear()  # the database was dropped: no pooled connection to it survives
                began = time.perf_counter()
                ids = create_fleet(config, args.orgs)
                print(f"# {args.orgs} organisations connected in {time.perf_counter() - began:.0f} s; "
                      f"{count} worker(s)…", file=sys.stderr, flush=True)
                truth = truth or tenant_truth(config, ids[0])
                logs = Path(tmp) / f"workers-{count}{'-preloaded' * preload}"
                logs.mkdir()
                # A Redis per database too: the new database numbers its runs from 1 again, and re-enqueueing
                # "sync-run-18" kept the finished job's expiry (its result's 500 s), so the queued job vanished.
                with PrivateRedis() as redis:
                    found = run_fleet(replace(config, redis_url=redis.url), env, ids, truth, count, rounds,
                                      sim.proc.pid, args.users, logs, preload)
                # Each round's row as it ends, so a long run interrupted later still has them.
                problems = [p for r in found for p in r.problems]
                print(*table(found).splitlines()[-len(found):], f"# problems: {problems[:5]}", sep="\n",
                      file=sys.stderr, flush=True)
                results += found
        finally:
            sim.stop()
    print(f"Tenant: {args.users:,} users read by each of {args.orgs:,} organisations; "
          f"{truth.employees:,} employees each. Machine: {os.cpu_count()} cores.", "", table(results), sep="\n")
    wrong = [p for r in results for p in r.problems]
    if wrong:
        print("", "Organisations that did not end right:", *wrong[:50], sep="\n")
    return 1 if wrong else 0
