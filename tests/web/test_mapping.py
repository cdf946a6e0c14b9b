"""Data mapping: employee field ← Microsoft 365 attribute, custom fields, and a preview on a real tenant user.

Against the real simulator over HTTPS and a real database; every POST carries the page's CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
from sqlmodel import select

from config import Config
from portal import connections
from portal.db import get_engine
from portal.models import AuditEvent, Connection, Organization
from portal.sync.config import DEFAULT_MAPPING
from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings
from tests.web.conftest import (
    OTHER_ADMIN_EMAIL,
    OTHER_ADMIN_PASSWORD,
    AuthActions,
    hx,
    read_csrf_token,
    simulator_config,
)

SOME_ID = "00000000-0000-4000-8000-000000000000"  # a well-formed Graph object id


@pytest.fixture(scope="module")
def sim_server(tmp_path_factory) -> Iterator[SimulatorServer]:
    """One HTTPS simulator (a small tenant) for this module."""
    with SimulatorServer(Simulator(SimulatorSettings(users=40, seed=11)),
                         state_dir=tmp_path_factory.mktemp("mapping-sim")) as server:
        yield server


@pytest.fixture
def config(clean_db: str, sim_server: SimulatorServer) -> Config:
    return simulator_config(clean_db, sim_server)


@pytest.fixture
def connection(config: Config, org: Organization, sim_server: SimulatorServer) -> Connection:
    sim_server.sim.tenant.reset()
    return connections.connect_app_only(config, get_engine(config.database_url), org,
                                        sim_server.sim.settings.tenant_id, "test")


@pytest.fixture
def quinn(sim_server: SimulatorServer) -> str:
    """A tenant user with a manager-free, fully known profile (after the fixture's reset)."""
    return sim_server.sim.tenant.add_user({
        "userPrincipalName": "quinn.quartz@contoso.example", "displayName": "Quinn Quartz", "givenName": "Quinn",
        "surname": "Quartz", "mail": "Quinn.Quartz@contoso.example", "jobTitle": "Gemologist",
        "department": "Minerals", "businessPhones": ["+49 30 1234"], "accountEnabled": True, "userType": "Member",
        "onPremisesExtensionAttributes": {f"extensionAttribute{n}": None for n in range(2, 16)}
        | {"extensionAttribute1": "CC-4711"},
    })


def form_of(mapping: dict[str, str], custom: list[tuple[str, str]] = ()) -> dict[str, str]:
    """The editor's fields for a mapping (every standard field, then the custom rows)."""
    data = {f"map-{name}": mapping.get(name, path) for name, path in DEFAULT_MAPPING.items()}
    for i, (key, attribute) in enumerate(custom):
        data[f"custom-{i}-key"] = key
        data[f"custom-{i}-attribute"] = attribute
    return data


def post(client, path: str, data: dict, htmx: bool = True):
    token = read_csrf_token(client, "/settings/mapping/")
    if htmx:
        return client.post(path, data=data, headers=hx(token))
    return client.post(path, data={**data, "csrf_token": token})


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def stored_mapping(db, connection: Connection) -> dict:
    db.expire_all()
    return db.get(Connection, connection.id).mapping


def test_without_a_connection_the_page_says_to_connect_first(signed_in):
    page = signed_in.get("/settings/mapping/")
    assert page.status_code == 200 and "Connect your Microsoft 365 tenant first" in text_of(page)


def test_the_page_lists_every_field_with_its_attribute(signed_in, connection):
    body = signed_in.get("/settings/mapping/").get_data(as_text=True)
    assert '<label for="map-job_title">Job title</label>' in body
    assert re.search(r'id="map-job_title" name="map-job_title" value="jobTitle" list="m365-attributes"', body)
    assert 'value="businessPhones[0]"' in body and 'value="manager.mail"' in body
    assert '<option value="onPremisesExtensionAttributes.extensionAttribute15">' in body
    assert "No custom fields yet." in body


def test_saving_a_mapping_with_a_custom_field_is_stored_and_audited(signed_in, db, connection):
    data = form_of({"job_title": "department", "fax": ""},
                   [("cost_center", "onPremisesExtensionAttributes.extensionAttribute1")])
    response = post(signed_in, "/settings/mapping/", data, htmx=False)
    assert response.status_code == 303, text_of(response)[:1000]
    mapping = stored_mapping(db, connection)
    assert mapping["job_title"] == "department"
    assert mapping["fax"] == ""  # not transferred
    assert mapping["custom.cost_center"] == "onPremisesExtensionAttributes.extensionAttribute1"
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "mapping_changed")).all()
    assert len(events) == 1 and events[0].actor == "ada@acme.example"
    page = signed_in.get("/settings/mapping/").get_data(as_text=True)
    assert 'value="cost_center"' in page and "Mapping saved." in page


def test_bad_input_comes_back_inline_and_nothing_is_lost(signed_in, db, connection):
    before = stored_mapping(db, connection)
    data = form_of({"job_title": "jobTitel", "phone": "businessPhones", "email": ""},
                   [("cost_center", "employeeOrgData.costCenter")])
    response = post(signed_in, "/settings/mapping/", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'id="map-job_title"[^>]*value="jobTitel"[^>]*aria-invalid="true"', body)
    assert "did you mean jobTitle?" in body
    assert "Job title: jobTitel is not a Microsoft 365 user attribute" in body  # the summary says where
    assert "businessPhones is a list; pick one entry, e.g. businessPhones[0]" in body
    assert re.search(r'id="map-email"[^>]*aria-invalid="true" aria-describedby="map-email-error"', body)
    assert 'value="employeeOrgData.costCenter"' in body  # the custom row is still there
    assert stored_mapping(db, connection) == before
    full = post(signed_in, "/settings/mapping/", data, htmx=False)
    assert full.status_code == 422 and 'value="jobTitel"' in full.get_data(as_text=True)


def test_a_custom_field_needs_a_usable_name(signed_in, db, connection):
    before = stored_mapping(db, connection)
    data = form_of({}, [("Cost Center", "department"), ("", "city")])
    body = post(signed_in, "/settings/mapping/", data).get_data(as_text=True)
    assert "“Cost Center” cannot be a custom field name" in unescape(body)
    assert "Give the custom field a name" in body
    assert re.search(r'id="custom-1-key"[^>]*aria-invalid="true"', body)
    assert stored_mapping(db, connection) == before


def test_custom_fields_are_added_and_removed_without_losing_edits(signed_in, connection):
    data = form_of({"job_title": "department"}, [("cost_center", "employeeOrgData.costCenter")])
    added = post(signed_in, "/settings/mapping/edit", {**data, "op": "add_custom"})
    body = added.get_data(as_text=True)
    assert added.status_code == 200 and body.lstrip().startswith('<div id="mapping-editor">')
    assert 'id="custom-1-key"' in body and 'value="employeeOrgData.costCenter"' in body
    assert re.search(r'id="map-job_title"[^>]*value="department"', body)  # the unsaved edit stays
    removed = post(signed_in, "/settings/mapping/edit", {**data, "op": "remove_custom:0"})
    body = removed.get_data(as_text=True)
    assert 'id="custom-0-key"' not in body and re.search(r'id="map-job_title"[^>]*value="department"', body)
    assert post(signed_in, "/settings/mapping/edit", {**data, "op": "remove_custom:5"}).status_code == 400


def test_a_tenant_user_is_found_by_search_and_previewed_with_the_unsaved_mapping(signed_in, connection, quinn):
    found = signed_in.get("/settings/mapping/users?user_search=quinn%20q", headers=hx())
    assert f'value="{quinn}"' in found.get_data(as_text=True) and "Preview Quinn Quartz" in text_of(found)
    by_address = signed_in.get("/settings/mapping/users?user_search=Quinn.Qu", headers=hx())
    assert "Preview Quinn Quartz" in text_of(by_address)
    nobody = signed_in.get("/settings/mapping/users?user_search=zz'top", headers=hx())
    assert "No user's name or address starts with “zz'top”" in text_of(nobody)

    data = form_of({"job_title": "department"}, [("cost_center", "onPremisesExtensionAttributes.extensionAttribute1")])
    shown = post(signed_in, "/settings/mapping/preview", {**data, "preview_user": quinn})
    rows = dict(re.findall(r'<tr><th scope="row">([^<]+)</th><td><code>[^<]*</code></td><td>([^<]*)<',
                           shown.get_data(as_text=True)))
    assert rows["Job title"] == "Minerals"  # the form's mapping, not the saved one
    assert rows["First name"] == "Quinn"
    assert rows["Phone"] == "+49 30 1234"
    assert rows["E-mail address"] == "quinn.quartz@contoso.example"
    assert rows["Custom: cost_center"] == "CC-4711"

    broken = post(signed_in, "/settings/mapping/preview", {**form_of({"city": "cty"}), "preview_user": quinn})
    assert "Correct the mapping above to preview it" in text_of(broken)


def test_anonymous_visitors_are_sent_to_sign_in(client, admin):
    for path in ("/settings/mapping/", "/settings/mapping/users?user_search=a"):
        response = client.get(path)
        assert response.status_code == 302 and "/signin" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/settings/mapping/", "/settings/mapping/edit", "/settings/mapping/preview"])
def test_every_post_without_the_csrf_token_is_refused(signed_in, db, connection, path):
    before = stored_mapping(db, connection)
    response = signed_in.post(path, data={**form_of({"job_title": "city"}), "op": "add_custom",
                                          "preview_user": SOME_ID})
    assert response.status_code == 400
    assert stored_mapping(db, connection) == before


def test_another_organisations_admin_cannot_reach_this_connection(client, db, connection, other_org_admin):
    AuthActions(client).sign_in(OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD)
    assert "Connect your Microsoft 365 tenant first" in text_of(client.get("/settings/mapping/"))
    token = read_csrf_token(client, "/settings/mapping/")
    for path in ("/settings/mapping/", "/settings/mapping/edit", "/settings/mapping/preview"):
        response = client.post(path, data={**form_of({"job_title": "city"}), "op": "add_custom",
                                           "preview_user": SOME_ID}, headers=hx(token))
        assert response.status_code == 404, path
    assert client.get("/settings/mapping/users?user_search=a").status_code == 404
    assert stored_mapping(db, connection)["job_title"] == "jobTitle"
