"""Step 1, connect Microsoft 365: the real consent flow against the simulator over HTTPS.

The Flask test client is the admin's browser on Sigsync; a requests session trusting the
simulator's CA is the same browser on Microsoft's pages (sign-in + consent form, as a browser posts it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from sqlmodel import select

from config import Config
from portal import connections, create_app
from portal.db import get_engine
from portal.m365.transport import PinnedSession
from portal.models import AuditEvent, Connection, Employee
from portal.views.connect import FLOW_KEY
from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings
from tests.m365.support import accept_on_consent_page
from tests.web.conftest import OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD, AuthActions, read_csrf_token

OTHER_TENANT = "0b0b0b0b-1111-4222-8333-444455556666"


@pytest.fixture(scope="module")
def sim_server(tmp_path_factory) -> Iterator[SimulatorServer]:
    """One HTTPS simulator (a small tenant) for this module."""
    with SimulatorServer(Simulator(SimulatorSettings(users=12, seed=5)),
                         state_dir=tmp_path_factory.mktemp("connect-sim")) as server:
        yield server


@pytest.fixture
def config(clean_db: str, sim_server: SimulatorServer) -> Config:
    """The portal pointed at the simulator: its authority, Graph and CA (REQUESTS_CA_BUNDLE's setting)."""
    s = sim_server.sim.settings
    return replace(Config.from_env(), env="test", database_url=clean_db, ms_client_id=s.client_id,
                   ms_client_secret=s.client_secret, ms_authority_host=sim_server.base_url,
                   graph_url=sim_server.graph_url, ca_bundle=sim_server.ca_path, http_timeout=10,
                   public_url="http://127.0.0.1:5000")


@pytest.fixture
def browser(sim_server) -> Iterator[PinnedSession]:
    """The admin's browser on Microsoft's side."""
    with PinnedSession(sim_server.ca_path) as session:
        yield session


def start(client, path: str = "/connect/start", **data: str):
    return client.post(path, data={"csrf_token": read_csrf_token(client, "/connect/"), **data})


def begin(client) -> str:
    """Press "Connect with Microsoft"; the URL of Microsoft's page the browser is sent to."""
    response = start(client)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def live(db, org) -> Connection | None:
    db.expire_all()
    return connections.current_connection(db, org.id)


def events(db, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


# --- the page ----------------------------------------------------------------------------------


def test_the_page_says_what_sigsync_may_do_and_why(signed_in, config):
    response = signed_in.get("/connect/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for words, name in (("Maintain access to data you have given it access to", "offline_access"),
                        ("Read all users&#39; full profiles", "User.Read.All"), ("Read all groups", "Group.Read.All")):
        assert f'<th scope="row">{words}</th><td><code>{name}</code></td>' in page
    assert "never changes anything there" in page
    assert "Only this step needs a Microsoft 365 administrator" in page
    assert '<button type="submit" class="button button-primary">Connect with Microsoft</button>' in page
    assert '<label for="tenant">Tenant ID or domain</label>' in page
    assert "http://127.0.0.1:5000/connect/callback" in page
    # The form's redirect to Microsoft is allowed by this page's CSP (browsers check form-action on it).
    assert f"form-action 'self' {config.ms_authority_host}" in response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in response.headers["Content-Security-Policy"]


def test_anonymous_visitors_are_sent_to_sign_in(client, admin, db, org):
    for path in ("/connect/", "/connect/callback?code=x&state=y", "/connect/disconnect"):
        response = client.get(path)
        assert response.status_code == 302 and "/signin" in response.headers["Location"]
    token = read_csrf_token(client, "/signin")
    for path in ("/connect/start", "/connect/app", "/connect/disconnect"):
        response = client.post(path, data={"csrf_token": token, "tenant": "contoso.example"})
        assert response.status_code == 302 and "/signin" in response.headers["Location"]
    assert live(db, org) is None


@pytest.mark.parametrize("path", ["/connect/start", "/connect/app", "/connect/disconnect"])
def test_every_post_without_the_csrf_token_is_refused(signed_in, path):
    response = signed_in.post(path, data={"tenant": "contoso.example", "employees": "keep", "confirm": "DISCONNECT"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    with signed_in.session_transaction() as session:
        assert FLOW_KEY not in session


# --- connecting with the simulator -----------------------------------------------------------------


def test_connect_with_microsoft_end_to_end(signed_in, db, org, admin, sim_server, browser):
    auth_uri = begin(signed_in)
    query = dict(parse_qsl(urlsplit(auth_uri).query))
    assert auth_uri.startswith(f"{sim_server.base_url}/organizations/oauth2/v2.0/authorize?")
    assert query["redirect_uri"] == "http://127.0.0.1:5000/connect/callback"
    assert query["code_challenge_method"] == "S256" and query["state"]
    answer = accept_on_consent_page(sim_server, browser, auth_uri)

    response = signed_in.get("/connect/callback", query_string=answer)
    assert response.status_code == 303
    connection = live(db, org)
    assert connection is not None and connection.state == "active" and connection.mode == "delegated"
    assert connection.tenant_id == sim_server.sim.settings.tenant_id
    assert connection.connected_by == sim_server.sim.settings.admin_upn
    assert connection.token_cache and b"refresh" not in connection.token_cache  # stored encrypted
    [event] = events(db, "connected")
    assert event.actor == admin.email and event.details["mode"] == "delegated"
    page = signed_in.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "Connected to Microsoft 365" in page

    # The connection page now shows the connection instead of the buttons.
    page = signed_in.get("/connect/").get_data(as_text=True)
    assert "Connected" in page and connection.tenant_id in page and "Connect with Microsoft</button>" not in page

    # The same answer replayed (back button, a second tab, someone else) connects nothing.
    replay = signed_in.get("/connect/callback", query_string=answer)
    assert replay.status_code == 409
    assert "This answer was already used" in replay.get_data(as_text=True)
    assert len(events(db, "connected")) == 1


def test_cancel_on_microsofts_page_connects_nothing(signed_in, db, org, sim_server, browser):
    answer = accept_on_consent_page(sim_server, browser, begin(signed_in), action="cancel")
    assert answer["error"] == "access_denied"
    response = signed_in.get("/connect/callback", query_string=answer)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "You cancelled connecting" in page and "nothing changed in Microsoft 365" in page
    assert "Start connecting again" in page
    assert live(db, org) is None and events(db, "connected") == []


def test_a_forged_state_is_refused_and_the_real_answer_cannot_be_used_after(signed_in, db, org, sim_server, browser):
    answer = accept_on_consent_page(sim_server, browser, begin(signed_in))
    forged = {**answer, "state": "attacker-chosen-state"}
    response = signed_in.get("/connect/callback", query_string=forged)
    assert response.status_code == 400
    assert "This answer does not belong to your sign-in" in response.get_data(as_text=True)
    assert live(db, org) is None
    # The flow was spent on the forged answer: the real one now finds nothing waiting.
    late = signed_in.get("/connect/callback", query_string=answer)
    assert late.status_code == 400 and "expired or was already used" in late.get_data(as_text=True)
    assert live(db, org) is None


def test_an_answer_without_a_sign_in_started_here_connects_nothing(signed_in, db, org, sim_server, browser, app):
    other_browser = app.test_client()  # the answer arrives in another browser (or was sent by someone else)
    answer = accept_on_consent_page(sim_server, browser, begin(signed_in))
    AuthActions(other_browser).sign_in()
    response = other_browser.get("/connect/callback", query_string=answer)
    assert response.status_code == 400 and "expired or was already used" in response.get_data(as_text=True)
    assert live(db, org) is None


def test_a_sign_in_left_too_long_expires(signed_in, db, org, sim_server, browser):
    answer = accept_on_consent_page(sim_server, browser, begin(signed_in))
    with signed_in.session_transaction() as session:
        session[FLOW_KEY] = {**session[FLOW_KEY], "started": session[FLOW_KEY]["started"] - 31 * 60}
    response = signed_in.get("/connect/callback", query_string=answer)
    assert response.status_code == 400 and "The sign-in took too long" in response.get_data(as_text=True)
    assert live(db, org) is None


def test_a_code_already_redeemed_is_refused_by_microsoft(signed_in, db, org, sim_server, browser):
    first = accept_on_consent_page(sim_server, browser, begin(signed_in))
    assert signed_in.get("/connect/callback", query_string=first).status_code == 303
    connection = live(db, org)
    connections.disconnect(get_engine(signed_in.application.config["SIGSYNC"].database_url), connection,
                           keep_employees=True)
    # A new sign-in is started; the old code is pasted back with the new state.
    state = dict(parse_qsl(urlsplit(begin(signed_in)).query))["state"]
    response = signed_in.get("/connect/callback", query_string={**first, "state": state})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Microsoft stopped the sign-in" in page and "AADSTS54005" in page
    assert live(db, org) is None


def test_an_entra_error_shows_its_code_and_what_to_do(signed_in, db, org):
    auth_uri = begin(signed_in)
    state = dict(parse_qsl(urlsplit(auth_uri).query))["state"]
    answer = {"error": "invalid_client", "state": state,
              "error_description": "AADSTS700016: Application with identifier 'x' was not found in the directory "
                                   "'Fabrikam'.\r\nTrace ID: 1\r\nCorrelation ID: 2"}
    response = signed_in.get("/connect/callback", query_string=answer)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "AADSTS700016: Application with identifier" in page and "Trace ID" not in page
    assert "check MS_CLIENT_ID" in page
    assert live(db, org) is None


def test_a_second_tenant_is_refused_while_one_is_connected(signed_in, db, org, admin, sim_server, browser):
    answer = accept_on_consent_page(sim_server, browser, begin(signed_in))
    # Meanwhile, another tab connected the organisation to another tenant.
    engine = get_engine(signed_in.application.config["SIGSYNC"].database_url)
    connections.connect_delegated(engine, org, OTHER_TENANT, b"", "someone@fabrikam.example")
    response = signed_in.get("/connect/callback", query_string=answer)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert f"Already connected to tenant {OTHER_TENANT}. Disconnect first." in page
    assert live(db, org).tenant_id == OTHER_TENANT and events(db, "connected") == []
    # And the button no longer starts a sign-in.
    refused = start(signed_in)
    assert refused.status_code == 303 and refused.headers["Location"].endswith("/connect/")
    assert "already connected" in signed_in.get("/connect/").get_data(as_text=True)


def needs_consent(config, db, org, tenant_id: str) -> Connection:
    """A connection whose consent was withdrawn, with its own settings and two synced employees."""
    engine = get_engine(config.database_url)
    connection = connections.connect_delegated(engine, org, tenant_id, b"old", "old-admin@contoso.example")
    row = db.get(Connection, connection.id)
    row.state = "needs_consent"
    row.last_error = "consent required: invalid_grant"
    row.settings = {**row.settings, "import_new_users": False, "sync_time": "05:30"}
    row.import_rules = [{"name": "Sales", "description": "", "match": "all",
                         "conditions": [{"attribute": "department", "operator": "equals", "value": "Sales"}],
                         "departments": {}}]
    for n in (1, 2):
        db.add(Employee(organization_id=org.id, email=f"p{n}@contoso.example", source="m365", m365_id=f"id-{n}",
                        created_by_sync=True))
    db.add(row)
    db.commit()
    return row


def test_reconnecting_a_connection_that_needs_consent_keeps_everything(signed_in, config, db, org, sim_server,
                                                                      browser):
    connection = needs_consent(config, db, org, sim_server.sim.settings.tenant_id)
    page = signed_in.get("/connect/").get_data(as_text=True)
    assert "Microsoft 365 needs consent again" in page and "Reconnecting keeps everything" in page
    answer = accept_on_consent_page(sim_server, browser, begin(signed_in))
    assert signed_in.get("/connect/callback", query_string=answer).status_code == 303
    db.expire_all()
    after = db.get(Connection, connection.id)
    assert after.state == "active" and after.last_error == "" and after.token_cache != b"old"
    assert after.settings["import_new_users"] is False and after.settings["sync_time"] == "05:30"
    assert after.import_rules[0]["name"] == "Sales"
    assert len(db.exec(select(Employee).where(Employee.m365_id.is_not(None))).all()) == 2
    assert len(db.exec(select(Connection)).all()) == 1
    [event] = events(db, "connected")
    assert event.details["reconnected"] is True and event.summary.startswith("Reconnected")


def test_reconnecting_with_the_wrong_tenant_is_refused(signed_in, config, db, org, sim_server, browser):
    connection = needs_consent(config, db, org, OTHER_TENANT)
    answer = accept_on_consent_page(sim_server, browser, begin(signed_in))
    response = signed_in.get("/connect/callback", query_string=answer)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert f"You signed in to tenant {sim_server.sim.settings.tenant_id}" in page
    assert f"Sign in with an administrator of tenant {OTHER_TENANT}" in page
    db.expire_all()
    assert db.get(Connection, connection.id).state == "needs_consent"
    assert db.get(Connection, connection.id).token_cache == b"old"


# --- application permissions -------------------------------------------------------------------------


def test_connect_with_application_permissions(signed_in, db, org, sim_server, browser):
    tenant = sim_server.sim.settings.tenant_id
    response = start(signed_in, "/connect/app", tenant=tenant)
    assert response.status_code == 303
    url = response.headers["Location"]
    assert url.startswith(f"{sim_server.base_url}/{tenant}/v2.0/adminconsent?")
    answer = accept_on_consent_page(sim_server, browser, url)
    assert answer["admin_consent"] == "True"
    assert signed_in.get("/connect/callback", query_string=answer).status_code == 303
    connection = live(db, org)
    assert connection.mode == "app" and connection.tenant_id == tenant and connection.state == "active"
    [event] = events(db, "connected")
    assert event.details["mode"] == "app"


def test_an_administrator_declining_application_permissions(signed_in, db, org, sim_server, browser):
    response = start(signed_in, "/connect/app", tenant=sim_server.sim.settings.tenant_id)
    answer = accept_on_consent_page(sim_server, browser, response.headers["Location"], action="cancel")
    page = signed_in.get("/connect/callback", query_string=answer).get_data(as_text=True)
    assert "The permissions were not granted" in page and "AADSTS65004" in page
    assert live(db, org) is None


@pytest.mark.parametrize(("tenant", "message"), [
    ("", "Enter your tenant&#39;s ID or its domain"),
    ("organizations", "Admin consent needs your own tenant"),
    ("contoso.example/../x", "A tenant ID looks like"),
])
def test_application_permissions_need_a_real_tenant(signed_in, db, org, tenant, message):
    response = start(signed_in, "/connect/app", tenant=tenant)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert 'aria-invalid="true"' in page and 'aria-describedby="tenant-hint tenant-error"' in page
    assert f'id="tenant" name="tenant" type="text" value="{tenant}"' in page  # what was typed is kept
    with signed_in.session_transaction() as session:
        assert FLOW_KEY not in session


def test_sigsync_without_an_app_registration_says_who_must_set_it(config, db, admin):
    app = create_app(replace(config, ms_client_id="", ms_client_secret=""))
    app.config.update(TESTING=True)
    client = app.test_client()
    AuthActions(client).sign_in()
    response = start(client)
    assert response.status_code == 503
    assert "MS_CLIENT_ID and MS_CLIENT_SECRET" in response.get_data(as_text=True)


def test_another_organisations_admin_sees_nothing_of_this_connection(
        signed_in, db, org, other_org_admin, sim_server, browser, app):
    answer = accept_on_consent_page(sim_server, browser, begin(signed_in))
    assert signed_in.get("/connect/callback", query_string=answer).status_code == 303
    other = app.test_client()
    AuthActions(other).sign_in(OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD)
    page = other.get("/connect/").get_data(as_text=True)
    assert sim_server.sim.settings.tenant_id not in page and "Connect with Microsoft</button>" in page
    assert other.get("/connect/disconnect").status_code == 303  # nothing of theirs to disconnect
    assert live(db, org).state == "active"


def test_a_tenant_connected_to_another_organisation_is_refused(signed_in, db, org, other_org, other_org_admin,
                                                               sim_server, browser, app):
    """The tenant id in an admin-consent answer is only a query parameter: another organisation's admin who
    edits it to this organisation's tenant must not get its directory (or its employees' signatures)."""
    tenant = sim_server.sim.settings.tenant_id
    answer = accept_on_consent_page(sim_server, browser, start(signed_in, "/connect/app", tenant=tenant)
                                    .headers["Location"])
    assert signed_in.get("/connect/callback", query_string=answer).status_code == 303
    assert live(db, org).tenant_id == tenant

    other = app.test_client()
    AuthActions(other).sign_in(OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD)
    started = start(other, "/connect/app", tenant="fabrikam.example")  # any tenant: only the state matters
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    forged = other.get("/connect/callback", query_string={"admin_consent": "True", "tenant": tenant,
                                                          "state": state})
    page = forged.get_data(as_text=True)
    assert forged.status_code == 409
    assert "already connected to another Sigsync organisation" in page
    assert live(db, other_org) is None
    assert live(db, org).state == "active"  # the rightful connection is untouched
