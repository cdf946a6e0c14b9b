"""The admins page (add, remove) and changing one's own password, scoped to the organisation."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal import admins
from portal.models import Admin, AuditEvent
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, AuthActions, read_csrf_token

NEW = {"email": "lin@acme.example", "name": "Lin", "password": "lin's long passphrase",
       "password_confirm": "lin's long passphrase"}


def _add(client, **changes):
    return client.post("/admins", data={**NEW, **changes, "csrf_token": read_csrf_token(client, "/admins")})


def test_the_page_lists_only_this_organisations_admins(signed_in, other_org_admin):
    page = signed_in.get("/admins").get_data(as_text=True)
    assert ADMIN_EMAIL in page and "(you)" in page
    assert other_org_admin.email not in page
    assert '<label for="email">Email</label>' in page and ">Add admin</button>" in page


def test_adding_an_admin_lets_them_sign_in_and_is_audited(signed_in, app, db, org):
    response = _add(signed_in)
    assert response.status_code == 303
    page = signed_in.get("/admins").get_data(as_text=True)
    assert "Added lin@acme.example." in page and "<td>lin@acme.example" in page
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "admin_created",
                                             AuditEvent.actor == ADMIN_EMAIL)).one()
    assert event.organization_id == org.id
    other = AuthActions(app.test_client())
    assert other.sign_in(email="lin@acme.example", password=NEW["password"]).status_code == 303


@pytest.mark.parametrize("changes, field, message", [
    ({"email": "lin"}, "email", "is not an e-mail address"),
    ({"email": ADMIN_EMAIL}, "email", "already exists"),
    ({"password": "short", "password_confirm": "short"}, "password", "at least 12 characters"),
    ({"password_confirm": "not the same at all"}, "password_confirm", "not the same"),
])
def test_adding_shows_problems_beside_their_field(signed_in, db, changes, field, message):
    response = _add(signed_in, **changes)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error"' in page and message in page
    assert db.exec(select(Admin).where(Admin.email == "lin@acme.example")).first() is None


def test_removing_another_admin(signed_in, db, org):
    lin_id = admins.create_admin(db, org, NEW["email"], NEW["password"], actor="test").id
    db.commit()
    token = read_csrf_token(signed_in, "/admins")
    response = signed_in.post(f"/admins/{lin_id}/remove", data={"csrf_token": token})
    assert response.status_code == 303
    assert "Removed lin@acme.example." in signed_in.get("/admins").get_data(as_text=True)
    db.expire_all()
    assert db.get(Admin, lin_id) is None
    assert ("admin_removed", ADMIN_EMAIL) in db.exec(select(AuditEvent.action, AuditEvent.actor)).all()


def test_an_admin_cannot_remove_themselves(signed_in, db, org, admin):
    admins.create_admin(db, org, NEW["email"], NEW["password"], actor="test")
    db.commit()
    token = read_csrf_token(signed_in, "/admins")
    signed_in.post(f"/admins/{admin.id}/remove", data={"csrf_token": token})
    assert "You cannot remove your own account." in signed_in.get("/admins").get_data(as_text=True)
    db.expire_all()
    assert db.get(Admin, admin.id) is not None


def test_another_organisations_admin_is_a_404(signed_in, db, other_org_admin):
    token = read_csrf_token(signed_in, "/admins")
    for admin_id in (other_org_admin.id, 999_999):
        assert signed_in.post(f"/admins/{admin_id}/remove", data={"csrf_token": token}).status_code == 404
    db.expire_all()
    assert db.get(Admin, other_org_admin.id) is not None


def test_changing_ones_password_keeps_this_session_and_ends_others(signed_in, app, db, admin):
    elsewhere = app.test_client()
    AuthActions(elsewhere).sign_in()
    token = read_csrf_token(signed_in, "/account/password")
    response = signed_in.post("/account/password", data={
        "current_password": ADMIN_PASSWORD, "new_password": "my brand new passphrase",
        "new_password_confirm": "my brand new passphrase", "csrf_token": token})
    assert response.status_code == 303
    assert "Your password is changed." in signed_in.get("/").get_data(as_text=True)
    assert elsewhere.get("/").status_code == 302
    db.expire_all()
    assert admins.authenticate(db, ADMIN_EMAIL, "my brand new passphrase") is not None
    assert ("password_changed", ADMIN_EMAIL) in db.exec(select(AuditEvent.action, AuditEvent.actor)).all()


def test_changing_the_password_needs_the_current_one(signed_in, db):
    token = read_csrf_token(signed_in, "/account/password")
    response = signed_in.post("/account/password", data={
        "current_password": "a guess at the password", "new_password": "my brand new passphrase",
        "new_password_confirm": "my brand new passphrase", "csrf_token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="current_password-error"' in page and "This is not your current password." in page
    db.expire_all()
    assert admins.authenticate(db, ADMIN_EMAIL, ADMIN_PASSWORD) is not None
