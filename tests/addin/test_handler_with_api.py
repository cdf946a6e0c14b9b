"""A simulated Outlook inserting the right signature for an employee identified only by an Entra ID token.

The handler file as the portal serves it runs in headless Chromium against the Office stub; its MSAL stub hands
out a real v2 access token that the simulator's Entra ID signed for api://<client id>/access_as_user (what nested
app authentication gives the add-in); the add-in API is the real portal, which validates the token against the
simulator's JWKS over HTTPS and finds the employee by the token's oid.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from sqlmodel import Session

from config import Config
from portal.models import Connection, Employee, Organization, SignatureTemplate
from portal.signatures import service
from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings
from tests.addin.conftest import HERE, PUBLIC_URL
from tests.addin.test_handler_browser import CHROMIUM_ARGS, HARNESS
from tests.web.conftest import simulator_config

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim_server(tmp_path_factory) -> Iterator[SimulatorServer]:
    with SimulatorServer(Simulator(SimulatorSettings(users=20, seed=7)),
                         state_dir=tmp_path_factory.mktemp("addin-sim")) as server:
        yield server


@pytest.fixture
def config(clean_db: str, sim_server: SimulatorServer) -> Config:
    return simulator_config(clean_db, sim_server, public_url=PUBLIC_URL)


@pytest.fixture
def people(db: Session, org: Organization, sim_server: SimulatorServer) -> dict[str, dict]:
    """Two Microsoft 365 users: ``ada`` an employee (linked by the sync's m365_id), ``stranger`` none."""
    users = [u for u in sim_server.sim.tenant.users_page(0, 20)[0] if u.get("mail") and u.get("displayName")]
    ada, stranger = users[0], users[1]
    db.add(Connection(organization_id=org.id, tenant_id=sim_server.sim.settings.tenant_id, mode="app"))
    db.add(Employee(organization_id=org.id, email=ada["mail"].lower(), display_name=ada["displayName"],
                    m365_id=ada["id"], source="m365"))
    new = SignatureTemplate(organization_id=org.id, name="New", html="<p>{{ full_name }} · new mail</p>")
    reply = SignatureTemplate(organization_id=org.id, name="Reply", html="<p>{{ full_name }} · reply</p>")
    db.add_all([new, reply])
    db.commit()
    service.assign(db, org.id, "default", "new", new.id)
    service.assign(db, org.id, "default", "reply", reply.id)
    db.commit()
    return {"ada": ada, "stranger": stranger}


def entra_token(sim_server: SimulatorServer, user: dict, **extra) -> str:
    """What nested app authentication would hand the add-in for ``user`` (the simulator's Entra ID)."""
    answer = requests.post(f"{sim_server.base_url}/_sim/entra/tokens", json={"user": user["id"], **extra},
                           verify=sim_server.ca_path, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["access_token"]


@pytest.fixture
def outlook(client, people) -> Iterator:
    files = {"/office_stub.js": (HERE / "office_stub.js").read_text(),
             "/msal_stub.js": (HERE / "msal_stub.js").read_text()}

    def serve(route, request) -> None:
        url = urlsplit(request.url)
        if url.path == "/harness.html":
            route.fulfill(status=200, content_type="text/html", body=HARNESS)
        elif url.path in files:
            route.fulfill(status=200, content_type="text/javascript", body=files[url.path])
        else:  # the real portal: the handler file and the add-in API
            headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "accept")}
            with client.get(url.path, query_string=url.query, headers=headers) as response:
                route.fulfill(status=response.status_code, headers=dict(response.headers), body=response.get_data())

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route(f"{PUBLIC_URL}/**", serve)
        page.goto(f"{PUBLIC_URL}/harness.html")

        def compose(token: str, scenario: dict) -> dict:
            page.evaluate(f"__msal.token = {json.dumps(token)}")
            return page.evaluate("scenario => __compose(scenario)", scenario)

        page.compose_as = compose
        yield page
        browser.close()


def test_new_mail_and_replies_get_the_employees_signatures(outlook, people, sim_server):
    token = entra_token(sim_server, people["ada"])
    name = people["ada"]["displayName"]
    new = outlook.compose_as(token, {"itemType": "message", "composeType": "newMail"})
    assert new["completed"] == 1 and new["notifications"] == []
    assert new["signature"]["data"].startswith(f"<p>{name} · new mail</p>")
    reply = outlook.compose_as(token, {"itemType": "message", "composeType": "reply"})
    assert reply["completed"] == 1 and reply["signature"]["data"].startswith(f"<p>{name} · reply</p>")
    assert reply["calls"][-1] == "disableClientSignatureAsync"


def test_someone_the_sync_does_not_know_gets_nothing_and_no_sign_in_prompt(outlook, people, sim_server):
    record = outlook.compose_as(entra_token(sim_server, people["stranger"]), {"itemType": "message"})
    assert record["completed"] == 1 and record["signature"] is None and record["notifications"] == []


def test_an_expired_token_is_refused_and_the_user_is_asked_to_sign_in(outlook, people, sim_server):
    token = entra_token(sim_server, people["ada"], claims={"exp": 1_000_000_000, "nbf": 999_000_000,
                                                           "iat": 999_000_000})
    record = outlook.compose_as(token, {"itemType": "message"})
    assert record["completed"] == 1 and record["signature"] is None
    assert [n["key"] for n in record["notifications"]] == ["sigsyncSignIn"]
