"""The model-based test drives its own small simulated tenant over HTTPS (the engine tests' fixtures otherwise)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings
from tests.engine.conftest import acme, m365_config, sim  # noqa: F401  (fixtures shared with the engine tests)
from tests.property.oracle import DatabaseCopier

# Small enough that a run takes a fraction of a second, large enough to hold the tenant's hand-made edge
# cases (umlauts, duplicates, guests, disabled and service accounts) and a management tree.
MODEL_TENANT_USERS = 60


@pytest.fixture(scope="session")
def sim_server_engine(tmp_path_factory) -> Iterator[SimulatorServer]:
    """The simulator for tests in this folder: a 60-user tenant, reset by each example."""
    settings = SimulatorSettings(users=MODEL_TENANT_USERS, seed=11)
    with SimulatorServer(Simulator(settings), state_dir=tmp_path_factory.mktemp("model-sim")) as server:
        yield server


@pytest.fixture
def copier(config, tmp_path) -> DatabaseCopier:
    """Copies the test database for the oracle's full run."""
    return DatabaseCopier(config.database_url, tmp_path)
