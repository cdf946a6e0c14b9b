"""Signed v2 tokens for the API Sigsync's app registration exposes (api://<client id>/access_as_user).

This is what Entra ID hands the Outlook add-in through nested app authentication: an access token
whose audience is Sigsync's client id, and an ID token for the add-in itself. Claims follow
Microsoft's "Access token claims reference" and "ID token claims reference" for v2.0 tokens: `aud`
is the client id GUID, `iss` is https://<authority>/<tid>/v2.0, `scp` holds the scopes without the
Application ID URI, `azp`/`azpacr` name the calling client (a public client: "0"), `ver` is "2.0".
Tokens are RS256-signed with the tenant's current signing key (simulator/signing_keys.py).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid

from simulator.signing_keys import SigningKey
from simulator.tokens import UserClaims, b64url

DEFAULT_SCOPES = ("access_as_user",)


def v2_issuer(base_url: str, tenant_id: str) -> str:
    """The v2.0 issuer of a tenant's tokens, as its OpenID configuration names it."""
    return f"{base_url.rstrip('/')}/{tenant_id}/v2.0"


def signed_jwt(claims: dict, key: SigningKey) -> str:
    """header.claims.signature with RS256 and the key's kid in the header, as Entra signs."""
    header = {"typ": "JWT", "alg": "RS256", "kid": key.kid}
    parts = [b64url(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims)]
    signing_input = ".".join(parts).encode("ascii")
    return ".".join([*parts, b64url(key.sign(signing_input))])


def pairwise_subject(client_id: str, oid: str) -> str:
    """`sub`: unique per user and application (Entra's is pairwise), stable across sign-ins; the same
    value the /token endpoint's ID tokens carry (simulator/identity_grants.py)."""
    return b64url(hashlib.sha256(f"{oid}:{client_id}".encode()).digest()[:32])


def base_claims(*, issuer: str, tenant_id: str, audience: str, client_id: str, user: UserClaims,
                lifetime: int, now: float | None = None) -> dict:
    """The claims every v2 token for a user carries."""
    issued = int(time.time() if now is None else now)
    return {
        "aud": audience, "iss": issuer, "iat": issued, "nbf": issued, "exp": issued + lifetime,
        "aio": b64url(secrets.token_bytes(48)), "name": user.name, "oid": user.oid,
        "preferred_username": user.upn, "rh": "0.A" + b64url(secrets.token_bytes(24)) + ".",
        "sub": pairwise_subject(client_id, user.oid), "tid": tenant_id,
        "uti": b64url(secrets.token_bytes(16)), "ver": "2.0",
    }


def access_token_claims(*, issuer: str, tenant_id: str, client_id: str, user: UserClaims,
                        scopes: tuple[str, ...] = DEFAULT_SCOPES, lifetime: int = 3599) -> dict:
    """A delegated v2 access token for Sigsync's own API, requested by Sigsync's add-in."""
    claims = base_claims(issuer=issuer, tenant_id=tenant_id, audience=client_id, client_id=client_id,
                         user=user, lifetime=lifetime)
    claims.update(azp=client_id, azpacr="0", scp=" ".join(scopes),
                  sid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"session:{tenant_id}:{user.oid}")))
    return claims


def id_token_claims(*, issuer: str, tenant_id: str, client_id: str, user: UserClaims,
                    lifetime: int = 3599, nonce: str | None = None) -> dict:
    """The ID token the add-in gets next to its access token: same audience, no scopes."""
    claims = base_claims(issuer=issuer, tenant_id=tenant_id, audience=client_id, client_id=client_id,
                         user=user, lifetime=lifetime)
    if nonce:
        claims["nonce"] = nonce
    return claims
