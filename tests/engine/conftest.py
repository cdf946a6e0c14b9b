"""The engine against the real simulator over HTTPS and a real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from config import Config
from portal import connections
from portal.db import get_engine, session_scope
from portal.jobs import sync_job
from portal.models import Connection, Employee, SyncDecision
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
    """The simulator with a fresh tenant, no faults and an empty request log."""
    s = sim_server_engine.sim
    s.tenant.reset()
    s.faults.clear()
    s.log.clear()
    yield s
    s.faults.clear()


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
        self.engine = get_engine(config.database_url)
        self.sleeps: list[float] = []
        with session_scope(config.database_url) as session:
            self.org = create_organization(session, slug, "Acme", seats=seats, timezone="Europe/Berlin")
        self.connection = connections.connect_app_only(config, self.engine, self.org, sim.settings.tenant_id, "test")

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
        run_id = create_run(self.engine, self.connection.id, trigger="cli", full=full, dry_run=dry_run)
        return sync_job(run_id, self.config, progress, graph_options={"sleep": self.sleeps.append})

    def employees(self) -> dict[str, Employee]:
        with session_scope(self.config.database_url) as session:
            rows = session.exec(select(Employee).where(Employee.organization_id == self.org.id)).scalars().all()
            return {e.email: e for e in rows}

    def decisions(self, run_id: int, kind: str | None = None) -> list[SyncDecision]:
        with session_scope(self.config.database_url) as session:
            stmt = select(SyncDecision).where(SyncDecision.run_id == run_id)
            if kind:
                stmt = stmt.where(SyncDecision.kind == kind)
            return list(session.exec(stmt).scalars().all())

    def _connection(self) -> Connection:
        with self.engine.begin() as conn:
            return connections.live_connection(conn, self.org.id)


@pytest.fixture
def acme(m365_config, sim) -> Harness:
    return Harness(m365_config, sim)
