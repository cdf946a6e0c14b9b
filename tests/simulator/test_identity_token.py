"""The token endpoint over HTTPS with plain requests: client credentials, client auth and error bodies."""

from __future__ import annotations

import pytest

from simulator.tokens import GRAPH_APP_ID, decode_jwt_claims
from tests.simulator.entra_helpers import assert_aadsts
from tests.simulator.samples import sample, shape

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


@pytest.fixture
def token_url(sim_server) -> str:
    return f"{sim_server.authority}/oauth2/v2.0/token"


def client_credentials(sim_http, url, settings, **changes):
    form = {"client_id": settings.client_id, "client_secret": settings.client_secret,
            "grant_type": "client_credentials", "scope": GRAPH_DEFAULT, **changes}
    return sim_http.post(url, data={k: v for k, v in form.items() if v is not None})


def test_client_credentials_answers_like_the_recorded_response(sim_server, sim_http, token_url):
    answer = client_credentials(sim_http, token_url, sim_server.sim.settings)
    assert answer.status_code == 200
    body = answer.json()
    assert shape(body) == shape(sample("token-response-client-credentials-recorded.json"))
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == body["ext_expires_in"] == sim_server.sim.settings.access_token_lifetime
    assert "refresh_token" not in body and "scope" not in body
    assert answer.headers["Cache-Control"] == "no-store, no-cache"
    assert answer.headers["Pragma"] == "no-cache"


def test_app_token_looks_real_and_is_known_to_the_store(sim_server, sim_http, token_url):
    settings = sim_server.sim.settings
    token = client_credentials(sim_http, token_url, settings).json()["access_token"]
    claims = decode_jwt_claims(token)
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == settings.tenant_id
    assert claims["appid"] == settings.client_id
    assert claims["roles"] == ["Group.Read.All", "User.Read.All"]
    assert claims["idtyp"] == "app"
    grant = sim_server.sim.tokens.grant_for(token)
    assert grant.kind == "app"
    assert grant.permissions == {"User.Read.All", "Group.Read.All"}
    assert grant.expires_at == pytest.approx(claims["exp"], abs=1)
    assert not grant.expired()


def test_http_basic_client_authentication(sim_server, sim_http, token_url):
    settings = sim_server.sim.settings
    answer = sim_http.post(token_url, auth=(settings.client_id, settings.client_secret),
                           data={"grant_type": "client_credentials", "scope": GRAPH_DEFAULT})
    assert answer.status_code == 200


@pytest.mark.parametrize("scope", [GRAPH_DEFAULT, f"{GRAPH_APP_ID}/.default", "https://graph.microsoft.com//.default"])
def test_graph_default_scope_spellings(sim_server, sim_http, token_url, scope):
    assert client_credentials(sim_http, token_url, sim_server.sim.settings, scope=scope).status_code == 200


def test_without_admin_consent_the_app_token_has_no_roles(sim_server, sim_http, token_url, sim_settings):
    sim_server.sim.tokens.admin_consent = False
    token = client_credentials(sim_http, token_url, sim_settings).json()["access_token"]
    assert "roles" not in decode_jwt_claims(token)
    assert sim_server.sim.tokens.grant_for(token).permissions == frozenset()


def test_wrong_secret_is_invalid_client_7000215(sim_server, sim_http, token_url):
    answer = client_credentials(sim_http, token_url, sim_server.sim.settings, client_secret="nope")
    body = assert_aadsts(answer, 401, "invalid_client", 7000215)
    assert set(body) == set(sample("token-error-invalid-scope-with-error-uri.json"))


def test_missing_secret_is_invalid_client_7000218(sim_server, sim_http, token_url):
    answer = client_credentials(sim_http, token_url, sim_server.sim.settings, client_secret=None)
    assert_aadsts(answer, 401, "invalid_client", 7000218)


def test_unknown_client_is_unauthorized_client_700016(sim_server, sim_http, token_url):
    answer = client_credentials(sim_http, token_url, sim_server.sim.settings,
                                client_id="11111111-2222-3333-4444-555555555555")
    body = assert_aadsts(answer, 400, "unauthorized_client", 700016)
    assert "Application with identifier '11111111-2222-3333-4444-555555555555' was not found" in body[
        "error_description"]


@pytest.mark.parametrize("scope, code", [
    ("https://foo.microsoft.com/.default", 70011),
    ("https://graph.microsoft.com/User.Read.All", 1002012),
    (f"{GRAPH_DEFAULT} https://foo.microsoft.com/.default", 70011),
])
def test_invalid_client_credentials_scope_is_invalid_scope(sim_server, sim_http, token_url, scope, code):
    answer = client_credentials(sim_http, token_url, sim_server.sim.settings, scope=scope)
    body = assert_aadsts(answer, 400, "invalid_scope", code)
    expected = sample("token-error-client-credentials-invalid-scope.json")
    assert set(expected) <= set(body)


def test_unknown_tenant_is_90002(sim_server, sim_http):
    url = f"{sim_server.base_url}/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token"
    assert_aadsts(client_credentials(sim_http, url, sim_server.sim.settings), 400, "invalid_request", 90002)


@pytest.mark.parametrize("tenant", ["common", "organizations", "contoso.example"])
def test_tenant_aliases_reach_the_same_token_endpoint(sim_server, sim_http, tenant):
    url = f"{sim_server.base_url}/{tenant}/oauth2/v2.0/token"
    assert client_credentials(sim_http, url, sim_server.sim.settings).status_code == 200


def test_unsupported_and_missing_grant_type(sim_server, sim_http, token_url):
    settings = sim_server.sim.settings
    assert_aadsts(client_credentials(sim_http, token_url, settings, grant_type="password"),
                  400, "unsupported_grant_type", 70003)
    assert_aadsts(client_credentials(sim_http, token_url, settings, grant_type=None),
                  400, "invalid_request", 900144)


def test_garbage_refresh_token_and_code_are_malformed_grants(sim_server, sim_http, token_url):
    settings = sim_server.sim.settings
    auth = {"client_id": settings.client_id, "client_secret": settings.client_secret}
    refresh = sim_http.post(token_url, data={**auth, "grant_type": "refresh_token", "refresh_token": "x",
                                             "scope": "User.Read.All offline_access"})
    assert_aadsts(refresh, 400, "invalid_grant", 9002313)
    code = sim_http.post(token_url, data={**auth, "grant_type": "authorization_code", "code": "x",
                                          "redirect_uri": settings.redirect_uris[0]})
    assert_aadsts(code, 400, "invalid_grant", 9002313)


def test_get_on_the_token_endpoint_is_refused(sim_http, token_url):
    assert_aadsts(sim_http.get(token_url), 400, "invalid_request", 900561)
