"""Entra ID (v2.0) for the simulator: discovery documents and the token endpoint.

Enough of login.microsoftonline.com that the real MSAL Python works against it unchanged; the
browser side (sign-in, consent, admin consent) is in simulator/identity_signin.py.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from urllib.parse import unquote_plus, urlsplit

from flask import Blueprint, Response, current_app, request

from simulator import identity_errors as errors
from simulator.identity_errors import AadstsError
from simulator.identity_grants import GRANTS, GrantRequest
from simulator.state import Simulator
from simulator.tokens import UserClaims
from simulator.wsgi_server import DROP_CONNECTION

identity_bp = Blueprint("identity", __name__, template_folder="templates")

GENERIC_TENANTS = ("common", "organizations")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
# Headers Entra puts on every /token answer (recorded), and on discovery documents.
_TOKEN_HEADERS = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache", "Expires": "-1",
                  "X-Content-Type-Options": "nosniff",
                  "Strict-Transport-Security": "max-age=31536000; includeSubDomains"}
_DISCOVERY_HEADERS = {"Cache-Control": "max-age=86400, private", "Access-Control-Allow-Origin": "*",
                      "Access-Control-Allow-Methods": "GET, OPTIONS", "X-Content-Type-Options": "nosniff"}


def current_sim() -> Simulator:
    """The Simulator this app serves."""
    return current_app.extensions["simulator"]


def base_url() -> str:
    """https://host:port as clients reach the simulator."""
    return current_sim().settings.base_url or request.host_url.rstrip("/")


def known_tenant(segment: str) -> bool:
    """The tenant id or domain (any case), or one of the multi-tenant aliases."""
    settings = current_sim().settings
    return segment.lower() in (settings.tenant_id.lower(), settings.tenant_domain.lower(), *GENERIC_TENANTS)


@identity_bp.before_request
def apply_faults() -> Response | None:
    """Faults injected for surface "identity": latency, a dropped connection, 429 or 503/504."""
    faults = current_sim().faults
    if faults is None:
        return None
    decision = faults.decide(request.method, request.path, "identity")
    if decision.latency_ms:
        time.sleep(decision.latency_ms / 1000)
    if decision.drop:
        request.environ[DROP_CONNECTION] = True
        return Response(status=500)
    if decision.failure is None:
        return None
    headers = dict(_TOKEN_HEADERS)
    retry_after = decision.failure.retry_after_header()
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if decision.failure.status == 429:  # Entra throttles with a plain-text body (observed)
        return Response("Too Many Requests", 429, headers, mimetype="text/plain")
    err = AadstsError("temporarily_unavailable", 90033, "A transient error has occurred. Please try again.",
                      status=decision.failure.status or 503)
    return json_response(err.body(base_url()), err.status, headers)


@identity_bp.after_request
def record(response: Response) -> Response:
    """Stamp Entra's diagnostic headers and log the request with surface "identity"."""
    response.headers["x-ms-request-id"] = str(uuid.uuid4())
    response.headers["x-ms-ests-server"] = "sigsync-simulator"
    current_sim().log.add(
        request.method, request.path, request.query_string.decode(), response.status_code, "identity")
    return response


# -- discovery ---------------------------------------------------------------------------


@identity_bp.get("/<tenant>/v2.0/.well-known/openid-configuration")
def openid_configuration(tenant: str):
    """The tenant's OIDC discovery document, endpoints pointing at this simulator."""
    tid = current_sim().settings.tenant_id
    if not known_tenant(tenant):
        body = errors.tenant_not_found(tenant, "invalid_tenant").body(base_url())
        return json_response(body, 400, _DISCOVERY_HEADERS)
    base = base_url()
    generic = tenant.lower() in GENERIC_TENANTS
    path = f"{base}/{tenant.lower() if generic else tid}"
    doc = {
        "token_endpoint": f"{path}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{path}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        # For common/organizations Entra literally answers "{tenantid}" in the issuer.
        "issuer": f"{base}/{'{tenantid}' if generic else tid}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{path}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{path}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{path}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                             "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time",
                             "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
                             "c_hash", "email"],
        "kerberos_endpoint": f"{path}/kerberos",
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": urlsplit(base).netloc,
        "rbac_url": "https://pas.windows.net",
    }
    return json_response(doc, 200, _DISCOVERY_HEADERS)


@identity_bp.get("/<tenant>/discovery/v2.0/keys")
def keys(tenant: str):
    """The JWKS: the RS256 keys that sign v2 tokens for Sigsync's API (simulator/signing_keys.py).

    Graph's own tokens stay unsigned: Graph checks them by lookup, as a resource server checks a signature."""
    return json_response(current_sim().keys.jwks(f"{base_url()}/{{tenantid}}/v2.0"), 200, _DISCOVERY_HEADERS)


@identity_bp.get("/common/discovery/instance")
def instance_discovery():
    """Instance discovery, answering for this simulator's host only (MSAL checks invalid_instance)."""
    base = base_url()
    host = urlsplit(base).netloc
    endpoint = request.args.get("authorization_endpoint", "")
    # MSAL sends the host without the port; all loopback names reach this simulator.
    asked = (urlsplit(endpoint).hostname or "").lower()
    if asked not in {urlsplit(base).hostname, *_LOOPBACK}:
        err = AadstsError("invalid_instance", 50049, "Unknown or invalid instance.")
        return json_response(err.body(base), 400, _DISCOVERY_HEADERS)
    tenant = urlsplit(endpoint).path.strip("/").split("/")[0] or "common"
    doc = {
        "tenant_discovery_endpoint": f"{base}/{tenant}/v2.0/.well-known/openid-configuration",
        "api-version": request.args.get("api-version", "1.1"),
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }
    return json_response(doc, 200, _DISCOVERY_HEADERS)


# -- token endpoint ----------------------------------------------------------------------


@identity_bp.post("/<tenant>/oauth2/v2.0/token")
def token(tenant: str):
    """The token endpoint: client authentication, then one of the supported grants."""
    sim = current_sim()
    try:
        if not known_tenant(tenant):
            raise errors.tenant_not_found(tenant)
        form = request.form.to_dict()
        client_id = _authenticate_client(form)
        grant_type = form.get("grant_type") or ""
        if not grant_type:
            raise errors.missing_parameter("grant_type")
        if grant_type not in GRANTS:
            raise errors.unsupported_grant_type(grant_type)
        req = GrantRequest(sim, client_id, form, base_url(), user_by_id)
        return json_response(GRANTS[grant_type](req), 200, _TOKEN_HEADERS)
    except AadstsError as err:
        return json_response(err.body(base_url()), err.status, _TOKEN_HEADERS)


@identity_bp.get("/<tenant>/oauth2/v2.0/token")
def token_by_get(tenant: str):
    """Entra refuses a GET on the token endpoint with AADSTS900561."""
    err = AadstsError("invalid_request", 900561,
                      "The endpoint only accepts POST, OPTIONS requests. Received a GET request.")
    return json_response(err.body(base_url()), err.status, _TOKEN_HEADERS)


# -- helpers -----------------------------------------------------------------------------


def _authenticate_client(form: dict[str, str]) -> str:
    """client_secret in the body or HTTP Basic (form-urlencoded first, per RFC 6749 2.3.1)."""
    settings = current_sim().settings
    basic = request.authorization
    basic_id = unquote_plus(basic.username) if basic and basic.username else ""
    basic_secret = unquote_plus(basic.password) if basic and basic.password else ""
    client_id = form.get("client_id") or basic_id
    if not client_id:
        raise errors.missing_parameter("client_id")
    if client_id != settings.client_id:
        raise errors.unknown_client(client_id, settings.tenant_domain)
    secret = form.get("client_secret") or basic_secret
    if not secret:
        raise errors.missing_client_secret()
    if not secrets.compare_digest(secret.encode(), settings.client_secret.encode()):
        raise errors.invalid_client_secret(client_id)
    return client_id


def json_response(body: dict, status: int, headers: dict[str, str]) -> Response:
    """JSON with the charset Entra declares."""
    return Response(json.dumps(body), status, headers, content_type="application/json; charset=utf-8")


# -- users -------------------------------------------------------------------------------


def admin_user(sim: Simulator) -> UserClaims:
    """The demo tenant admin who signs in on the consent page (from the tenant when it has them)."""
    upn = sim.settings.admin_upn
    found = _tenant_user(sim, upn)
    if found is not None:
        return found
    oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{sim.settings.tenant_id}:{upn.lower()}"))
    return UserClaims(oid=oid, upn=upn, name="Simulator Admin", given_name="Simulator", family_name="Admin")


def user_by_id(user_id: str) -> UserClaims:
    """The user a code or refresh token was issued to."""
    sim = current_sim()
    admin = admin_user(sim)
    if admin.oid == user_id:
        return admin
    return _tenant_user(sim, user_id) or UserClaims(oid=user_id, upn="", name="")


def _tenant_user(sim: Simulator, key: str) -> UserClaims | None:
    user = sim.tenant.get_user(key) if sim.tenant is not None else None
    if user is None:
        return None
    return UserClaims(oid=user["id"], upn=user["userPrincipalName"], name=user.get("displayName") or "",
                      given_name=user.get("givenName") or "", family_name=user.get("surname") or "")
