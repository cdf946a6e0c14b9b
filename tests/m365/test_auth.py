"""Tokens from the simulator's Entra ID through MSAL: app mode, the delegated consent flow, the encrypted cache."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet

from portal.m365 import auth
from portal.m365.crypto import TokenCipher
from portal.m365.errors import ConsentFlowError, ConsentRequired, TokenCacheUnreadable, TokenError
from portal.m365.transport import PinnedSession
from portal.models import Connection
from simulator.tokens import decode_jwt_claims
from tests.m365.support import REDIRECT_URI, accept_on_consent_page, app_connection

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def _plain_cache(config, connection: Connection) -> dict:
    return json.loads(TokenCipher(config.token_encryption_key).decrypt(connection.token_cache))


def test_configured_ca_wins_over_the_environment(sim, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)
    monkeypatch.setenv("CURL_CA_BUNDLE", SYSTEM_BUNDLE)
    discovery = f"{sim.authority}/v2.0/.well-known/openid-configuration"
    plain = requests.Session()
    plain.verify = sim.ca_path  # the trap: the environment's bundle overrides this
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(discovery, timeout=10)
    with PinnedSession(sim.ca_path) as pinned:
        assert pinned.get(discovery).json()["token_endpoint"].startswith(sim.base_url)


def test_app_token_is_cached_encrypted_and_reused(sim, m365_config):
    connection = app_connection(sim)
    token = auth.TokenProvider(m365_config, connection).access_token()
    assert decode_jwt_claims(token)["roles"] == ["Group.Read.All", "User.Read.All"]
    assert connection.token_cache and token.encode() not in connection.token_cache
    assert b"AccessToken" not in connection.token_cache

    token_posts = len([r for r in sim.sim.log.items("identity") if r.path.endswith("/token")])
    saved: list[bytes] = []
    again = auth.TokenProvider(m365_config, connection, on_cache_changed=saved.append).access_token()
    assert again == token
    assert len([r for r in sim.sim.log.items("identity") if r.path.endswith("/token")]) == token_posts
    assert saved == []  # nothing changed, nothing written


def test_forced_refresh_gets_a_new_app_token(sim, m365_config):
    connection = app_connection(sim)
    provider = auth.TokenProvider(m365_config, connection)
    first = provider.access_token()
    assert provider.access_token(force_refresh=True) != first


def test_delegated_consent_end_to_end(sim, m365_config, browser):
    flow = auth.begin_consent(m365_config, REDIRECT_URI)
    query = parse_qs(urlsplit(flow["auth_uri"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert {"User.Read.All", "Group.Read.All", "offline_access"} <= set(query["scope"][0].split())

    answer = accept_on_consent_page(sim, browser, flow["auth_uri"])
    tenant_id, blob, user = auth.finish_consent(m365_config, flow, answer)
    assert tenant_id == sim.sim.settings.tenant_id
    assert user == sim.sim.settings.admin_upn

    connection = Connection(organization_id=1, tenant_id=tenant_id, mode="delegated", token_cache=blob)
    cache = _plain_cache(m365_config, connection)
    refresh_token = next(iter(cache["RefreshToken"].values()))["secret"]
    assert refresh_token.encode() not in blob and b"RefreshToken" not in blob

    token = auth.TokenProvider(m365_config, connection).access_token()
    claims = decode_jwt_claims(token)
    assert {"User.Read.All", "Group.Read.All"} <= set(claims["scp"].split())
    assert claims["upn"] == sim.sim.settings.admin_upn
    assert token.encode() not in connection.token_cache


def test_delegated_token_is_refreshed_after_it_expires(sim, sim_settings, m365_config, browser):
    sim_settings.access_token_lifetime = 120  # under MSAL's 5-minute margin: every cached token counts as expired
    flow = auth.begin_consent(m365_config, REDIRECT_URI)
    tenant_id, blob, user = auth.finish_consent(
        m365_config, flow, accept_on_consent_page(sim, browser, flow["auth_uri"])
    )
    connection = Connection(organization_id=1, tenant_id=tenant_id, mode="delegated", token_cache=blob)
    saved: list[bytes] = []
    provider = auth.TokenProvider(m365_config, connection, on_cache_changed=saved.append)
    first = provider.access_token()
    second = provider.access_token()
    assert first != second
    assert len(saved) == 2 and connection.token_cache == saved[-1]
    # A worker on another machine starts from the stored cache alone.
    assert auth.TokenProvider(m365_config, connection).access_token() not in (first, second)


def test_state_mismatch_is_a_clear_error(sim, m365_config, browser):
    flow = auth.begin_consent(m365_config, REDIRECT_URI)
    answer = accept_on_consent_page(sim, browser, flow["auth_uri"])
    with pytest.raises(ConsentFlowError) as info:
        auth.finish_consent(m365_config, flow, {**answer, "state": "forged"})
    assert "Start connecting again" in info.value.admin_message
    assert flow["state"] not in str(info.value)
    with pytest.raises(ConsentFlowError):
        auth.finish_consent(m365_config, {}, answer)


def test_declined_consent_needs_consent(sim, m365_config, browser):
    flow = auth.begin_consent(m365_config, REDIRECT_URI)
    answer = accept_on_consent_page(sim, browser, flow["auth_uri"], action="cancel")
    with pytest.raises(ConsentRequired):
        auth.finish_consent(m365_config, flow, answer)


def test_revoked_refresh_token_means_consent_required(sim, m365_config, delegated_connection):
    provider = auth.TokenProvider(m365_config, delegated_connection)
    provider.access_token()
    sim.sim.tokens.revoke_refresh_tokens()  # e.g. the admin's password was reset
    with pytest.raises(ConsentRequired) as info:
        auth.TokenProvider(m365_config, delegated_connection).access_token(force_refresh=True)
    assert "reconnect" in info.value.admin_message


def test_wrong_client_secret_is_named(sim, m365_config):
    config = replace(m365_config, ms_client_secret="not-the-secret")
    with pytest.raises(TokenError) as info:
        auth.TokenProvider(config, app_connection(sim)).access_token()
    assert "MS_CLIENT_SECRET" in info.value.admin_message and "not-the-secret" not in info.value.admin_message


def test_unknown_tenant_is_a_token_error(sim, m365_config):
    connection = Connection(organization_id=1, tenant_id="00000000-0000-0000-0000-000000000000", mode="app")
    with pytest.raises(TokenError):
        auth.TokenProvider(m365_config, connection).access_token()


def test_delegated_cache_under_another_key_is_refused(m365_config, delegated_connection):
    config = replace(m365_config, token_encryption_key=Fernet.generate_key().decode())
    with pytest.raises(TokenCacheUnreadable):
        auth.TokenProvider(config, delegated_connection)


def test_app_cache_under_another_key_starts_afresh(sim, m365_config):
    connection = app_connection(sim)
    auth.TokenProvider(m365_config, connection).access_token()
    config = replace(m365_config, token_encryption_key=Fernet.generate_key().decode())
    assert auth.TokenProvider(config, connection).access_token()
    assert TokenCipher(config.token_encryption_key).decrypt(connection.token_cache)


def test_admin_consent_round_trip(sim, m365_config, browser):
    tenant = sim.sim.settings.tenant_id
    url = auth.admin_consent_url(m365_config, tenant, REDIRECT_URI, state="s-123")
    answer = accept_on_consent_page(sim, browser, url)
    assert auth.finish_admin_consent(answer, "s-123") == tenant
    with pytest.raises(ConsentFlowError):
        auth.finish_admin_consent(answer, "another-state")


def test_declined_admin_consent_needs_consent(sim, m365_config, browser):
    url = auth.admin_consent_url(m365_config, sim.sim.settings.tenant_id, REDIRECT_URI, state="s-9")
    answer = accept_on_consent_page(sim, browser, url, action="cancel")
    with pytest.raises(ConsentRequired):
        auth.finish_admin_consent(answer, "s-9")
