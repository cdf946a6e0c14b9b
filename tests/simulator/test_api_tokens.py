"""Entra ID's side of the Outlook add-in: signed v2 tokens for Sigsync's exposed API, the JWKS and key rotation.

Checked with PyJWT against the JWKS the simulator publishes, as a resource server would.
"""

from __future__ import annotations

import jwt
import pytest

from portal.addin.identity import v2_issuer


@pytest.fixture
def keys(sim_server):
    """The simulator's signing keys; rotations a test makes are undone (the first key signs again)."""
    state = sim_server.sim.keys
    before = state.all()
    saved = [(k, k.listed) for k in before]
    yield state
    with state._lock:
        state._keys[:] = before
    for key, listed in saved:
        key.listed = listed


def _issue(sim_http, sim_server, **body):
    body.setdefault("user", sim_server.sim.settings.admin_upn)
    return sim_http.post(f"{sim_server.base_url}/_sim/entra/tokens", json=body)


def _jwks(sim_http, sim_server) -> dict:
    doc = sim_http.get(f"{sim_server.authority}/v2.0/.well-known/openid-configuration").json()
    return sim_http.get(doc["jwks_uri"]).json()


def _verify(token: str, jwks: dict, audience: str, issuer: str) -> dict:
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=audience, issuer=issuer)


def test_access_token_has_microsofts_v2_claims_and_verifies_against_the_jwks(sim_server, sim_http, keys):
    settings = sim_server.sim.settings
    answer = _issue(sim_http, sim_server)
    assert answer.status_code == 201
    body = answer.json()
    assert body["scope"] == f"api://{settings.client_id}/access_as_user" and body["token_type"] == "Bearer"
    issuer = v2_issuer(sim_server.base_url, settings.tenant_id)
    doc = sim_http.get(f"{sim_server.authority}/v2.0/.well-known/openid-configuration").json()
    assert doc["issuer"] == issuer
    header = jwt.get_unverified_header(body["access_token"])
    assert header == {"typ": "JWT", "alg": "RS256", "kid": keys.signing.kid}
    claims = _verify(body["access_token"], _jwks(sim_http, sim_server), settings.client_id, issuer)
    admin = sim_server.sim.tenant.get_user(settings.admin_upn)
    assert claims["aud"] == settings.client_id and claims["azp"] == settings.client_id
    assert claims["tid"] == settings.tenant_id and claims["oid"] == admin["id"]
    assert claims["scp"] == "access_as_user" and claims["ver"] == "2.0" and claims["azpacr"] == "0"
    assert claims["preferred_username"] == admin["userPrincipalName"] and claims["name"] == admin["displayName"]
    assert claims["nbf"] == claims["iat"] and claims["exp"] - claims["iat"] == settings.access_token_lifetime
    assert {"aio", "rh", "sub", "uti", "sid"} <= set(claims)


def test_id_token_has_the_same_audience_but_no_scope(sim_server, sim_http, keys):
    settings = sim_server.sim.settings
    body = _issue(sim_http, sim_server, nonce="n-1").json()
    issuer = v2_issuer(sim_server.base_url, settings.tenant_id)
    claims = _verify(body["id_token"], _jwks(sim_http, sim_server), settings.client_id, issuer)
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert "scp" not in claims and "azp" not in claims and claims["nonce"] == "n-1"
    assert claims["oid"] == access["oid"] and claims["sub"] == access["sub"] and claims["ver"] == "2.0"


def test_jwks_entries_look_like_microsofts(sim_server, sim_http, keys):
    (entry,) = _jwks(sim_http, sim_server)["keys"]
    assert set(entry) == {"kty", "use", "kid", "x5t", "n", "e", "x5c", "cloud_instance_name", "issuer"}
    assert entry["kty"] == "RSA" and entry["use"] == "sig" and entry["kid"] == entry["x5t"] == keys.signing.kid
    assert entry["e"] == "AQAB" and entry["issuer"].endswith("/{tenantid}/v2.0")
    assert jwt.PyJWK(entry).key.key_size == 2048


def test_claims_can_be_overridden_or_removed_and_users_and_scopes_are_checked(sim_server, sim_http, keys):
    body = _issue(sim_http, sim_server, claims={"aud": "api://other", "scp": None}, lifetime=60).json()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "api://other" and "scp" not in claims and claims["exp"] - claims["iat"] == 60
    assert _issue(sim_http, sim_server, user="nobody@contoso.example").status_code == 404
    refused = _issue(sim_http, sim_server, scopes=["Mail.Send"])
    assert refused.status_code == 400 and "Mail.Send" in refused.json()["error"]["message"]
    assert _issue(sim_http, sim_server, lifetime=0).status_code == 400


def test_rotation_keeps_the_old_key_listed_until_it_is_removed(sim_server, sim_http, keys):
    base = f"{sim_server.base_url}/_sim/entra/keys"
    first = keys.signing.kid
    rotated = sim_http.post(f"{base}/rotate", json={}).json()
    second = rotated["signing_kid"]
    assert second != first and rotated["listed"] == [first, second]
    assert [k["kid"] for k in _jwks(sim_http, sim_server)["keys"]] == [first, second]
    token = _issue(sim_http, sim_server).json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == second
    assert sim_http.delete(f"{base}/{second}").status_code == 400  # the signing key stays listed
    assert sim_http.delete(f"{base}/{first}").status_code == 204
    assert [k["kid"] for k in _jwks(sim_http, sim_server)["keys"]] == [second]
    listing = sim_http.get(base).json()
    assert listing["signing_kid"] == second
    assert listing["keys"] == [{"kid": first, "signing": False, "listed": False},
                               {"kid": second, "signing": True, "listed": True}]
    # a removed key still signs on request: how a test makes a token whose key nobody lists
    old = _issue(sim_http, sim_server, kid=first).json()["access_token"]
    assert jwt.get_unverified_header(old)["kid"] == first
    assert sim_http.delete(f"{base}/no-such-kid").status_code == 404


def test_rotation_can_drop_the_old_keys_at_once(sim_server, sim_http, keys):
    first = keys.signing.kid
    rotated = sim_http.post(f"{sim_server.base_url}/_sim/entra/keys/rotate", json={"keep_previous": False}).json()
    assert rotated["listed"] == [rotated["signing_kid"]] != [first]
    assert [k["kid"] for k in _jwks(sim_http, sim_server)["keys"]] == [rotated["signing_kid"]]
    pem = sim_http.get(f"{sim_server.base_url}/_sim/entra/keys/{first}/public.pem")
    assert pem.status_code == 200 and pem.text.startswith("-----BEGIN PUBLIC KEY-----")


# -- the same tokens through the real flows (what the add-in's task pane sign-in does) ----------------


def test_msal_gets_a_signed_api_token_through_the_auth_code_flow_and_refresh(sim_server, sim_http, msal_app,
                                                                             consent, keys):
    settings = sim_server.sim.settings
    api = [f"api://{settings.client_id}/access_as_user"]
    app = msal_app()
    flow = app.initiate_auth_code_flow(api, redirect_uri=settings.redirect_uris[0], response_mode="form_post")
    page = sim_http.get(flow["auth_uri"])
    assert "Read your e-mail signature from Sigsync" in page.text  # the scope's consent wording
    result = app.acquire_token_by_auth_code_flow(flow, consent(flow["auth_uri"]))
    assert result.get("scope") and api[0] in result["scope"].split(), result
    issuer = v2_issuer(sim_server.base_url, settings.tenant_id)
    claims = _verify(result["access_token"], _jwks(sim_http, sim_server), settings.client_id, issuer)
    assert claims["scp"] == "access_as_user" and claims["azpacr"] == "1" and claims["ver"] == "2.0"
    assert claims["preferred_username"] == settings.admin_upn
    # one refresh token serves the exposed API again; Graph needs its own consent
    [account] = app.get_accounts()
    again = app.acquire_token_silent(api, account, force_refresh=True)
    assert again and _verify(again["access_token"], _jwks(sim_http, sim_server), settings.client_id, issuer)
    graph = app.acquire_token_silent(["https://graph.microsoft.com/User.Read.All"], account, force_refresh=True)
    assert graph is None or "access_token" not in graph


def test_one_request_names_one_resource_and_only_exposed_scopes(sim_server, sim_http, msal_app):
    settings = sim_server.sim.settings
    app = msal_app()
    redirect = settings.redirect_uris[0]
    for scopes, code in (([f"api://{settings.client_id}/access_as_user", "https://graph.microsoft.com/User.Read"],
                          "AADSTS28000"),
                         ([f"api://{settings.client_id}/Mail.Send"], "AADSTS70011"),
                         (["api://00000000-0000-0000-0000-000000000001/access_as_user"], "AADSTS70011")):
        flow = app.initiate_auth_code_flow(scopes, redirect_uri=redirect, response_mode="form_post")
        answer = sim_http.get(flow["auth_uri"], allow_redirects=False)
        assert code in answer.headers.get("Location", "") + answer.text, scopes
