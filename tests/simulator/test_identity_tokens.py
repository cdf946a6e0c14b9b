"""TokenStore: the contract Graph relies on (grant_for, issue_app_token, revoke_refresh_tokens) and more."""

from __future__ import annotations

import dataclasses

import pytest

from simulator.state import SimulatorSettings
from simulator.tokens import GRAPH_APP_ID, AccessGrant, TokenStore, UserClaims, decode_jwt_claims


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock) -> TokenStore:
    return TokenStore(SimulatorSettings(access_token_lifetime=3599), clock=clock)


def test_issue_app_token_and_look_it_up(store, clock):
    grant = store.issue_app_token("app-1", ["User.Read.All", "Group.Read.All"])
    assert isinstance(grant, AccessGrant)
    assert store.grant_for(grant.token) == grant
    assert grant.kind == "app" and grant.client_id == "app-1" and grant.user_id is None
    assert grant.tenant_id == store.settings.tenant_id
    assert grant.permissions == frozenset({"User.Read.All", "Group.Read.All"})
    assert grant.expires_at == clock.now + 3599
    with pytest.raises(dataclasses.FrozenInstanceError):
        grant.kind = "delegated"


def test_unknown_tokens_have_no_grant(store):
    assert store.grant_for("eyJhbGciOiJub25lIn0.e30.") is None
    assert store.grant_for("") is None


def test_app_tokens_are_jwt_shaped_like_graphs(store):
    grant = store.issue_app_token("app-1", ["User.Read.All"], lifetime=60)
    assert grant.token.count(".") == 2
    claims = decode_jwt_claims(grant.token)
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == store.settings.tenant_id
    assert claims["appid"] == "app-1"
    assert claims["roles"] == ["User.Read.All"]
    assert claims["exp"] - claims["iat"] == 60
    assert claims["iss"] == f"https://sts.windows.net/{store.settings.tenant_id}/"


def test_delegated_tokens_carry_scp_and_the_user(store):
    user = UserClaims(oid="u-1", upn="adele@contoso.example", name="Adele Vance")
    grant = store.issue_user_token("app-1", user, ["User.Read.All", "Group.Read.All"])
    assert grant.kind == "delegated" and grant.user_id == "u-1"
    claims = decode_jwt_claims(grant.token)
    assert claims["aud"] == GRAPH_APP_ID
    assert claims["scp"] == "Group.Read.All User.Read.All"
    assert claims["upn"] == "adele@contoso.example" and claims["oid"] == "u-1"
    assert "roles" not in claims


def test_expiry_is_the_callers_to_check(store, clock):
    grant = store.issue_app_token("app-1", [], lifetime=10)
    clock.now += 11
    assert store.grant_for(grant.token) is grant
    assert grant.expired(clock.now)


def test_expire_access_tokens(store, clock):
    grant = store.issue_app_token("app-1", ["User.Read.All"])
    assert store.expire_access_tokens() == 1
    assert store.grant_for(grant.token).expired(clock.now)
    assert store.expire_access_tokens() == 0


def test_revoke_refresh_tokens_counts_live_ones(store):
    first = store.issue_refresh_token("app-1", "u-1", ["offline_access"])
    store.issue_refresh_token("app-1", "u-2", ["offline_access"])
    assert store.revoke_refresh_tokens() == 2
    assert store.refresh_state(store.refresh_grant(first.token)) == "revoked"
    assert store.revoke_refresh_tokens() == 0


def test_refresh_tokens_expire_after_inactivity(store, clock):
    grant = store.issue_refresh_token("app-1", "u-1", ["offline_access"])
    clock.now += store.settings.refresh_token_lifetime - 1
    assert store.refresh_state(grant) == "valid"
    renewed = store.rotate(grant)
    clock.now += store.settings.refresh_token_lifetime - 1
    assert store.refresh_state(renewed) == "valid"
    clock.now += 2
    assert store.refresh_state(renewed) == "expired"


def test_codes_are_redeemed_once(store):
    code = store.issue_code(client_id="app-1", redirect_uri="http://localhost/cb", scopes=("openid",),
                            user_id="u-1", nonce=None, code_challenge=None, code_challenge_method=None)
    assert store.redeem_code(code.code) is True
    assert store.redeem_code(code.code) is False
    assert store.peek_code(code.code).redeemed


def test_old_tokens_are_swept_but_recent_expired_ones_kept(store, clock):
    old = store.issue_app_token("app-1", [], lifetime=1)
    clock.now += 2
    recent = store.issue_app_token("app-1", [], lifetime=1)
    clock.now += 24 * 3600
    for _ in range(1000):
        store.issue_app_token("app-1", [], lifetime=3600)
    assert store.grant_for(old.token) is None  # expired more than a day ago
    assert store.grant_for(recent.token).expired(clock.now)  # Graph can still say "expired"


def test_admin_consent_starts_from_settings():
    assert TokenStore(SimulatorSettings()).admin_consent is True
    assert TokenStore(SimulatorSettings(admin_consent_granted=False)).admin_consent is False
