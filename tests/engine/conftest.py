"""The engine against the real simulator over HTTPS and a real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select, update

from config import Config
from portal import connections
from portal.db import get_engine, session_scope
from portal.employees import add_employee, edit_employee, export_rows, set_sync_status
from portal.errors import SigsyncError
from portal.jobs import summary, sync_job
from portal.models import Connection, Employee, Organization, SyncDecision, SyncRun
from portal.organizations import create_organization
from portal.sync.engine import create_run
from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings

TENANT_USERS = 300


@pytest.fixture(scope="session")
def sim_server_engine(tmp_path_factory) -> Iterator[SimulatorServer]:
    """One HTTPS simulator for the engine tests; each test resets its tenant."""
    settings = SimulatorSettings(users=TENANT_USERS, seed=7)
    with SimulatorServer(Simulator(settings), state_dir=tmp_path_factory.mktemp("engine-sim")) as server:
        yield server


@pytest.fixture
def sim(sim_server_engine) -> Iterator[Simulator]:
    """The simulator with a fresh tenant, no faults and an empty request log; settings a test changes go back."""
    s = sim_server_engine.sim
    saved = dict(vars(s.settings))
    s.tenant.reset()
    s.faults.clear()
    s.log.clear()
    s.tokens.admin_consent = True
    yield s
    s.faults.clear()
    vars(s.settings).update(saved)
    s.tokens.admin_consent = True
    assert_read_only(s)


def assert_read_only(s: Simulator) -> None:
    """Microsoft is never written to: every Graph request was a GET, or a $batch of GETs."""
    writes = [(i.method, i.path, i.via) for i in s.log.items("graph")
              if not (i.method == "GET" or (i.method == "POST" and i.path == "/v1.0/$batch" and not i.via))]
    assert writes == []


@pytest.fixture
def m365_config(config: Config, sim_server_engine) -> Config:
    s = sim_server_engine.sim.settings
    return replace(config, ms_client_id=s.client_id, ms_client_secret=s.client_secret, ms_tenant_id=s.tenant_id,
                   ms_authority_host=sim_server_engine.base_url, graph_url=sim_server_engine.graph_url,
                   ca_bundle=sim_server_engine.ca_path, http_timeout=10)


class Harness:
    """A connected organisation and the actions a test takes on it."""

    def __init__(self, config: Config, sim: Simulator, slug: str = "acme", seats: int | None = None) -> None:
        self.config = config
        self.sim = sim
        self.slug = slug
        self.engine = get_engine(config.database_url)
        self.sleeps: list[float] = []
        with session_scope(config.database_url) as session:
            self.org = create_organization(session, slug, slug.title(), seats=seats, timezone="Europe/Berlin")
        self.connection = connections.connect_app_only(config, self.engine, self.org, sim.settings.tenant_id, "test")

    # -- configuring and running ---------------------------------------------------------------

    def configure(self, **parts) -> None:
        """Change settings / mapping / import_rules (merged into the current config)."""
        current = connections.export_connection_config(self._connection())
        for key, value in parts.items():
            if isinstance(value, dict) and key == "settings":
                current["settings"].update(value)
            else:
                current[key] = value
        connections.import_connection_config(self.engine, self._connection(), json.dumps(current))

    def sync(self, *, full: bool = False, dry_run: bool = False, progress=None) -> dict:
        result, error = self.try_sync(full=full, dry_run=dry_run, progress=progress)
        if error is not None:
            raise error
        return result

    def try_sync(self, *, full: bool = False, dry_run: bool = False, progress=None) -> tuple[dict, Exception | None]:
        """A sync that may fail: the run's summary (from its row) and the error it raised, if any."""
        run_id = create_run(self.engine, self.connection.id, trigger="cli", full=full, dry_run=dry_run)
        try:
            return sync_job(run_id, self.config, progress, graph_options={"sleep": self.sleeps.append}), None
        except SigsyncError as exc:
            return summary(self.run(run_id)), exc

    # -- reading -------------------------------------------------------------------------------

    def employees(self) -> dict[str, Employee]:
        with session_scope(self.config.database_url) as session:
            rows = session.exec(select(Employee).where(Employee.organization_id == self.org.id)).scalars().all()
            return {e.email: e for e in rows}

    def employee(self, email: str) -> Employee:
        return self.employees()[email.lower()]

    def export(self, *, status: str | None = None) -> dict[str, dict]:
        """Every employee as the CLI exports it (fields, departments, source, status, m365 id), by e-mail."""
        with session_scope(self.config.database_url) as session:
            org = session.get(Organization, self.org.id)
            rows = {r["email"]: r for r in export_rows(session, org)}
        return {e: r for e, r in rows.items() if status is None or r["status"] == status}

    def decisions(self, run_id: int, kind: str | None = None) -> list[SyncDecision]:
        with session_scope(self.config.database_url) as session:
            stmt = select(SyncDecision).where(SyncDecision.run_id == run_id)
            if kind:
                stmt = stmt.where(SyncDecision.kind == kind)
            return list(session.exec(stmt.order_by(SyncDecision.id)).scalars().all())

    def run(self, run_id: int) -> SyncRun:
        with session_scope(self.config.database_url) as session:
            return session.get(SyncRun, run_id)

    def last_run(self) -> SyncRun:
        with session_scope(self.config.database_url) as session:
            return session.exec(select(SyncRun).where(SyncRun.connection_id == self.connection.id)
                                .order_by(SyncRun.id.desc())).scalars().first()

    def connection_row(self) -> Connection:
        with session_scope(self.config.database_url) as session:
            return session.get(Connection, self.connection.id)

    # -- what an admin does by hand ------------------------------------------------------------

    def add_manual(self, email: str, **fields: str) -> None:
        with session_scope(self.config.database_url) as session:
            add_employee(session, session.get(Organization, self.org.id), email, fields)

    def edit(self, email: str, **fields: str) -> None:
        with session_scope(self.config.database_url) as session:
            edit_employee(session, session.get(Organization, self.org.id), email, fields)

    def set_status(self, email: str, action: str) -> None:
        with session_scope(self.config.database_url) as session:
            set_sync_status(session, session.get(Organization, self.org.id), email, action)

    def update_connection(self, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(Connection).where(Connection.id == self.connection.id).values(**values))

    def _connection(self) -> Connection:
        with self.engine.begin() as conn:
            return connections.live_connection(conn, self.org.id)


@pytest.fixture
def acme(m365_config, sim) -> Harness:
    return Harness(m365_config, sim)


@pytest.fixture
def fresh(m365_config, sim):
    """A second organisation connected to the same tenant: the reference a clean full run gives."""

    def make(slug: str = "fresh", **config_parts) -> Harness:
        other = Harness(m365_config, sim, slug=slug)
        if config_parts:
            other.configure(**config_parts)
        assert other.sync(full=True)["status"] == "succeeded"
        return other

    return make


def kinds(result: dict) -> dict[str, int]:
    """A run summary's counts by decision kind."""
    return dict(result["counts"])


@pytest.fixture
def cli(m365_config, sim):
    """Run ``flask --app portal …`` commands against the test database and the simulator."""
    from portal import create_app

    runner = create_app(m365_config).test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=list(args), catch_exceptions=False)

    return invoke
