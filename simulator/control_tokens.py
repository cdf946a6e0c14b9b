"""Control API for Entra ID's side of the Outlook add-in, under /_sim/entra (JSON, no auth).

- ``POST /_sim/entra/tokens`` stands in for Outlook's nested app authentication: it answers what
  Entra ID would give the add-in for a user of the tenant — a signed v2 access token for
  api://<client id>/access_as_user and an ID token. Tests forge wrong tokens with the same call:
  ``claims`` overrides any claim (``null`` removes it), ``kid`` signs with another (even unlisted) key.
- ``GET /_sim/entra/keys`` lists every key; ``POST /_sim/entra/keys/rotate`` makes a new signing key
  (``{"keep_previous": false}`` drops the old ones from the JWKS at once); ``DELETE
  /_sim/entra/keys/<kid>`` ends a rollover by taking an old key out of the JWKS.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from simulator import api_tokens
from simulator.control import as_control_api, json_body
from simulator.identity import user_by_id
from simulator.state import Simulator

control_tokens_bp = as_control_api(Blueprint("control_tokens", __name__, url_prefix="/_sim/entra"))


def _sim() -> Simulator:
    return current_app.extensions["simulator"]


def _base_url() -> str:
    return _sim().settings.base_url or request.host_url.rstrip("/")


@control_tokens_bp.post("/tokens")
def issue_tokens():
    """{"user": id or UPN, "scopes"?: [...], "lifetime"?: s, "claims"?: {...}, "kid"?: ...} -> tokens."""
    sim = _sim()
    settings = sim.settings
    body = json_body()
    key = str(body.get("user") or "")
    user = sim.tenant.get_user(key) if key and sim.tenant is not None else None
    if user is None:
        raise LookupError(f"no user {key}" if key else "user (id or userPrincipalName) is required")
    claims_of = user_by_id(user["id"])
    scopes = tuple(body.get("scopes", api_tokens.DEFAULT_SCOPES))
    unknown = [s for s in scopes if s not in settings.api_scopes]
    if unknown:  # Entra: AADSTS65005, the app does not expose this scope
        raise ValueError(f"the app registration exposes no scope {unknown[0]!r} (exposed: {list(settings.api_scopes)})")
    lifetime = body.get("lifetime", settings.access_token_lifetime)
    if not isinstance(lifetime, int) or lifetime <= 0:
        raise ValueError("lifetime must be a positive number of seconds")
    overrides = body.get("claims") or {}
    if not isinstance(overrides, dict):
        raise ValueError("claims must be an object")
    signing = sim.keys.get(body["kid"]) if body.get("kid") else sim.keys.signing
    common = {"issuer": api_tokens.v2_issuer(_base_url(), settings.tenant_id), "tenant_id": settings.tenant_id,
              "client_id": settings.client_id, "user": claims_of, "lifetime": lifetime}
    access = _with(api_tokens.access_token_claims(scopes=scopes, **common), overrides)
    id_token = _with(api_tokens.id_token_claims(nonce=body.get("nonce"), **common), overrides)
    return jsonify(token_type="Bearer", scope=" ".join(f"api://{settings.client_id}/{s}" for s in scopes),
                   expires_in=lifetime, kid=signing.kid,
                   access_token=api_tokens.signed_jwt(access, signing),
                   id_token=api_tokens.signed_jwt(id_token, signing)), 201


def _with(claims: dict, overrides: dict) -> dict:
    out = {**claims, **overrides}
    return {name: value for name, value in out.items() if value is not None}


@control_tokens_bp.get("/keys")
def list_keys():
    """Every key the tenant ever had, oldest first: kid, whether it signs, whether the JWKS lists it."""
    keys = _sim().keys
    signing = keys.signing
    return jsonify(signing_kid=signing.kid,
                   keys=[{"kid": k.kid, "signing": k is signing, "listed": k.listed} for k in keys.all()])


@control_tokens_bp.post("/keys/rotate")
def rotate_keys():
    """A new signing key; {"keep_previous": false} takes the old keys out of the JWKS now."""
    keep = json_body().get("keep_previous", True)
    if not isinstance(keep, bool):
        raise ValueError("keep_previous must be true or false")
    key = _sim().keys.rotate(keep_previous=keep)
    return jsonify(signing_kid=key.kid, listed=[k.kid for k in _sim().keys.listed()]), 201


@control_tokens_bp.delete("/keys/<kid>")
def unlist_key(kid: str):
    """Take a key out of the JWKS (it still exists, so a test can sign with a key nobody lists)."""
    _sim().keys.unlist(kid)
    return "", 204


@control_tokens_bp.get("/keys/<kid>/public.pem")
def public_pem(kid: str):
    """A key's public PEM (to prove an HS256 token "signed" with it as a secret is refused)."""
    return Response(_sim().keys.get(kid).public_pem(), mimetype="application/x-pem-file")
