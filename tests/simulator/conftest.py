"""Fixtures for the Microsoft 365 simulator: a real HTTPS server, clients that trust its CA, MSAL apps."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import msal
import pytest

from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings
from tests.simulator.entra_helpers import TrustingSession, form_action, hidden_value, redirect_params
from tests.simulator.graph_helpers import build_app, token


@pytest.fixture(scope="session")
def sim_server(tmp_path_factory) -> Iterator[SimulatorServer]:
    """One real HTTPS simulator (Entra ID + Graph) for the whole session, on a free port."""
    settings = SimulatorSettings(users=200, seed=1)
    with SimulatorServer(Simulator(settings), state_dir=tmp_path_factory.mktemp("simulator")) as server:
        yield server


@pytest.fixture
def sim_settings(sim_server) -> Iterator[SimulatorSettings]:
    """The running simulator's settings; whatever a test changes is put back afterwards."""
    settings = sim_server.sim.settings
    saved = dict(vars(settings))
    consent = sim_server.sim.tokens.admin_consent
    yield settings
    vars(settings).update(saved)
    sim_server.sim.tokens.admin_consent = consent


@pytest.fixture
def sim_http(sim_server) -> Iterator[TrustingSession]:
    """A requests session that trusts the simulator's CA whatever the environment says."""
    with TrustingSession(sim_server.ca_path) as session:
        yield session


@pytest.fixture
def sim_env(sim_server, monkeypatch) -> SimulatorServer:
    """Point plain `requests` (and MSAL's default client) at the simulator's CA through the environment."""
    for name, value in sim_server.env().items():
        monkeypatch.setenv(name, value)
    return sim_server


@pytest.fixture
def msal_app(sim_server) -> Iterator[Callable[..., msal.ConfidentialClientApplication]]:
    """Build fresh MSAL apps (MSAL caches 400s and discovery, so tests never share one)."""
    sessions: list[TrustingSession] = []

    def build(**overrides) -> msal.ConfidentialClientApplication:
        settings = sim_server.sim.settings
        session = TrustingSession(sim_server.ca_path)
        sessions.append(session)
        client_id = overrides.pop("client_id", settings.client_id)
        options = {
            "client_credential": settings.client_secret, "authority": sim_server.authority,
            "instance_discovery": False, "http_client": session, **overrides,
        }
        return msal.ConfidentialClientApplication(client_id, **options)

    yield build
    for session in sessions:
        session.close()


@pytest.fixture
def consent(sim_server, sim_http) -> Callable[..., dict[str, str]]:
    """Drive the sign-in and consent page like a browser; returns what reached the redirect URI."""

    def run(auth_uri: str, action: str = "accept", password: str | None = None) -> dict[str, str]:
        settings = sim_server.sim.settings
        page = sim_http.get(auth_uri, allow_redirects=False)
        assert page.status_code == 200, page.text
        form = {"ctx": hidden_value(page.text, "ctx"), "login": settings.admin_upn,
                "passwd": settings.admin_password if password is None else password, "action": action}
        answer = sim_http.post(form_action(page.text, sim_server.base_url), data=form, allow_redirects=False)
        return redirect_params(answer)

    return run


# -- Graph side (simulator/graph*.py, tenant.py, faults.py, control.py) ------------------------


@pytest.fixture
def graph_app(request):
    """A Flask app with only the Graph and control blueprints over a fresh simulator (300 users).

    Change the settings with indirect parametrization: @pytest.mark.parametrize("graph_app",
    [{"users": 2000}], indirect=True).
    """
    return build_app(**getattr(request, "param", {}))


@pytest.fixture
def graph_client(graph_app):
    """Flask's test client for graph_app."""
    return graph_app.test_client()


@pytest.fixture
def app_token(graph_app) -> str:
    """An app-only bearer token with User.Read.All and Group.Read.All."""
    return token(graph_app)
