"""Entra ID's browser side: /authorize, the sign-in and consent page, and admin consent.

Errors that can't be trusted to the redirect URI yet (unknown tenant or app, unregistered
redirect URI) get Entra's own error page; everything after that goes back to the app.
"""

from __future__ import annotations

import secrets
import uuid
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, redirect, render_template, request

from simulator import identity_errors as errors
from simulator.identity import GENERIC_TENANTS, admin_user, apply_faults, current_sim, known_tenant, record
from simulator.identity_errors import AadstsError
from simulator.identity_scopes import app_role_lines, consent_lines, parse_delegated
from simulator.tokens import client_info

signin_bp = Blueprint("identity_signin", __name__, template_folder="templates")
signin_bp.before_request(apply_faults)
signin_bp.after_request(record)

RESPONSE_MODES = ("query", "fragment", "form_post")
_WRONG_PASSWORD = "Your account or password is incorrect. If you don't remember your password, reset it now."


@signin_bp.route("/<tenant>/oauth2/v2.0/authorize", methods=["GET", "POST"])
def authorize(tenant: str):
    """Validate an authorization request, then show sign-in and consent (or redirect an error)."""
    params = request.values
    untrusted = _check_app_and_redirect(tenant, params)
    if untrusted:
        return _error_page(untrusted)
    redirect_uri, state = params["redirect_uri"], params.get("state")
    response_mode = params.get("response_mode", "query")
    try:
        if response_mode not in RESPONSE_MODES:
            response_mode = "query"
            raise AadstsError("invalid_request", 900144, "The 'response_mode' parameter is invalid.")
        scopes = _validate_authorize(params)
    except AadstsError as err:
        return _redirect_back(redirect_uri, err.redirect_params(state), response_mode)
    held = {
        "kind": "authorize", "client_id": params["client_id"], "redirect_uri": redirect_uri,
        "state": state, "response_mode": response_mode, "scopes": scopes.stored(),
        "nonce": params.get("nonce"), "code_challenge": params.get("code_challenge"),
        "code_challenge_method": params.get("code_challenge_method") if params.get("code_challenge") else None,
        "client_info": params.get("client_info") == "1",
        "login": params.get("login_hint") or current_sim().settings.admin_upn, "tenant": tenant,
        "lines": consent_lines(scopes),
    }
    return _sign_in_page(held)


@signin_bp.route("/<tenant>/adminconsent", methods=["GET"])
@signin_bp.route("/<tenant>/v2.0/adminconsent", methods=["GET"], endpoint="adminconsent_v2")
def adminconsent(tenant: str):
    """Ask a tenant admin to grant the app its application permissions for the whole tenant."""
    params = request.args
    if tenant.lower() in GENERIC_TENANTS:  # documented: admin consent needs a specific tenant
        return _error_page(errors.invalid_tenant_identifier(tenant))
    untrusted = _check_app_and_redirect(tenant, params)
    if untrusted:
        return _error_page(untrusted)
    v2 = request.path.rstrip("/").endswith("/v2.0/adminconsent")
    if v2 and not params.get("scope"):
        return _redirect_back(params["redirect_uri"], errors.missing_parameter("scope").redirect_params(
            params.get("state")), "query")
    settings = current_sim().settings
    held = {
        "kind": "adminconsent", "v2": v2, "client_id": params["client_id"], "tenant": tenant,
        "redirect_uri": params["redirect_uri"], "state": params.get("state"),
        "scope": params.get("scope"), "login": settings.admin_upn, "response_mode": "query",
        "lines": app_role_lines(settings.app_permissions),
    }
    return _sign_in_page(held)


@signin_bp.post("/<tenant>/login")
def login(tenant: str):
    """The sign-in and consent form: Accept signs the admin in and consents, Cancel declines."""
    sim = current_sim()
    ctx = request.form.get("ctx", "")
    held = sim.tokens.sign_in(ctx)
    if held is None:
        err = AadstsError("invalid_request", 90014, "The sign-in session has expired or is unknown. Start again.")
        return _error_page(err)
    if request.form.get("action") != "accept":
        sim.tokens.finish_sign_in(ctx)
        return _redirect_back(held["redirect_uri"], _declined(held), held["response_mode"])
    login_name = request.form.get("login", "").strip()
    if not _password_ok(login_name, request.form.get("passwd", "")):
        return _sign_in_page(held, ctx=ctx, error=_WRONG_PASSWORD, login=login_name)
    sim.tokens.finish_sign_in(ctx)
    if held["kind"] == "adminconsent":
        return _grant_admin_consent(held)
    return _issue_code(held)


# -- helpers -----------------------------------------------------------------------------


def _check_app_and_redirect(tenant: str, params) -> AadstsError | None:
    """Errors Entra shows on its own page, because the redirect URI can't be trusted yet."""
    settings = current_sim().settings
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    if not known_tenant(tenant):
        return errors.tenant_not_found(tenant)
    if not client_id:
        return errors.missing_parameter("client_id")
    if client_id != settings.client_id:
        return errors.unknown_client(client_id, settings.tenant_domain)
    if not redirect_uri:
        return errors.missing_parameter("redirect_uri")
    if not _registered(redirect_uri, settings.redirect_uris):
        return errors.redirect_uri_unregistered(redirect_uri, client_id)
    return None


def _password_ok(login_name: str, password: str) -> bool:
    settings = current_sim().settings
    same_user = login_name.lower() == settings.admin_upn.lower()
    return secrets.compare_digest(password.encode(), settings.admin_password.encode()) and same_user


def _declined(held: dict) -> dict[str, str]:
    """The redirect query after Cancel, as each endpoint documents it."""
    state = held.get("state")
    if held["kind"] == "authorize":
        return errors.user_declined().redirect_params(state)
    if held["v2"]:
        return {"admin_consent": "True", **errors.admin_declined().redirect_params(state)}
    declined = {"error": "permission_denied", "error_description": "The admin canceled the request"}
    return declined if state is None else {**declined, "state": state}


def _registered(redirect_uri: str, registered: tuple[str, ...]) -> bool:
    """Exact match, except that loopback URIs ignore the port (RFC 8252, as Entra documents)."""
    if redirect_uri in registered:
        return True
    sent = urlsplit(redirect_uri)
    if sent.scheme != "http" or sent.hostname not in ("localhost", "127.0.0.1", "::1"):
        return False
    for uri in registered:
        reg = urlsplit(uri)
        if (reg.scheme, reg.hostname, reg.path, reg.query) == (sent.scheme, sent.hostname, sent.path, sent.query):
            return True
    return False


def _validate_authorize(params):
    response_type = params.get("response_type", "")
    if not response_type:
        raise errors.missing_parameter("response_type")
    if response_type != "code":
        raise errors.unsupported_response_type(response_type)
    scope = params.get("scope", "")
    if not scope:
        raise errors.missing_parameter("scope")
    settings = current_sim().settings
    scopes = parse_delegated(scope, settings.app_permissions, settings.client_id, settings.api_scopes)
    if params.get("code_challenge"):
        method = params.get("code_challenge_method", "plain")
        if method not in ("S256", "plain"):
            raise errors.invalid_code_challenge_method(method)
        if not 43 <= len(params["code_challenge"]) <= 128:
            raise AadstsError("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
    if params.get("prompt") == "none":
        raise errors.login_required()  # the simulator keeps no browser session
    return scopes


def _issue_code(held: dict):
    sim = current_sim()
    admin = admin_user(sim)
    code = sim.tokens.issue_code(
        client_id=held["client_id"], redirect_uri=held["redirect_uri"], scopes=tuple(held["scopes"]),
        user_id=admin.oid, nonce=held["nonce"], code_challenge=held["code_challenge"],
        code_challenge_method=held["code_challenge_method"],
    )
    params = {"code": code.code}
    if held.get("client_info"):
        params["client_info"] = client_info(admin.oid, sim.settings.tenant_id)
    if held.get("state") is not None:
        params["state"] = held["state"]
    params["session_state"] = str(uuid.uuid4())
    return _redirect_back(held["redirect_uri"], params, held["response_mode"])


def _grant_admin_consent(held: dict):
    sim = current_sim()
    sim.tokens.admin_consent = True
    params = {"admin_consent": "True", "tenant": sim.settings.tenant_id}
    if held["v2"]:
        params["scope"] = held["scope"]
    if held.get("state") is not None:
        params["state"] = held["state"]
    return _redirect_back(held["redirect_uri"], params, "query")


def _sign_in_page(held: dict, ctx: str | None = None, error: str = "", login: str = ""):
    sim = current_sim()
    ctx = ctx or sim.tokens.hold_sign_in(held)
    html = render_template(
        "identity/sign_in.html", ctx=ctx, tenant=held["tenant"], lines=held["lines"], error=error,
        login=login or held["login"], app_name=sim.settings.app_display_name,
        admin=held["kind"] == "adminconsent", reply_host=urlsplit(held["redirect_uri"]).netloc,
    )
    return Response(html, 200, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
                    mimetype="text/html")


def _error_page(err: AadstsError):
    html = render_template("identity/error.html", err=err)
    return Response(html, err.status, mimetype="text/html")


def _redirect_back(redirect_uri: str, params: dict[str, str], response_mode: str):
    if response_mode == "form_post":
        html = render_template("identity/form_post.html", action=redirect_uri, params=params)
        return Response(html, 200, mimetype="text/html")
    if response_mode == "fragment":
        return redirect(f"{redirect_uri}#{urlencode(params)}", 302)
    joiner = "&" if urlsplit(redirect_uri).query else "?"
    return redirect(f"{redirect_uri}{joiner}{urlencode(params)}", 302)
