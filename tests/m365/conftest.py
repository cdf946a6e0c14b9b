"""Fixtures for portal.m365 against the real simulator over HTTPS (nothing of ours is mocked)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from config import Config
from portal.m365 import auth
from portal.m365.graph import GraphClient
from portal.m365.transport import PinnedSession
from portal.models import Connection
from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings
from tests.m365.support import REDIRECT_URI, RecordingSleep, accept_on_consent_page, app_connection


@pytest.fixture(scope="session")
def sim(tmp_path_factory) -> Iterator[SimulatorServer]:
    """One HTTPS simulator with a 300-user tenant for every m365 test."""
    settings = SimulatorSettings(users=300, seed=11)
    with SimulatorServer(Simulator(settings), state_dir=tmp_path_factory.mktemp("m365-sim")) as server:
        yield server


@pytest.fixture
def sim_settings(sim) -> Iterator[SimulatorSettings]:
    """The simulator's settings; whatever a test changes is put back."""
    saved = dict(vars(sim.sim.settings))
    yield sim.sim.settings
    vars(sim.sim.settings).update(saved)


@pytest.fixture
def m365_config(sim) -> Config:
    """Sigsync's settings pointed at the simulator; the CA comes from Config, not from the environment."""
    s = sim.sim.settings
    return replace(
        Config(env="test"),
        ms_client_id=s.client_id,
        ms_client_secret=s.client_secret,
        ms_tenant_id=s.tenant_id,
        ms_authority_host=sim.base_url,
        graph_url=sim.graph_url,
        ca_bundle=sim.ca_path,
        http_timeout=10,
    )


@pytest.fixture
def browser(sim) -> Iterator[PinnedSession]:
    """An HTTP client standing in for the admin's browser."""
    with PinnedSession(sim.ca_path) as session:
        yield session


@pytest.fixture
def delegated_connection(sim, m365_config, browser) -> Connection:
    """A delegated connection made the way the portal will: consent in the browser, cache stored encrypted."""
    flow = auth.begin_consent(m365_config, REDIRECT_URI)
    answer = accept_on_consent_page(sim, browser, flow["auth_uri"])
    tenant_id, blob, user = auth.finish_consent(m365_config, flow, answer)
    return Connection(organization_id=1, tenant_id=tenant_id, mode="delegated", token_cache=blob, connected_by=user)


@pytest.fixture(autouse=True)
def no_faults_left(sim) -> Iterator[None]:
    """Faults a test injects never leak into the next one."""
    yield
    sim.sim.faults.clear()


@pytest.fixture
def sleeps() -> RecordingSleep:
    """The client's sleep, recorded instead of waited."""
    return RecordingSleep()


@pytest.fixture
def graph(sim, m365_config, sleeps) -> Iterator[GraphClient]:
    """A Graph client with app-mode tokens, pointed at the simulator; its waits are recorded, not slept."""
    provider = auth.TokenProvider(m365_config, app_connection(sim))
    with GraphClient(m365_config, provider, sleep=sleeps) as client:
        yield client
