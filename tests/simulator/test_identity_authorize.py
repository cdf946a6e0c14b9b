"""/authorize, the sign-in and consent page, and admin consent, driven over HTTPS like a browser."""

from __future__ import annotations

import html
from urllib.parse import urlencode, urlsplit

import pytest

from tests.simulator.entra_helpers import authorize_url, hidden_value, redirect_params


def test_consent_page_lists_permissions_in_microsofts_words(sim_server, sim_http):
    page = sim_http.get(authorize_url(sim_server))
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    text = html.unescape(page.text)
    for line in ("Read all users' full profiles", "Read all groups", "Sign you in", "View your basic profile",
                 "Maintain access to data you have given it access to", "Permissions requested"):
        assert f"{line}" in text
    assert 'value="accept"' in page.text and 'value="cancel"' in page.text
    assert sim_server.sim.settings.admin_upn in page.text


def test_accept_redirects_with_code_state_and_client_info(sim_server, consent):
    params = consent(authorize_url(sim_server, client_info="1"))
    assert set(params) == {"code", "state", "client_info", "session_state"}
    assert params["state"] == "st-123"


def test_cancel_redirects_access_denied(sim_server, consent):
    params = consent(authorize_url(sim_server), action="cancel")
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("AADSTS65004: User declined to consent")
    assert params["state"] == "st-123"
    assert "code" not in params


def test_wrong_password_shows_the_page_again_then_accepts(sim_server, sim_http):
    settings = sim_server.sim.settings
    page = sim_http.get(authorize_url(sim_server))
    ctx = hidden_value(page.text, "ctx")
    login_url = f"{sim_server.authority}/login"
    wrong = sim_http.post(login_url, data={"ctx": ctx, "login": settings.admin_upn, "passwd": "bad",
                                           "action": "accept"}, allow_redirects=False)
    assert wrong.status_code == 200
    assert "Your account or password is incorrect" in html.unescape(wrong.text)
    right = sim_http.post(login_url, data={"ctx": ctx, "login": settings.admin_upn,
                                           "passwd": settings.admin_password, "action": "accept"},
                          allow_redirects=False)
    assert "code" in redirect_params(right)


def test_a_sign_in_page_is_good_for_one_answer(sim_server, sim_http, consent):
    page = sim_http.get(authorize_url(sim_server))
    settings = sim_server.sim.settings
    form = {"ctx": hidden_value(page.text, "ctx"), "login": settings.admin_upn,
            "passwd": settings.admin_password, "action": "accept"}
    first = sim_http.post(f"{sim_server.authority}/login", data=form, allow_redirects=False)
    again = sim_http.post(f"{sim_server.authority}/login", data=form, allow_redirects=False)
    assert first.status_code == 302
    assert again.status_code == 400


@pytest.mark.parametrize("mode", ["fragment", "form_post"])
def test_response_modes(sim_server, consent, mode):
    params = consent(authorize_url(sim_server, response_mode=mode))
    assert params["state"] == "st-123" and params["code"]


def test_form_post_page_posts_to_the_redirect_uri(sim_server, sim_http):
    settings = sim_server.sim.settings
    page = sim_http.get(authorize_url(sim_server, response_mode="form_post"))
    answer = sim_http.post(f"{sim_server.authority}/login", data={
        "ctx": hidden_value(page.text, "ctx"), "login": settings.admin_upn,
        "passwd": settings.admin_password, "action": "accept"})
    assert f'action="{settings.redirect_uris[0]}"' in answer.text
    assert 'method="post"' in answer.text


def test_loopback_redirect_uris_match_on_any_port(sim_server, consent):
    other_port = "http://127.0.0.1:61234/connect/callback"
    page_params = consent(authorize_url(sim_server, redirect_uri=other_port))
    assert page_params["code"]


@pytest.mark.parametrize("change, code", [
    ({"client_id": "11111111-2222-3333-4444-555555555555"}, 700016),
    ({"redirect_uri": "https://evil.example/callback"}, 50011),
    ({"redirect_uri": "http://127.0.0.1:5000/connect/other"}, 50011),
    ({"redirect_uri": None}, 900144),
])
def test_untrusted_requests_get_an_error_page_not_a_redirect(sim_server, sim_http, change, code):
    answer = sim_http.get(authorize_url(sim_server, **change), allow_redirects=False)
    assert answer.status_code == 400
    assert f"AADSTS{code}" in answer.text
    assert "Location" not in answer.headers


def test_unknown_tenant_gets_an_error_page(sim_server, sim_http):
    answer = sim_http.get(authorize_url(sim_server, tenant="fabrikam.example"), allow_redirects=False)
    assert answer.status_code == 400 and "AADSTS90002" in answer.text


@pytest.mark.parametrize("change, error", [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "https://graph.microsoft.com/Nonexistent.Permission"}, "invalid_scope"),
    ({"scope": "https://foo.example.com/read"}, "invalid_scope"),
    ({"scope": None}, "invalid_request"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "S512"}, "invalid_request"),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ({"prompt": "none"}, "login_required"),
])
def test_bad_requests_redirect_back_with_an_error(sim_server, sim_http, change, error):
    answer = sim_http.get(authorize_url(sim_server, **change), allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(sim_server.sim.settings.redirect_uris[0] + "?")
    params = redirect_params(answer)
    assert params["error"] == error
    assert params["error_description"].startswith("AADSTS")
    assert params["state"] == "st-123"


@pytest.mark.parametrize("tenant_kind", ["common", "organizations", "domain"])
def test_authorize_accepts_tenant_aliases(sim_server, sim_http, tenant_kind):
    tenant = sim_server.sim.settings.tenant_domain if tenant_kind == "domain" else tenant_kind
    assert sim_http.get(authorize_url(sim_server, tenant=tenant)).status_code == 200


# -- admin consent -----------------------------------------------------------------------


def admin_consent_url(sim_server, v2: bool, tenant: str | None = None, **params) -> str:
    settings = sim_server.sim.settings
    query = {"client_id": settings.client_id, "redirect_uri": settings.redirect_uris[0], "state": "12345",
             **({"scope": "https://graph.microsoft.com/.default"} if v2 else {}), **params}
    path = "v2.0/adminconsent" if v2 else "adminconsent"
    return f"{sim_server.base_url}/{tenant or settings.tenant_id}/{path}?{urlencode(query)}"


def test_admin_consent_v1_records_consent(sim_server, sim_http, consent, sim_settings):
    sim_server.sim.tokens.admin_consent = False
    page = sim_http.get(admin_consent_url(sim_server, v2=False))
    text = html.unescape(page.text)
    assert "Read all users' full profiles" in text and "Read all groups" in text
    assert "Accept for your organization" in text
    params = consent(admin_consent_url(sim_server, v2=False))
    assert params == {"admin_consent": "True", "tenant": sim_settings.tenant_id, "state": "12345"}
    assert sim_server.sim.tokens.admin_consent is True


def test_admin_consent_v2_echoes_scope(sim_server, consent, sim_settings):
    sim_server.sim.tokens.admin_consent = False
    params = consent(admin_consent_url(sim_server, v2=True))
    assert params == {"admin_consent": "True", "tenant": sim_settings.tenant_id,
                      "scope": "https://graph.microsoft.com/.default", "state": "12345"}
    assert sim_server.sim.tokens.admin_consent is True


def test_admin_consent_cancel(sim_server, consent, sim_settings):
    sim_server.sim.tokens.admin_consent = False
    v1 = consent(admin_consent_url(sim_server, v2=False), action="cancel")
    assert v1 == {"error": "permission_denied", "error_description": "The admin canceled the request",
                  "state": "12345"}
    v2 = consent(admin_consent_url(sim_server, v2=True), action="cancel")
    assert v2["admin_consent"] == "True" and v2["error"] == "consent_required"
    assert v2["error_description"].startswith("AADSTS65004")
    assert sim_server.sim.tokens.admin_consent is False


@pytest.mark.parametrize("v2", [False, True])
def test_admin_consent_refuses_common(sim_server, sim_http, v2):
    answer = sim_http.get(admin_consent_url(sim_server, v2=v2, tenant="common"), allow_redirects=False)
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_admin_consent_v2_requires_scope(sim_server, sim_http):
    answer = sim_http.get(admin_consent_url(sim_server, v2=True, scope=""), allow_redirects=False)
    assert answer.status_code == 302
    assert redirect_params(answer)["error"] == "invalid_request"
    assert urlsplit(answer.headers["Location"]).path == "/connect/callback"
