"""The add-in API: ``GET /api/v1/me/signature?compose=new|reply|forward`` with an Entra ID access token.

``Authorization: Bearer <v2 access token for api://<MS_CLIENT_ID>/access_as_user>`` (portal.api.entra_tokens).
The person is the token's ``oid`` — the Graph user id the sync stores as ``Employee.m365_id`` — in
the organisation connected to the token's ``tid``; nothing the client sends names them otherwise.

"Sync active" means the tenant has a connection whose ``state`` is ``active``: ``paused``,
``needs_consent`` and ``disconnected`` answer 409 (the add-in leaves the e-mail as it is). A tenant
no organisation ever connected is a token we do not accept (401), decided before asking Microsoft
anything, so strangers' tokens cost no network. The answer is the signature API's JSON with an
``ETag``; forward uses the reply slot. CORS is granted to SIGSYNC_PUBLIC_URL's origin only: Outlook
runs the add-in's pages from there. No cookies are read, so no CSRF either (the blueprint is exempt).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import func
from sqlmodel import Session, select
from werkzeug.wrappers import Response

from portal import web
from portal.api import entra_tokens
from portal.api.entra_tokens import IdentityUnavailable, InvalidToken, TokenValidator
from portal.api.signatures import signature_answer
from portal.models import Connection, Employee

log = logging.getLogger(__name__)

COMPOSE = {"new": "new", "reply": "reply", "forward": "reply"}  # asked compose -> the slot that answers it
SERVED_STATUSES = ("active", "paused")  # pausing stops the sync for a person, not their signature
_NOT_ACTIVE = {
    "paused": "Your organisation's Microsoft 365 user sync is paused in Sigsync. An administrator can resume "
              "it; until then the Outlook add-in inserts no signature.",
    "needs_consent": "Your organisation's Microsoft 365 connection needs an administrator to reconnect it in "
                     "Sigsync (consent was withdrawn); until then the Outlook add-in inserts no signature.",
    "disconnected": "Your organisation has disconnected Microsoft 365 from Sigsync; the Outlook add-in works "
                    "only while the user sync is active.",
}
_TENANT_SHARED = ("Your Microsoft 365 tenant is connected to more than one Sigsync organisation, so Sigsync "
                  "cannot tell whose signature you get. An administrator must disconnect it from all but one.")
_EXTENSION = "sigsync.entra_tokens"


def validator() -> TokenValidator:
    """The app's token validator (built once from the configuration; it caches Entra ID's keys)."""
    found = current_app.extensions.get(_EXTENSION)
    if found is None:
        config = web.app_config()
        found = TokenValidator(config.ms_authority_host, config.ms_client_id, config.ca_bundle,
                               timeout=min(10, config.http_timeout))
        current_app.extensions[_EXTENSION] = found
    return found


def allowed_origin() -> str:
    """The add-in's origin: scheme://host[:port] of SIGSYNC_PUBLIC_URL."""
    parts = urlsplit(web.app_config().public_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def signature() -> Response:
    """The view behind GET/OPTIONS /api/v1/me/signature."""
    if request.method == "OPTIONS":
        return _cors(Response(status=204), preflight=True)
    return _cors(_answer())


def _answer() -> Response:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return _problem(401, "Sign in with Microsoft 365: Authorization: Bearer <Entra ID access token> is needed.",
                        'Bearer realm="sigsync"')
    session: Session = web.db_session()
    try:
        tenant_id = entra_tokens.unverified_tenant(presented.strip())
        connections = _connections(session, tenant_id)
        if not connections:
            raise InvalidToken("The token's Microsoft 365 tenant is not connected to Sigsync.")
        user = validator().validate(presented.strip(), tenant_id)
    except InvalidToken as refused:
        log.info("Add-in token refused: %s", refused)
        return _problem(401, str(refused), f'Bearer error="invalid_token", error_description="{refused}"')
    except IdentityUnavailable as down:
        log.warning("Add-in token not checked: %s", down)
        response = _problem(503, f"Sigsync cannot check the sign-in right now; try again shortly. {down}")
        response.headers["Retry-After"] = "30"
        return response
    # One organisation speaks for a tenant: with two, one could put its signature into the other's mail.
    live = {c.organization_id: c for c in connections if c.state != "disconnected"}
    if len(live) > 1:
        return _problem(409, _TENANT_SHARED)
    owner = next(iter(live.values()), connections[0])
    if owner.state != "active":
        return _problem(409, _NOT_ACTIVE.get(owner.state, _NOT_ACTIVE["disconnected"]))
    compose = request.args.get("compose", "new")
    if compose not in COMPOSE:
        return _problem(400, "compose must be 'new', 'reply' or 'forward'.")
    employee = session.exec(select(Employee).where(Employee.organization_id == owner.organization_id,
                                                   Employee.m365_id == user.object_id)).first()
    if employee is None or employee.status not in SERVED_STATUSES:
        return _problem(404, "Sigsync has no signature for you: the Microsoft 365 user sync does not include you, "
                             "or you are excluded or deactivated.")
    return _signature(session, employee, compose)


def _connections(session: Session, tenant_id: str) -> list[Connection]:
    """The tenant's connections, the live (not disconnected) ones first, newest first."""
    rows = session.exec(select(Connection).where(func.lower(Connection.tenant_id) == tenant_id)
                        .order_by(Connection.id.desc())).all()
    return sorted(rows, key=lambda c: c.state == "disconnected")


def _signature(session: Session, employee: Employee, compose: str) -> Response:
    return signature_answer(session, employee, compose, COMPOSE[compose], _problem,
                            none_applies="No signature applies to you yet (no default and no assignment).")


def _problem(status: int, message: str, challenge: str | None = None) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    if challenge:
        response.headers["WWW-Authenticate"] = challenge
    response.headers["Cache-Control"] = "no-store"
    return response


def _cors(response: Response, preflight: bool = False) -> Response:
    """CORS for the add-in's own origin only; any other origin gets no CORS headers (the browser blocks it)."""
    response.vary.add("Origin")
    origin = request.headers.get("Origin", "")
    if not origin or origin.lower() != allowed_origin():
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    if preflight:
        response.headers["Access-Control-Allow-Methods"] = "GET"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, If-None-Match"
        response.headers["Access-Control-Max-Age"] = "600"
    else:
        response.headers["Access-Control-Expose-Headers"] = "ETag, WWW-Authenticate"
    return response


def register(bp: Blueprint, openapi: dict[str, Any]) -> None:
    """Add the route to the API blueprint and describe it in the API's OpenAPI document."""
    signature.public = True  # type: ignore[attr-defined]  # the bearer token is the sign-in, not a session
    bp.add_url_rule("/me/signature", "me_signature", signature, methods=["GET", "OPTIONS"],
                    provide_automatic_options=False)
    openapi["components"]["securitySchemes"]["entra"] = ENTRA_SCHEME
    shared = openapi["components"]["schemas"]["Signature"]
    openapi["components"]["schemas"]["MySignature"] = {
        **shared, "properties": {**shared["properties"], "compose": {"enum": list(COMPOSE)}}}
    openapi["paths"]["/api/v1/me/signature"] = OPENAPI_PATH


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


ENTRA_SCHEME: dict[str, Any] = {
    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
    "description": "A Microsoft Entra ID v2 access token for api://<MS_CLIENT_ID>/access_as_user (the Outlook "
                   "add-in gets it with nested app authentication).",
}
OPENAPI_PATH: dict[str, Any] = {"get": {
    "summary": "The signed-in person's filled-in signature, for the Outlook add-in",
    "security": [{"entra": []}],
    "parameters": [
        {"name": "compose", "in": "query", "required": False,
         "schema": {"enum": list(COMPOSE), "default": "new"}},
        {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
    ],
    "responses": {
        "200": {"description": "The signature (forward gets the reply signature)",
                "headers": {"ETag": {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MySignature"}}}},
        "304": {"description": "Unchanged since the ETag sent in If-None-Match"},
        "400": _error("Bad compose value"),
        "401": {**_error("Missing or invalid token: WWW-Authenticate says why (error=\"invalid_token\")"),
                "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}}},
        "404": _error("The sync does not know the person, they are excluded or deactivated, or no signature applies"),
        "409": _error("The organisation's Microsoft 365 user sync is not active (paused, needs consent, disconnected)"),
        "422": _error("The signature template cannot be filled in"),
        "503": _error("Entra ID's keys could not be fetched to check the token"),
    },
}}
