"""Error pages say what happened and what to do: a full page, or a fragment for htmx's status region."""

from __future__ import annotations

import logging

import pytest
from flask import abort

from tests.web.conftest import hx, read_csrf_token, sample_urls


@pytest.fixture
def failing_app(app):
    """The app with two routes that fail on purpose, to reach the 403 and 500 handlers."""
    app.add_url_rule("/_test/forbidden", "forbidden", lambda: abort(403))

    def explode():
        raise RuntimeError("boom")

    app.add_url_rule("/_test/explode", "explode", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def test_unknown_page_is_a_404_page_in_the_layout(signed_in):
    response = signed_in.get("/no/such/page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "<h1 id=\"error-title\">Page not found</h1>" in page
    assert "start again from the dashboard" in page
    assert '<nav aria-label="Main"' in page
    assert "Go to the dashboard" in page


def test_unknown_page_for_htmx_is_a_fragment_for_the_status_region(signed_in):
    response = signed_in.get("/no/such/page", headers=hx())
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "<html" not in body
    assert 'id="error-message"' in body and "Page not found" in body
    assert response.headers["HX-Retarget"] == "#status"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert "HX-Request" in response.headers["Vary"]


def test_anonymous_unknown_page_is_a_404_with_a_way_to_sign_in(client, admin):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Go to sign-in" in response.get_data(as_text=True)


def test_forbidden_page(failing_app, signed_in):
    response = signed_in.get("/_test/forbidden")
    assert response.status_code == 403
    assert "Not allowed" in response.get_data(as_text=True)
    fragment = signed_in.get("/_test/forbidden", headers=hx())
    assert fragment.status_code == 403 and "<html" not in fragment.get_data(as_text=True)
    assert "ask another admin" in fragment.get_data(as_text=True)


def test_a_crash_is_logged_and_shown_as_a_500_page(failing_app, signed_in, caplog):
    with caplog.at_level(logging.ERROR, logger="portal.views.errors"):
        response = signed_in.get("/_test/explode")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert "boom" not in page  # no internals shown to the admin
    assert any("boom" in record.getMessage() for record in caplog.records)
    fragment = signed_in.get("/_test/explode", headers=hx())
    assert fragment.status_code == 500 and fragment.headers["HX-Retarget"] == "#status"


def test_a_form_sent_without_its_token_is_refused_with_words_to_act_on(signed_in):
    response = signed_in.post("/signout")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This form has expired" in page
    assert "Reload the page and send the form again." in page


def test_an_htmx_request_with_a_stale_token_gets_a_status_fragment(signed_in):
    response = signed_in.post("/signout", headers=hx(token="stale-token"))
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#status"
    assert "This form has expired" in response.get_data(as_text=True)


def test_htmx_sends_the_csrf_token_as_a_header(signed_in):
    token = read_csrf_token(signed_in, "/")
    page = signed_in.get("/").get_data(as_text=True)
    assert f'hx-headers=\'{{"X-CSRFToken": "{token}"}}\'' in page
    response = signed_in.post("/signout", headers=hx(token=token))
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/signin"


def test_every_state_changing_request_without_a_token_is_refused(app, signed_in):
    # Views exempted on purpose (an API authenticated by bearer tokens, say) carry no CSRF token.
    exempt = app.extensions["csrf"]._exempt_views
    exempt_blueprints = app.extensions["csrf"]._exempt_blueprints
    checked = []
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for endpoint, url in sample_urls(app, method):
            view = app.view_functions[endpoint]
            if f"{view.__module__}.{view.__name__}" in exempt or endpoint.split(".")[0] in exempt_blueprints:
                continue
            response = signed_in.open(url, method=method, data={"anything": "1"})
            assert response.status_code == 400, (method, endpoint, response.status_code)
            assert "This form has expired" in response.get_data(as_text=True)
            checked.append(endpoint)
    assert {"auth.signin", "auth.signout", "auth.setup"} <= set(checked)


def test_a_wrong_method_is_a_405_page(signed_in):
    response = signed_in.get("/signout")
    assert response.status_code == 405
    assert "Not possible here" in response.get_data(as_text=True)
    assert "POST" in response.headers["Allow"]
