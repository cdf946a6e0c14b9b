"""Redeeming codes and refresh tokens at /token over HTTPS: single use, PKCE, rotation, revocation."""

from __future__ import annotations

import time

import pytest

from simulator.tokens import GRAPH_APP_ID, decode_jwt_claims
from tests.simulator.entra_helpers import USER_SCOPES, assert_aadsts, authorize_url, pkce_pair
from tests.simulator.samples import sample, shape


@pytest.fixture
def redeem(sim_server, sim_http):
    """POST an authorization_code grant; keyword arguments change the form."""
    settings = sim_server.sim.settings

    def post(code: str, **changes):
        form = {"client_id": settings.client_id, "client_secret": settings.client_secret,
                "grant_type": "authorization_code", "code": code, "redirect_uri": settings.redirect_uris[0],
                "scope": USER_SCOPES, "client_info": "1", **changes}
        return sim_http.post(f"{sim_server.authority}/oauth2/v2.0/token",
                             data={k: v for k, v in form.items() if v is not None})

    return post


@pytest.fixture
def refresh(sim_server, sim_http):
    """POST a refresh_token grant."""
    settings = sim_server.sim.settings

    def post(refresh_token: str, scope: str = USER_SCOPES, **changes):
        form = {"client_id": settings.client_id, "client_secret": settings.client_secret,
                "grant_type": "refresh_token", "refresh_token": refresh_token, "scope": scope,
                "client_info": "1", **changes}
        return sim_http.post(f"{sim_server.authority}/oauth2/v2.0/token", data=form)

    return post


def test_code_grant_answers_like_the_recorded_delegated_response(sim_server, consent, redeem):
    verifier, challenge = pkce_pair()
    params = consent(authorize_url(sim_server, code_challenge=challenge, code_challenge_method="S256",
                                   nonce="n-0S6_WzA2Mj", client_info="1"))
    answer = redeem(params["code"], code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    recorded = shape(sample("token-response-delegated-recorded.json"))
    recorded.pop("foci")  # family-of-client-ids: Microsoft first-party apps only
    assert shape(body) == recorded
    assert body["scope"] == ("openid profile https://graph.microsoft.com/Group.Read.All "
                             "https://graph.microsoft.com/User.Read.All")
    assert answer.headers["Cache-Control"] == "no-store, no-cache"


def test_id_token_and_client_info(sim_server, consent, redeem):
    settings = sim_server.sim.settings
    params = consent(authorize_url(sim_server, nonce="n-0S6_WzA2Mj", client_info="1"))
    body = redeem(params["code"]).json()
    claims = decode_jwt_claims(body["id_token"])
    assert claims["aud"] == settings.client_id
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["tid"] == settings.tenant_id
    assert claims["preferred_username"] == settings.admin_upn
    assert claims["iss"] == f"{sim_server.authority}/v2.0"
    info = decode_jwt_claims("x." + body["client_info"] + ".x")
    assert info == {"uid": claims["oid"], "utid": settings.tenant_id}
    assert params["client_info"] == body["client_info"]


def test_delegated_access_token_grant(sim_server, consent, redeem):
    body = redeem(consent(authorize_url(sim_server))["code"]).json()
    grant = sim_server.sim.tokens.grant_for(body["access_token"])
    assert grant.kind == "delegated"
    assert {"User.Read.All", "Group.Read.All"} <= grant.permissions
    claims = decode_jwt_claims(body["access_token"])
    assert claims["aud"] == GRAPH_APP_ID
    assert claims["oid"] == grant.user_id
    assert set(claims["scp"].split()) == set(grant.permissions)


def test_no_refresh_token_without_offline_access(sim_server, consent, redeem):
    scope = "openid profile https://graph.microsoft.com/User.Read.All"
    body = redeem(consent(authorize_url(sim_server, scope=scope))["code"], scope=scope).json()
    assert "refresh_token" not in body and "access_token" in body


def test_codes_are_single_use_54005(consent, sim_server, redeem):
    code = consent(authorize_url(sim_server))["code"]
    assert redeem(code).status_code == 200
    assert_aadsts(redeem(code), 400, "invalid_grant", 54005)


def test_codes_expire_after_ten_minutes_70008(consent, sim_server, redeem, monkeypatch):
    code = consent(authorize_url(sim_server))["code"]
    monkeypatch.setattr(sim_server.sim.tokens, "clock", lambda: time.time() + 601)
    assert_aadsts(redeem(code), 400, "invalid_grant", 70008)


def test_redirect_uri_must_equal_the_one_at_authorize_500112(consent, sim_server, redeem):
    code = consent(authorize_url(sim_server))["code"]
    other = sim_server.sim.settings.redirect_uris[1]
    assert_aadsts(redeem(code, redirect_uri=other), 400, "invalid_grant", 500112)
    assert_aadsts(redeem(code, redirect_uri=None), 400, "invalid_grant", 500112)
    assert redeem(code).status_code == 200  # a refused attempt does not burn the code


@pytest.mark.parametrize("method", ["S256", "plain"])
def test_pkce_is_verified_501481(consent, sim_server, redeem, method):
    verifier, challenge = pkce_pair()
    sent = challenge if method == "S256" else verifier
    code = consent(authorize_url(sim_server, code_challenge=sent, code_challenge_method=method))["code"]
    assert_aadsts(redeem(code, code_verifier=pkce_pair()[0]), 400, "invalid_grant", 501481)
    assert_aadsts(redeem(code), 400, "invalid_grant", 501481)
    assert redeem(code, code_verifier=verifier).status_code == 200


def test_refresh_rotates_and_narrows_scopes(consent, sim_server, redeem, refresh):
    first = redeem(consent(authorize_url(sim_server))["code"]).json()
    narrowed = refresh(first["refresh_token"], scope="https://graph.microsoft.com/User.Read.All openid profile "
                                                      "offline_access")
    assert narrowed.status_code == 200, narrowed.text
    body = narrowed.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert body["scope"] == "openid profile https://graph.microsoft.com/User.Read.All"
    assert "nonce" not in decode_jwt_claims(body["id_token"])
    assert sim_server.sim.tokens.grant_for(body["access_token"]).permissions == {"User.Read.All", "openid",
                                                                                 "profile"}
    # The new refresh token still carries the whole consent, as in Entra.
    wide = refresh(body["refresh_token"]).json()
    assert "https://graph.microsoft.com/Group.Read.All" in wide["scope"]
    # And Entra leaves the redeemed one valid.
    assert refresh(first["refresh_token"]).status_code == 200


def test_strict_rotation_when_configured(consent, sim_server, redeem, refresh, sim_settings):
    sim_settings.single_use_refresh_tokens = True
    first = redeem(consent(authorize_url(sim_server))["code"]).json()
    assert refresh(first["refresh_token"]).status_code == 200
    assert_aadsts(refresh(first["refresh_token"]), 400, "invalid_grant", 50173)


def test_refresh_beyond_consent_is_65001(consent, sim_server, redeem, refresh):
    rt = redeem(consent(authorize_url(sim_server))["code"]).json()["refresh_token"]
    answer = refresh(rt, scope="https://graph.microsoft.com/Directory.Read.All offline_access")
    body = assert_aadsts(answer, 400, "invalid_grant", 65001)
    assert body["suberror"] == "consent_required"


def test_revoked_refresh_token_answers_like_the_recorded_50173(consent, sim_server, redeem, refresh):
    rt = redeem(consent(authorize_url(sim_server))["code"]).json()["refresh_token"]
    assert sim_server.sim.tokens.revoke_refresh_tokens() >= 1
    body = assert_aadsts(refresh(rt), 400, "invalid_grant", 50173)
    recorded = sample("token-error-invalid-grant-revoked-50173-recorded.json")
    assert shape(body) == shape(recorded)
    assert body["suberror"] == recorded["suberror"] == "bad_token"
    assert "TokensValidFrom" in body["error_description"]


def test_inactive_refresh_token_is_700082(consent, sim_server, redeem, refresh):
    rt = redeem(consent(authorize_url(sim_server))["code"]).json()["refresh_token"]
    sim_server.sim.tokens.expire_refresh_tokens()
    body = assert_aadsts(refresh(rt), 400, "invalid_grant", 700082)
    assert "inactive for 90.00:00:" in body["error_description"]
