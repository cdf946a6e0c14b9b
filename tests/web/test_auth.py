"""Signing in and out: the form, wrong passwords, where the admin lands, and sessions that end."""

from __future__ import annotations


from tests.web.conftest import ADMIN_EMAIL


def test_signin_page_has_the_labelled_form(client, admin):
    page = client.get("/signin").get_data(as_text=True)
    assert '<label for="email">Email</label>' in page
    assert '<label for="password">Password</label>' in page
    assert ">Sign in</button>" in page


def test_signing_in_lands_on_the_dashboard(auth, client):
    response = auth.sign_in()
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "<h1>Dashboard</h1>" in page
    assert ADMIN_EMAIL in page


def test_the_address_is_matched_whatever_its_case_and_spaces(auth):
    assert auth.sign_in(email="  ADA@Acme.Example ").status_code == 303
