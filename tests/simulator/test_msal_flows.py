"""The real, unchanged MSAL Python gets tokens from the simulator over HTTPS, and sees its errors."""

from __future__ import annotations

import time

import certifi
import msal
import pytest
import requests

from simulator.tokens import decode_jwt_claims

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]
SCOPES = ["https://graph.microsoft.com/User.Read.All", "https://graph.microsoft.com/Group.Read.All"]


@pytest.fixture
def signed_in(sim_server, msal_app, consent):
    """An MSAL app that went through the auth-code flow; returns (app, token result)."""

    def run(**app_options):
        app = msal_app(**app_options)
        flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=sim_server.sim.settings.redirect_uris[0],
                                           response_mode="form_post")
        result = app.acquire_token_by_auth_code_flow(flow, consent(flow["auth_uri"]))
        assert "access_token" in result, result
        return app, result

    return run


def test_client_credentials(sim_server, msal_app):
    app = msal_app()
    first = app.acquire_token_for_client(GRAPH_DEFAULT)
    assert first["token_source"] == "identity_provider", first
    assert sim_server.sim.tokens.grant_for(first["access_token"]).permissions == {"User.Read.All", "Group.Read.All"}
    again = app.acquire_token_for_client(GRAPH_DEFAULT)
    assert again["token_source"] == "cache"
    assert again["access_token"] == first["access_token"]


def test_client_credentials_without_admin_consent_has_no_roles(sim_server, msal_app, sim_settings):
    sim_server.sim.tokens.admin_consent = False
    token = msal_app().acquire_token_for_client(GRAPH_DEFAULT)["access_token"]
    assert "roles" not in decode_jwt_claims(token)


def test_authorization_code_flow(sim_server, signed_in):
    app, result = signed_in()
    settings = sim_server.sim.settings
    assert result["refresh_token"]
    assert result["id_token_claims"]["preferred_username"] == settings.admin_upn
    grant = sim_server.sim.tokens.grant_for(result["access_token"])
    assert grant.kind == "delegated" and {"User.Read.All", "Group.Read.All"} <= grant.permissions
    [account] = app.get_accounts()
    assert account["home_account_id"] == f"{grant.user_id}.{settings.tenant_id}"
    assert account["username"] == settings.admin_upn


@pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended:UserWarning")
def test_authorization_code_flow_with_query_response(sim_server, msal_app, consent):
    app = msal_app()
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=sim_server.sim.settings.redirect_uris[1])
    result = app.acquire_token_by_auth_code_flow(flow, consent(flow["auth_uri"]))
    assert "access_token" in result, result


def test_refresh_token_rotates(signed_in):
    app, result = signed_in()
    renewed = app.acquire_token_by_refresh_token(result["refresh_token"], SCOPES)
    assert "access_token" in renewed, renewed
    assert renewed["refresh_token"] != result["refresh_token"]
    assert renewed["access_token"] != result["access_token"]


def test_silent_refresh_after_the_access_token_expires(sim_server, signed_in, sim_settings):
    sim_settings.access_token_lifetime = 1
    app, result = signed_in()
    [account] = app.get_accounts()
    time.sleep(1.05)
    assert sim_server.sim.tokens.grant_for(result["access_token"]).expired()
    silent = app.acquire_token_silent(SCOPES, account=account)
    assert silent["token_source"] == "identity_provider"
    assert silent["access_token"] != result["access_token"]
    assert not sim_server.sim.tokens.grant_for(silent["access_token"]).expired()


def test_cancel_gives_access_denied(sim_server, msal_app, consent):
    app = msal_app()
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=sim_server.sim.settings.redirect_uris[0],
                                       response_mode="form_post")
    result = app.acquire_token_by_auth_code_flow(flow, consent(flow["auth_uri"], action="cancel"))
    assert result["error"] == "access_denied"
    assert "AADSTS65004" in result["error_description"]


def test_reused_code_is_54005(sim_server, msal_app, consent):
    app = msal_app()
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=sim_server.sim.settings.redirect_uris[0],
                                       response_mode="form_post")
    response = consent(flow["auth_uri"])
    assert "access_token" in app.acquire_token_by_auth_code_flow(flow, response)
    again = app.acquire_token_by_auth_code_flow(flow, response)
    assert again["error"] == "invalid_grant" and again["error_codes"] == [54005]


@pytest.mark.parametrize("tamper, code", [
    ({"redirect_uri": "http://localhost:5000/connect/callback"}, 500112),
    ({"code_verifier": "a-verifier-that-does-not-match-the-challenge-sent"}, 501481),
])
def test_tampered_redemption_errors(sim_server, msal_app, consent, tamper, code):
    app = msal_app()
    flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=sim_server.sim.settings.redirect_uris[0],
                                       response_mode="form_post")
    response = consent(flow["auth_uri"])
    result = app.acquire_token_by_auth_code_flow({**flow, **tamper}, response)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [code]


def test_wrong_secret_is_invalid_client(msal_app):
    result = msal_app(client_credential="not-the-secret").acquire_token_for_client(GRAPH_DEFAULT)
    assert result["error"] == "invalid_client" and result["error_codes"] == [7000215]


def test_unknown_client_is_unauthorized_client(msal_app):
    result = msal_app(client_id="11111111-2222-3333-4444-555555555555").acquire_token_for_client(GRAPH_DEFAULT)
    assert result["error"] == "unauthorized_client" and result["error_codes"] == [700016]


def test_unknown_tenant_fails_discovery(sim_server, msal_app):
    with pytest.raises(ValueError, match="Unable to get authority configuration"):
        msal_app(authority=f"{sim_server.base_url}/fabrikam.example")


def test_revoked_refresh_token(sim_server, signed_in):
    app, result = signed_in()
    sim_server.sim.tokens.revoke_refresh_tokens()
    refused = app.acquire_token_by_refresh_token(result["refresh_token"], SCOPES)
    assert refused["error"] == "invalid_grant" and refused["error_codes"] == [50173]
    assert refused["suberror"] == "bad_token"
    [account] = app.get_accounts()
    silent = app.acquire_token_silent_with_error(SCOPES, account=account, force_refresh=True)
    assert silent["error"] == "invalid_grant" and silent["classification"] == ""
    assert app.acquire_token_silent(SCOPES, account=account, force_refresh=True) is None


def test_expired_refresh_token(sim_server, signed_in):
    app, result = signed_in()
    sim_server.sim.tokens.expire_refresh_tokens()
    refused = app.acquire_token_by_refresh_token(result["refresh_token"], SCOPES)
    assert refused["error"] == "invalid_grant" and refused["error_codes"] == [700082]


def test_msal_verify_loses_to_the_environment(sim_server, monkeypatch):
    """The trap: requests prefers REQUESTS_CA_BUNDLE over MSAL's `verify` (a Session.verify)."""
    settings = sim_server.sim.settings
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    with pytest.raises(requests.exceptions.SSLError):
        msal.ConfidentialClientApplication(settings.client_id, client_credential=settings.client_secret,
                                           authority=sim_server.authority, instance_discovery=False,
                                           verify=sim_server.ca_path)


def test_msal_default_client_with_the_printed_environment(sim_env):
    settings = sim_env.sim.settings
    app = msal.ConfidentialClientApplication(settings.client_id, client_credential=settings.client_secret,
                                             authority=sim_env.authority, instance_discovery=False,
                                             verify=sim_env.ca_path)
    try:
        assert "access_token" in app.acquire_token_for_client(GRAPH_DEFAULT)
    finally:
        app.http_client.close()


def test_instance_discovery_pointed_at_the_simulator(sim_server, msal_app):
    app = msal_app(instance_discovery=f"{sim_server.base_url}/common/discovery/instance")
    assert "access_token" in app.acquire_token_for_client(GRAPH_DEFAULT)


def test_oidc_authority(sim_server, msal_app):
    app = msal_app(authority=None, instance_discovery=None, oidc_authority=f"{sim_server.authority}/v2.0")
    assert "access_token" in app.acquire_token_for_client(GRAPH_DEFAULT)
