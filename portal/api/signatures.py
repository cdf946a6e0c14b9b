"""The signature API: ``GET /api/v1/signatures/{email}?compose=new|reply`` with an organisation API token.

``Authorization: Bearer <token>``. Answers the employee's rendered signature as JSON with an ``ETag``
(``304`` to a matching ``If-None-Match``). Unknown, excluded or deactivated employees are 404 (a paused
employee still gets a signature: pausing stops the sync, not the signature); a token reads only its
own organisation's employees. Described by ``/api/v1/openapi.json``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify, request
from sqlmodel import Session, select
from werkzeug.wrappers import Response

from portal import web
from portal.api import tokens
from portal.extensions import csrf
from portal.models import Employee, SignatureTemplate
from portal.signatures import render as rendering
from portal.signatures import resolve, service

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
SERVED_STATUSES = ("active", "paused")


def _problem(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="sigsync"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/signatures/<path:email>")
@web.public
def signature(email: str) -> Response:
    session: Session = web.db_session()
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    token = tokens.authenticate(session, presented.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        return _problem(401, "A valid API token is needed: Authorization: Bearer <token> (create one in the portal).")
    compose = request.args.get("compose", "new")
    if compose not in resolve.COMPOSE:
        return _problem(400, "compose must be 'new' or 'reply'.")
    employee = session.exec(select(Employee).where(Employee.organization_id == token.organization_id,
                                                   Employee.email == email.strip().lower())).first()
    if employee is None or employee.status not in SERVED_STATUSES:
        return _problem(404, "No employee with a signature has this address.")
    return signature_answer(session, employee, compose, compose, _problem,
                            none_applies="No signature applies to this employee (no default and no assignment).")


def signature_answer(session: Session, employee: Employee, compose: str, slot: str,
                     problem: Callable[[int, str], Response], *, none_applies: str) -> Response:
    """The employee's signature for ``slot`` ("new" or "reply") as JSON, with an ETag (304 when it matches).

    ``compose`` is echoed as asked ("forward" gets the reply slot); ``problem`` makes the error answers in
    the calling API's style. Both APIs answer through here, so a signature reads the same in each."""
    choice = resolve.for_employee(session, employee.organization_id, employee.id)[slot]
    if choice.template_id is None:
        return problem(404, none_applies)
    template = session.get(SignatureTemplate, choice.template_id)
    try:
        compiled = rendering.compile_template(template.html, template.text if template.text_is_custom else None)
        out = rendering.render(compiled, service.context_for_employee(session, employee))
    except rendering.TemplateProblem as refused:
        return problem(422, str(refused))
    body: dict[str, Any] = {"email": employee.email, "compose": compose, "signature": template.name,
                            "reason": choice.reason, "html": out.html, "text": out.text}
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    etag = hashlib.sha256(payload).hexdigest()[:32]
    if etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(payload, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Authorization")
    return response


@bp.get("/openapi.json")
@web.public
def openapi() -> Response:
    return jsonify(OPENAPI)


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Sigsync signature API", "version": "1"},
    "components": {
        "securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                      "description": "An organisation API token, created in the portal."}},
        "schemas": {
            "Signature": {"type": "object", "required": ["email", "compose", "signature", "reason", "html", "text"],
                          "properties": {"email": {"type": "string"}, "compose": {"enum": ["new", "reply"]},
                                         "signature": {"type": "string"}, "reason": {"type": "string"},
                                         "html": {"type": "string", "maxLength": rendering.MAX_HTML_CHARS},
                                         "text": {"type": "string"}}, "additionalProperties": False},
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        },
    },
    "security": [{"token": []}],
    "paths": {"/api/v1/signatures/{email}": {"get": {
        "summary": "An employee's filled-in signature",
        "parameters": [
            {"name": "email", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "compose", "in": "query", "required": False,
             "schema": {"enum": ["new", "reply"], "default": "new"}},
            {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {"description": "The signature", "headers": {"ETag": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Signature"}}}},
            "304": {"description": "Unchanged since the ETag sent in If-None-Match"},
            "400": {"description": "Bad compose value",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "401": {"description": "Missing, unknown or revoked token",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "404": {"description": "Unknown, excluded or deactivated employee, or no signature applies",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        },
    }}},
}
