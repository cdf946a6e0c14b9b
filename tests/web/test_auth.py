"""Signing in and out: the form, wrong passwords, where the admin lands, and sessions that end."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from portal import admins
from portal.models import AuditEvent
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, hx, read_csrf_token, sample_urls


def _signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_signin_page_has_the_labelled_form(client, admin):
    page = client.get("/signin").get_data(as_text=True)
    assert '<label for="email">Email</label>' in page
    assert '<label for="password">Password</label>' in page
    assert 'type="password"' in page and 'autocomplete="current-password"' in page
    assert ">Sign in</button>" in page


def test_signing_in_lands_on_the_dashboard_and_is_audited(auth, client, db):
    response = auth.sign_in()
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "<h1>Dashboard</h1>" in page
    assert ADMIN_EMAIL in page
    events = db.exec(select(AuditEvent.action, AuditEvent.actor)).all()
    assert ("signed_in", ADMIN_EMAIL) in events


def test_the_address_is_matched_whatever_its_case_and_spaces(auth):
    assert auth.sign_in(email="  ADA@Acme.Example ").status_code == 303


@pytest.mark.parametrize("email, password", [
    (ADMIN_EMAIL, "wrong password, long enough"),
    ("nobody@acme.example", ADMIN_PASSWORD),
    ("not an address", ADMIN_PASSWORD),
    (ADMIN_EMAIL, ""),
])
def test_wrong_credentials_say_so_without_telling_which(auth, client, email, password):
    response = auth.sign_in(email=email, password=password)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The email or password is not right." in page
    assert 'role="alert"' in page
    assert not _signed_in(client)


def test_a_failed_signin_keeps_the_address_typed(auth):
    page = auth.sign_in(password="wrong password, long enough").get_data(as_text=True)
    assert f'value="{ADMIN_EMAIL}"' in page


def test_next_brings_the_admin_back_where_they_were(auth, client):
    response = client.get("/audit/?before=7")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/signin"
    assert parse_qs(location.query)["next"] == ["/audit/?before=7"]
    signin_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/audit/?before=7"' in signin_page
    assert auth.sign_in(next="/audit/?before=7").headers["Location"] == "/audit/?before=7"


@pytest.mark.parametrize("target", [
    "https://evil.example/phish",
    "//evil.example/phish",
    "/\\evil.example/phish",
    "\\\\evil.example",
    "javascript:alert(1)",
    "http:/evil.example",
    "audit",
    "/%0d%0aSet-Cookie:x=y",
])
def test_next_never_leaves_the_portal(auth, target):
    response = auth.sign_in(next=target)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location == "/" or (location.startswith("/") and not location.startswith("//")
                                and "evil" not in location and "\n" not in location), location


def test_a_signed_in_admin_visiting_signin_goes_to_the_dashboard(signed_in):
    assert signed_in.get("/signin").headers["Location"] == "/"


def test_signing_out_ends_the_session(auth, client):
    auth.sign_in()
    response = auth.sign_out()
    assert response.status_code == 303
    assert response.headers["Location"] == "/signin"
    assert "You are signed out." in client.get("/signin").get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_signing_out_needs_the_csrf_token_and_a_post(signed_in):
    assert signed_in.post("/signout").status_code == 400
    assert signed_in.get("/signout").status_code == 405
    assert _signed_in(signed_in)


def test_signing_in_starts_a_fresh_session(auth, client):
    before = read_csrf_token(client, "/signin")
    auth.sign_in()
    after = read_csrf_token(client, "/")
    assert before != after
    # The old page's token is refused once signed in: a session fixed before sign-in is worthless.
    assert client.post("/signout", data={"csrf_token": before}).status_code == 400


def test_a_new_password_ends_sessions_signed_in_with_the_old_one(signed_in, db, admin):
    admins.change_password(db, db.get(type(admin), admin.id), "a brand new passphrase", actor="test")
    db.commit()
    assert signed_in.get("/").status_code == 302


def test_a_removed_admin_is_signed_out(signed_in, db, org, admin):
    admins.create_admin(db, org, "second@acme.example", "second admin passphrase", actor="test")
    admins.remove_admin(db, ADMIN_EMAIL, actor="test")
    db.commit()
    assert signed_in.get("/").status_code == 302


def test_an_expired_session_during_an_htmx_request_moves_the_whole_page_to_signin(client, admin):
    response = client.get("/audit/", headers=hx(current_url="http://localhost/audit/?before=12"))
    assert response.status_code == 401
    assert response.get_data(as_text=True) == ""  # never a sign-in form inside a fragment
    location = urlsplit(response.headers["HX-Redirect"])
    assert location.path == "/signin"
    assert parse_qs(location.query)["next"] == ["/audit/?before=12"]


def test_an_expired_session_during_an_htmx_post_also_moves_to_signin(client, admin):
    # The token went with the session, so CSRF fails first: the admin still needs sign-in, not an error.
    response = client.post("/signout", headers=hx(token="from-the-old-session", current_url="http://localhost/audit/"))
    assert response.status_code == 401
    assert parse_qs(urlsplit(response.headers["HX-Redirect"]).query)["next"] == ["/audit/"]


def test_a_form_posted_after_the_session_expired_goes_to_signin(client, admin):
    response = client.post("/signout", data={"csrf_token": "from-the-old-session"})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/signin"


def test_an_htmx_request_from_a_foreign_url_comes_back_to_a_local_path_only(client, admin):
    response = client.get("/", headers=hx(current_url="https://evil.example//phish"))
    next_values = parse_qs(urlsplit(response.headers["HX-Redirect"]).query).get("next", [])
    assert all(v.startswith("/") and not v.startswith("//") for v in next_values)


def test_every_page_needs_a_signed_in_admin(app, client, admin):
    checked = []
    own_checks = {"api.signature", "api.me_signature", "api.openapi", "photos.serve",  # tokens, or public by design
                  "addin.manifest_xml", "addin.commands", "addin.taskpane", "addin.launchevent",
                  "outlook_addin.allowed"}
    for endpoint, url in sample_urls(app, "GET", skip={"auth.signin", "auth.setup", "health.healthz", "static",
                                                     *own_checks}):
        response = client.get(url)
        assert response.status_code == 302, (endpoint, url, response.status_code)
        assert urlsplit(response.headers["Location"]).path == "/signin"
        checked.append(endpoint)
    assert {"dashboard.index", "audit.index"} <= set(checked)
