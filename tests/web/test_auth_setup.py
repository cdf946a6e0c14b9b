"""First run: with no organisation, /setup creates it and its first admin, then it is gone."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal.models import Admin, AuditEvent, Organization
from tests.web.conftest import read_csrf_token

GOOD = {
    "org_name": "Contoso Ltd",
    "slug": "contoso",
    "timezone": "Europe/Berlin",
    "name": "Megan Bowen",
    "email": "Megan@Contoso.example",
    "password": "a long first passphrase",
    "password_confirm": "a long first passphrase",
}


def _post(client, **changes):
    data = {**GOOD, **changes, "csrf_token": read_csrf_token(client, "/setup")}
    return client.post("/setup", data=data)


def test_a_fresh_install_sends_visitors_to_setup(client, clean_db):
    response = client.get("/", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.request.path == "/setup"
    assert "Set up Sigsync" in page
    for label in ("Organisation name", "Short name", "Time zone", "Your name", "Email", "Password", "Repeat password"):
        assert f">{label}</label>" in page


def test_setup_creates_the_organisation_and_admin_and_signs_in(client, db):
    response = _post(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Contoso Ltd is ready" in page
    assert "megan@contoso.example" in page
    org = db.exec(select(Organization)).one()
    assert (org.slug, org.name, org.timezone, org.seats) == ("contoso", "Contoso Ltd", "Europe/Berlin", None)
    admin = db.exec(select(Admin)).one()
    assert (admin.email, admin.name, admin.organization_id) == ("megan@contoso.example", "Megan Bowen", org.id)
    assert admin.password_hash.startswith("scrypt:")
    actions = set(db.exec(select(AuditEvent.action).where(AuditEvent.organization_id == org.id)))
    assert {"organization_created", "admin_created"} <= actions


@pytest.mark.parametrize("changes, field, message", [
    ({"org_name": "  "}, "org_name", "Enter your organisation"),
    ({"slug": "Contoso Ltd"}, "slug", "Invalid slug"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone"),
    ({"email": "megan"}, "email", "is not an e-mail address"),
    ({"password": "short", "password_confirm": "short"}, "password", "at least 12 characters"),
    ({"password_confirm": "something else entirely"}, "password_confirm", "not the same"),
])
def test_setup_shows_each_problem_beside_its_field_and_creates_nothing(client, db, changes, field, message):
    response = _post(client, **changes)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page and message in page
    assert f'aria-describedby="{field}-hint {field}-error"' in page or f'aria-describedby="{field}-error"' in page
    assert 'aria-invalid="true"' in page
    assert db.exec(select(Organization)).first() is None
    assert client.get("/").status_code == 302  # not signed in


def test_setup_keeps_what_was_typed_except_passwords(client):
    page = _post(client, slug="BAD SLUG").get_data(as_text=True)
    assert 'value="Contoso Ltd"' in page
    assert 'value="BAD SLUG"' in page
    assert GOOD["password"] not in page


def test_setup_is_gone_once_an_organisation_exists(client, org):
    assert client.get("/setup").status_code == 404
    token = read_csrf_token(client, "/signin")
    assert client.post("/setup", data={**GOOD, "csrf_token": token}).status_code == 404


def test_setup_needs_the_csrf_token(client, db):
    response = client.post("/setup", data=GOOD)
    assert response.status_code == 400
    assert db.exec(select(Organization)).first() is None
