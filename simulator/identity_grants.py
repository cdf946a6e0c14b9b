"""The grants of /oauth2/v2.0/token: authorization_code, refresh_token and client_credentials."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from simulator import api_tokens
from simulator import identity_errors as errors
from simulator.identity_scopes import Scopes, parse_delegated
from simulator.state import Simulator
from simulator.tokens import GRAPH_APP_ID, GRAPH_RESOURCE, TokenStore, UserClaims, b64url, client_info, encode_jwt

ID_TOKEN_LIFETIME = 3600


@dataclass(frozen=True)
class GrantRequest:
    """One authenticated token request."""

    sim: Simulator
    client_id: str
    form: dict[str, str]
    base_url: str
    user_lookup: Callable[[str], UserClaims]

    @property
    def tokens(self) -> TokenStore:
        return self.sim.tokens


def client_credentials(req: GrantRequest) -> dict:
    """App-only token; app roles only once an admin consented for the tenant."""
    scope = _required(req.form, "scope")
    items = scope.split()
    if len(items) != 1:
        raise errors.invalid_scope(scope)
    if not items[0].endswith("/.default"):
        raise errors.client_credentials_needs_default(items[0])
    resource = items[0][: -len("/.default")].rstrip("/")
    if resource.lower() not in (GRAPH_RESOURCE, GRAPH_APP_ID):
        raise errors.invalid_scope(items[0])
    # Without admin consent Entra still issues the token, just with no roles: Graph answers 403.
    roles = req.sim.settings.app_permissions if req.tokens.admin_consent else ()
    grant = req.tokens.issue_app_token(req.client_id, roles)
    lifetime = int(round(grant.expires_at - req.tokens.clock()))
    return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": grant.token}


def authorization_code(req: GrantRequest) -> dict:
    """Redeem a code from /authorize: single use, short-lived, same redirect_uri, PKCE checked."""
    code = _required(req.form, "code")
    issued = req.tokens.peek_code(code)
    if issued is None:
        raise errors.malformed_grant()
    if issued.client_id != req.client_id:
        raise errors.code_for_other_client()
    if issued.redeemed:
        raise errors.code_redeemed()
    if req.tokens.clock() >= issued.expires_at:
        raise errors.code_expired()
    sent_redirect = req.form.get("redirect_uri", "")
    if sent_redirect != issued.redirect_uri:
        raise errors.redirect_uri_differs(sent_redirect, issued.redirect_uri)
    if issued.code_challenge and not _pkce_ok(
        req.form.get("code_verifier", ""), issued.code_challenge, issued.code_challenge_method
    ):
        raise errors.pkce_mismatch()
    if not req.tokens.redeem_code(code):
        raise errors.code_redeemed()
    scopes = Scopes.from_stored(issued.scopes)
    user = req.user_lookup(issued.user_id)
    return _user_tokens(req, user, scopes, scopes, nonce=issued.nonce)


def refresh_token(req: GrantRequest) -> dict:
    """Redeem a refresh token: a subset of the consented scopes, and a new refresh token."""
    token = _required(req.form, "refresh_token")
    grant = req.tokens.refresh_grant(token)
    if grant is None:
        raise errors.malformed_grant()
    if grant.client_id != req.client_id:
        raise errors.refresh_token_other_client()
    state = req.tokens.refresh_state(grant)
    if state == "revoked":
        raise errors.refresh_token_revoked(grant.issued_at, grant.revoked_at)
    if state == "expired":
        raise errors.refresh_token_inactive(grant.issued_at, int(req.tokens.clock() - grant.last_used_at))
    consented = Scopes.from_stored(grant.scopes)
    settings = req.sim.settings
    requested = parse_delegated(req.form.get("scope", ""), settings.app_permissions, settings.client_id,
                                settings.api_scopes)
    if not (requested.graph <= consented.graph and requested.api <= consented.api):
        raise errors.consent_missing(req.client_id, settings.app_display_name)
    if requested.api:  # one refresh token serves every resource the user consented to
        granted = Scopes(requested.oidc, frozenset(), requested.api)
    else:
        granted = Scopes(requested.oidc, requested.graph or consented.graph)
    user = req.user_lookup(grant.user_id)
    return _user_tokens(req, user, granted, consented, rotate=grant)


def _user_tokens(req, user: UserClaims, granted: Scopes, consented: Scopes, nonce=None, rotate=None) -> dict:
    if granted.api:
        token, lifetime = _api_access_token(req, user, granted), req.sim.settings.access_token_lifetime
    else:
        access_scopes = set(granted.graph) | (granted.oidc - {"offline_access"})
        access = req.tokens.issue_user_token(req.client_id, user, access_scopes)
        token, lifetime = access.token, int(round(access.expires_at - req.tokens.clock()))
    body = {"token_type": "Bearer", "scope": granted.as_granted(), "expires_in": lifetime,
            "ext_expires_in": lifetime, "access_token": token}
    if rotate is not None:
        body["refresh_token"] = req.tokens.rotate(rotate, consented.stored()).token
    elif consented.offline:
        body["refresh_token"] = req.tokens.issue_refresh_token(
            req.client_id, user.oid, consented.stored()).token
    if "openid" in granted.oidc:
        body["id_token"] = _id_token(req, user, granted, nonce)
    if req.form.get("client_info") == "1":
        body["client_info"] = client_info(user.oid, req.sim.settings.tenant_id)
    return body


def _api_access_token(req: GrantRequest, user: UserClaims, granted: Scopes) -> str:
    """A signed v2 access token for the app's own exposed API (simulator/api_tokens.py)."""
    settings = req.sim.settings
    claims = api_tokens.access_token_claims(
        issuer=api_tokens.v2_issuer(req.base_url, settings.tenant_id), tenant_id=settings.tenant_id,
        client_id=req.client_id, user=user, scopes=tuple(sorted(u.rsplit("/", 1)[1] for u in granted.api)),
        lifetime=settings.access_token_lifetime)
    claims["azpacr"] = "1"  # this endpoint authenticates the client with its secret
    return api_tokens.signed_jwt(claims, req.sim.keys.signing)


def _id_token(req: GrantRequest, user: UserClaims, scopes: Scopes, nonce: str | None) -> str:
    now = int(req.tokens.clock())
    tid = req.sim.settings.tenant_id
    claims = {
        "aud": req.client_id, "iss": f"{req.base_url}/{tid}/v2.0", "iat": now, "nbf": now,
        "exp": now + ID_TOKEN_LIFETIME, "name": user.name, "oid": user.oid,
        "preferred_username": user.upn, "rh": "0.A" + secrets.token_urlsafe(24),
        "sub": _pairwise_sub(user.oid, req.client_id), "tid": tid,
        "uti": b64url(uuid.uuid4().bytes), "ver": "2.0",
    }
    if nonce is not None:
        claims["nonce"] = nonce  # echoed exactly as received at /authorize (MSAL sends a hash)
    if "email" in scopes.oidc:
        claims["email"] = user.upn
    return encode_jwt(claims)


def _pairwise_sub(oid: str, client_id: str) -> str:
    # v2 `sub` is pairwise: stable per user and app, different across apps.
    return b64url(hashlib.sha256(f"{oid}:{client_id}".encode()).digest()[:32])


def _pkce_ok(verifier: str, challenge: str, method: str | None) -> bool:
    if (method or "plain") == "S256":
        computed = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
    else:
        computed = verifier
    return hmac.compare_digest(computed, challenge)


def _required(form, name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise errors.missing_parameter(name)
    return value


GRANTS = {
    "authorization_code": authorization_code,
    "refresh_token": refresh_token,
    "client_credentials": client_credentials,
}
