"""Settings: step 2's basic settings with inline validation, pausing the whole sync, links to the other steps."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from portal import connections
from portal.db import get_engine
from portal.models import AuditEvent, Connection
from portal.views.settings import SETTINGS
from tests.web.conftest import OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD, AuthActions, hx, read_csrf_token

TENANT = "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
VALID = {
    "import_new_users": "on", "overwrite_manual": "on", "empty_values": "clear", "department_sync": "on_create",
    "photos": "on", "include_guests": "on", "removal": "delete", "removal_threshold_count": "25",
    "removal_threshold_percent": "7.5", "sync_time": "22:15", "timezone": "America/New_York",
}  # include_disabled and auto_sync unchecked: absent from the form


@pytest.fixture
def connection(config, db, org) -> Connection:
    return connections.connect_delegated(get_engine(config.database_url), org, TENANT, b"cache", "it@acme.example")


def saved(db, connection) -> dict:
    db.expire_all()
    return db.get(Connection, connection.id).settings


def audit_events(db, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def post(client, path: str = "/settings/", headers: dict | None = None, **data: str):
    token = read_csrf_token(client, "/settings/")
    return client.post(path, data={"csrf_token": token, **data}, headers=headers or {})


# --- the page -----------------------------------------------------------------------------------------


def test_every_setting_has_a_labelled_control_a_one_line_hint_and_its_saved_value(signed_in, connection):
    response = signed_in.get("/settings/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h2 id=\"basic-title\">Step 2 — Basic settings</h2>" in page
    for setting in SETTINGS:
        assert f'<label for="{setting.name}">' in page, setting.name
        assert f'id="{setting.name}-hint"' in page and f'aria-describedby="{setting.name}-hint"' in page
    # Defaults of a new connection, in the organisation's time zone.
    assert re.search(r'id="import_new_users" name="import_new_users" type="checkbox" value="on" checked', page)
    assert re.search(r'id="photos" name="photos" type="checkbox" value="on"(?! checked)', page)
    assert '<option value="deactivate" selected>' in page
    assert 'id="sync_time" name="sync_time" type="time" value="03:00"' in page
    assert '<option value="Europe/Berlin" selected>Europe/Berlin</option>' in page
    assert 'id="removal_threshold_count" name="removal_threshold_count" type="number" value="50"' in page
    assert '<button type="submit" class="button button-primary" id="save-settings">Save settings</button>' in page
    assert "Pause sync for everyone" in page and 'href="/connect/disconnect"' in page


def test_settings_is_the_main_navigation_target(signed_in, connection):
    page = signed_in.get("/settings/").get_data(as_text=True)
    assert '<li><a href="/settings/" aria-current="page">Settings</a></li>' in page


def test_links_to_data_mapping_and_rules_when_those_pages_exist(app, signed_in, connection):
    page = signed_in.get("/settings/").get_data(as_text=True)
    for endpoint, text in (("mapping.index", "Data mapping"), ("rules.index", "Import and department rules")):
        if endpoint in app.view_functions:
            with app.test_request_context():
                from flask import url_for
                assert f'<a href="{url_for(endpoint)}">{text}</a>' in page
        else:
            assert f">{text}</a>" not in page and text in page


def test_without_a_connection_the_page_sends_the_admin_to_step_1(signed_in, db, org):
    page = signed_in.get("/settings/").get_data(as_text=True)
    assert "Microsoft 365 is not connected" in page and 'href="/connect/"' in page
    assert 'id="settings-form"' not in page
    response = post(signed_in, **VALID)
    assert response.status_code == 303 and response.headers["Location"].endswith("/connect/")
    assert "Connect it first" in signed_in.get("/connect/").get_data(as_text=True)
    assert audit_events(db, "settings_changed") == []


# --- saving ---------------------------------------------------------------------------------------------


def test_saving_stores_every_setting_and_announces_it(signed_in, db, admin, connection):
    response = post(signed_in, **VALID)
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings/")
    assert saved(db, connection) == {
        "import_new_users": True, "overwrite_manual": True, "empty_values": "clear", "department_sync": "on_create",
        "photos": True, "include_disabled": False, "include_guests": True, "removal": "delete",
        "removal_threshold": {"count": 25, "percent": 7.5}, "auto_sync": False, "sync_time": "22:15",
        "timezone": "America/New_York",
    }
    [event] = audit_events(db, "settings_changed")
    assert event.actor == admin.email
    page = signed_in.get("/settings/").get_data(as_text=True)
    assert "Settings saved." in page and 'role="status" aria-live="polite"' in page
    assert 'id="sync_time" name="sync_time" type="time" value="22:15"' in page
    assert '<option value="America/New_York" selected>' in page


def test_saving_with_htmx_swaps_the_form_and_announces_in_the_status_region(signed_in, db, connection):
    token = read_csrf_token(signed_in, "/settings/")
    response = signed_in.post("/settings/", data=VALID, headers=hx(token))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.startswith('<form id="settings-form"') and "<html" not in body
    assert 'id="status"' in body and 'hx-swap-oob="true"' in body and "Settings saved." in body
    assert saved(db, connection)["removal"] == "delete"


BAD = {**VALID, "removal_threshold_count": "-3", "removal_threshold_percent": "150", "sync_time": "25:00",
       "timezone": "Mars/Olympus_Mons", "removal": "shred"}


def test_bad_input_shows_every_problem_beside_its_control_and_keeps_what_was_typed(signed_in, db, connection):
    before = saved(db, connection)
    response = post(signed_in, **BAD)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for name in ("removal_threshold_count", "removal_threshold_percent", "sync_time", "timezone", "removal"):
        assert f'id="{name}-error"' in page, name
        assert re.search(rf'id="{name}"[^>]*aria-describedby="{name}-hint {name}-error" aria-invalid="true"', page)
    assert 'class="notice notice-error errors-summary" role="alert"' in page
    assert 'href="#sync_time">Time of the daily sync: ' in page
    assert 'value="-3"' in page and 'value="25:00"' in page  # nothing typed is lost
    assert "Nothing was saved: 5 settings to correct" in page
    assert saved(db, connection) == before
    assert audit_events(db, "settings_changed") == []


def test_bad_input_with_htmx_comes_back_as_a_200_fragment_with_the_problems(signed_in, db, connection):
    token = read_csrf_token(signed_in, "/settings/")
    response = signed_in.post("/settings/", data={**VALID, "sync_time": "7 o'clock"}, headers=hx(token))
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.startswith('<form id="settings-form"')
    assert 'id="sync_time-error"' in body and "HH:MM" in body
    assert "Nothing was saved: one setting to correct, shown beside it." in body
    assert saved(db, connection).get("sync_time") == "03:00"


def test_a_number_that_is_not_one_is_named(signed_in, db, connection):
    page = post(signed_in, **{**VALID, "removal_threshold_count": "many"}).get_data(as_text=True)
    assert 'id="removal_threshold_count-error"' in page and "whole number" in page


# --- pausing the whole sync -------------------------------------------------------------------------------


def test_pause_and_resume_the_sync_for_everyone(signed_in, db, admin, connection):
    response = post(signed_in, "/settings/pause")
    assert response.status_code == 303
    assert db.get(Connection, connection.id).state == "paused"
    page = signed_in.get("/settings/").get_data(as_text=True)
    assert "The sync is paused for everyone." in page and ">Resume sync</button>" in page
    assert ">Pause sync for everyone</button>" not in page
    [event] = audit_events(db, "sync_paused")
    assert event.actor == admin.email

    # A second click from a stale page changes nothing and says why.
    again = post(signed_in, "/settings/pause")
    assert again.status_code == 303
    assert "The sync is already paused." in signed_in.get("/settings/").get_data(as_text=True)
    assert len(audit_events(db, "sync_paused")) == 1

    assert post(signed_in, "/settings/resume").status_code == 303
    db.expire_all()
    assert db.get(Connection, connection.id).state == "active"
    assert len(audit_events(db, "sync_resumed")) == 1
    assert "The sync is resumed." in signed_in.get("/settings/").get_data(as_text=True)


def test_a_connection_that_needs_consent_cannot_be_paused(signed_in, db, connection):
    row = db.get(Connection, connection.id)
    row.state = "needs_consent"
    db.add(row)
    db.commit()
    post(signed_in, "/settings/pause")
    page = signed_in.get("/settings/").get_data(as_text=True)
    assert "The connection is needs consent; only a connected tenant&#39;s sync can be paused." in page
    assert "Reconnect" in page
    db.expire_all()
    assert db.get(Connection, connection.id).state == "needs_consent" and audit_events(db, "sync_paused") == []


# --- who may -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/settings/", "/settings/pause", "/settings/resume"])
def test_every_post_needs_the_csrf_token(signed_in, db, connection, path):
    response = signed_in.post(path, data=VALID)
    assert response.status_code == 400 and "This form has expired" in response.get_data(as_text=True)
    assert db.get(Connection, connection.id).state == "active"
    assert saved(db, connection)["removal"] == "deactivate"


def test_anonymous_visitors_are_sent_to_sign_in(client, admin, db, connection):
    assert "/signin" in client.get("/settings/").headers["Location"]
    token = read_csrf_token(client, "/signin")
    for path in ("/settings/", "/settings/pause", "/settings/resume"):
        response = client.post(path, data={"csrf_token": token, **VALID})
        assert response.status_code == 302 and "/signin" in response.headers["Location"]
    assert db.get(Connection, connection.id).state == "active"


def test_another_organisations_admin_never_sees_or_changes_this_connection(app, db, connection, other_org_admin):
    other = app.test_client()
    AuthActions(other).sign_in(OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD)
    page = other.get("/settings/").get_data(as_text=True)
    assert TENANT not in page and "Microsoft 365 is not connected" in page
    for path in ("/settings/", "/settings/pause"):
        response = post(other, path, **VALID)
        assert response.status_code == 303 and response.headers["Location"].endswith("/connect/")
    db.expire_all()
    assert db.get(Connection, connection.id).state == "active"
    assert saved(db, connection)["removal"] == "deactivate"
