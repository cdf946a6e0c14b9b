"""The add-in API against the real simulator over HTTPS: Entra ID's metadata, JWKS and signed tokens.

    def test_something(api, people, issue):
        token = issue(people["ada"])                       # what nested app authentication would hand the add-in
        api.get("/api/v1/me/signature", headers=bearer(token))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from sqlmodel import Session

from config import Config
from portal import create_app
from portal.db import get_engine
from portal.models import Connection, Employee, SignatureAssignment, SignatureTemplate
from portal.organizations import create_organization
from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings
from tests.simulator.entra_helpers import TrustingSession

PUBLIC_URL = "https://sigsync.example:8443"
ORIGIN = "https://sigsync.example:8443"
# The employees the sync made, by status (each one a user of the simulated tenant).
STATUSES = {"ada": "active", "pat": "paused", "ex": "excluded", "gone": "inactive"}


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


@pytest.fixture(scope="session")
def api_sim(tmp_path_factory) -> Iterator[SimulatorServer]:
    """One HTTPS simulator for the add-in API tests."""
    settings = SimulatorSettings(users=20, seed=5)
    with SimulatorServer(Simulator(settings), state_dir=tmp_path_factory.mktemp("api-sim")) as server:
        yield server


@pytest.fixture
def sim(api_sim) -> Iterator[SimulatorServer]:
    """The simulator with an empty request log; signing keys a test rotates are put back (the first one signs)."""
    keys = api_sim.sim.keys
    before = keys.all()
    listed = [(k, k.listed) for k in before]
    api_sim.sim.log.clear()
    yield api_sim
    with keys._lock:
        keys._keys[:] = before
    for key, was in listed:
        key.listed = was


@pytest.fixture
def sim_http(sim) -> Iterator[TrustingSession]:
    with TrustingSession(sim.ca_path) as session:
        yield session


@pytest.fixture
def api_config(config: Config, sim) -> Config:
    s = sim.sim.settings
    return replace(config, ms_client_id=s.client_id, ms_client_secret=s.client_secret, ms_tenant_id=s.tenant_id,
                   ms_authority_host=sim.base_url, graph_url=sim.graph_url, ca_bundle=sim.ca_path,
                   public_url=PUBLIC_URL, http_timeout=10)


@pytest.fixture
def api_app(api_config):
    app = create_app(api_config)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def api(api_app):
    return api_app.test_client()


@pytest.fixture
def db(api_config) -> Iterator[Session]:
    with Session(get_engine(api_config.database_url), expire_on_commit=False) as session:
        yield session


@pytest.fixture
def people(db, sim) -> dict[str, str]:
    """Acme, connected to the simulated tenant with an active sync; its synced employees' Graph ids by name."""
    org = create_organization(db, "acme", "Acme")
    db.commit()
    db.add(Connection(organization_id=org.id, tenant_id=sim.sim.settings.tenant_id, state="active"))
    new = SignatureTemplate(organization_id=org.id, name="Standard", html="<p><b>{{ full_name }}</b></p>")
    reply = SignatureTemplate(organization_id=org.id, name="Short", html="<p>{{ first_name }}</p>")
    db.add_all([new, reply])
    db.commit()
    db.add_all([SignatureAssignment(organization_id=org.id, target="default", compose="new", template_id=new.id),
                SignatureAssignment(organization_id=org.id, target="default", compose="reply", template_id=reply.id)])
    users, _ = sim.sim.tenant.users_page(0, len(STATUSES) + 1)
    ids = {}
    for (name, status), user in zip(STATUSES.items(), users, strict=False):
        db.add(Employee(organization_id=org.id, email=f"{name}@acme.example", first_name=name.title(),
                        display_name=f"{name.title()} Example", status=status, source="m365", m365_id=user["id"]))
        ids[name] = user["id"]
    ids["stranger"] = users[len(STATUSES)]["id"]  # in the tenant, never synced
    db.commit()
    return ids


@pytest.fixture
def issue(sim, sim_http) -> Callable[..., str]:
    """issue(user_id, **body): an access token from the simulated Entra ID (``which="id_token"`` for the other)."""

    def run(user: str, which: str = "access_token", **body) -> str:
        answer = sim_http.post(f"{sim.base_url}/_sim/entra/tokens", json={"user": user, **body})
        assert answer.status_code == 201, answer.text
        return answer.json()[which]

    return run
