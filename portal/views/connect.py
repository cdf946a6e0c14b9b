"""Step 1: connect Microsoft 365 (or reconnect one that needs consent), and disconnect.

Two ways in, both coming back to the one redirect URI registered for Sigsync
(``SIGSYNC_PUBLIC_URL/connect/callback``):

- "Connect with Microsoft": an administrator signs in (MSAL's auth-code flow with PKCE and state);
  Sigsync keeps the refresh token, encrypted, and reads with delegated permissions.
- "Connect with application permissions": an administrator grants admin consent for the tenant;
  Sigsync then reads with client credentials.

What was started is kept in the browser's session under ``FLOW_KEY`` and taken out by the first
answer that comes back, so an answer replayed, forged or arriving after ``FLOW_MAX_AGE`` ends on a
page that says so instead of connecting anything.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, request, url_for
from flask import session as browser_session
from werkzeug.wrappers import Response

from portal import audit, connections, web
from portal.app import CONTENT_SECURITY_POLICY
from portal.connections import ConnectionProblem
from portal.db import get_engine
from portal.m365 import auth as m365_auth
from portal.m365.errors import (
    ConsentFlowError,
    ConsentRequired,
    GraphError,
    GraphUnavailable,
    M365Error,
    TokenError,
)
from portal.models import Connection

bp = Blueprint("connect", __name__, url_prefix="/connect")

FLOW_KEY = "m365_connect"
FLOW_MAX_AGE = 30 * 60  # seconds; Microsoft's codes live ~10 minutes, a consent page left longer is stale
CONFIRM_WORD = "DISCONNECT"
_TENANT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?")
_GENERIC_TENANTS = ("common", "organizations", "consumers")
_AADSTS = re.compile(r"AADSTS(\d+)")
MODE_LABELS = {"delegated": "an administrator's sign-in", "app": "application permissions"}

# What Sigsync asks for, in the words Microsoft's consent page uses, and why.
PERMISSIONS = (
    ("Maintain access to data you have given it access to", "offline_access",
     "Lets the daily sync run while nobody is signed in, without asking an administrator to sign in each time."),
    ("Read all users' full profiles", "User.Read.All",
     "Names, addresses, job titles, phone numbers, managers and photos are what signatures are made of."),
    ("Read all groups", "Group.Read.All",
     "Import rules can say \"members of this group\"; Sigsync reads group names and members for them."),
)


@dataclass(frozen=True)
class Outcome:
    """How a connection attempt ended, in the admin's words."""

    title: str
    what: str
    todo: str
    status: int = 400


# --- the page --------------------------------------------------------------------------------


@bp.get("/")
def index() -> Response:
    """Step 1: what Sigsync will be allowed to do, and the buttons that connect."""
    connection = connections.current_connection(web.db_session(), web.current_org().id)
    return _connect_page(connection)


def _connect_page(connection: Connection | None, status: int = 200, tenant: str = "",
                  errors: dict[str, str] | None = None) -> Response:
    suggested = tenant or (connection.tenant_id if connection is not None else "")
    response = web.render("connect/index.html", status=status, connection=connection, permissions=PERMISSIONS,
                          tenant=suggested, errors=errors or {}, redirect_uri=_redirect_uri(),
                          mode_labels=MODE_LABELS)
    return _allow_forms_to_microsoft(response)


# --- starting ------------------------------------------------------------------------------------


@bp.post("/start")
def start() -> Response:
    """"Connect with Microsoft": send the admin to Microsoft's sign-in and consent page."""
    connection, refusal = _connectable()
    if refusal is not None:
        return refusal
    try:
        flow = m365_auth.begin_consent(web.app_config(), _redirect_uri())
    except M365Error as exc:
        return _problem(_failure_outcome(exc))
    _remember({"kind": "delegated", "flow": flow}, connection)
    return web.redirect(flow["auth_uri"])


@bp.post("/app")
def start_app() -> Response:
    """"Connect with application permissions": send a tenant admin to Microsoft's admin consent page."""
    connection, refusal = _connectable()
    if refusal is not None:
        return refusal
    tenant = request.form.get("tenant", "").strip()
    problem = _tenant_problem(tenant)
    if problem:
        return _connect_page(connection, status=422, tenant=tenant, errors={"tenant": problem})
    state = secrets.token_urlsafe(32)
    url = m365_auth.admin_consent_url(web.app_config(), tenant, _redirect_uri(), state)
    _remember({"kind": "app", "state": state, "tenant": tenant}, connection)
    return web.redirect(url)


def _connectable() -> tuple[Connection | None, Response | None]:
    """The connection to reconnect (None for a new one), or the page refusing to start."""
    connection = connections.current_connection(web.db_session(), web.current_org().id)
    if connection is not None and connection.state != "needs_consent":
        flash(f"Microsoft 365 is already connected (tenant {connection.tenant_id}). "
              "To connect another tenant, disconnect first.", "warning")
        return connection, web.redirect(url_for("connect.index"))
    return connection, None


def _remember(pending: dict[str, Any], connection: Connection | None) -> None:
    browser_session[FLOW_KEY] = {
        **pending, "org": web.current_org().id, "started": time.time(),
        "reconnect": connection.id if connection is not None else None,
    }


def _tenant_problem(tenant: str) -> str:
    if not tenant:
        return ("Enter your tenant's ID or its domain (e.g. contoso.onmicrosoft.com); "
                "the Microsoft Entra admin center shows both on its Overview page.")
    if tenant.lower() in _GENERIC_TENANTS:
        return "Admin consent needs your own tenant: enter its ID or domain, not \"common\" or \"organizations\"."
    if not _TENANT.fullmatch(tenant):
        return "A tenant ID looks like 5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f, a domain like contoso.onmicrosoft.com."
    return ""


# --- Microsoft's answer --------------------------------------------------------------------------


@bp.get("/callback")
def callback() -> Response:
    """Where Microsoft sends the admin back: finish connecting, or say what went wrong."""
    pending = browser_session.pop(FLOW_KEY, None)
    org = web.current_org()
    if not isinstance(pending, dict) or pending.get("org") != org.id:
        return _problem(_no_pending_outcome())
    if time.time() - float(pending.get("started", 0)) > FLOW_MAX_AGE:
        return _problem(Outcome(
            "The sign-in took too long",
            "Microsoft's answer came back more than 30 minutes after you started, so Sigsync did not use it.",
            "Start connecting again and finish on Microsoft's page without a long pause."))
    expected = pending["flow"].get("state") if pending.get("kind") == "delegated" else pending.get("state")
    if not expected or not secrets.compare_digest(str(request.args.get("state", "")), str(expected)):
        return _problem(_forged_outcome())
    if request.args.get("error"):
        return _problem(_declined_outcome(request.args))
    # Nothing is held open in the database while Microsoft is asked (the read above is finished).
    web.db_session().commit()
    try:
        if pending["kind"] == "delegated":
            tenant_id, token_cache, user = m365_auth.finish_consent(web.app_config(), pending["flow"], request.args)
            connection = _store(pending.get("reconnect"), tenant_id, "delegated", token_cache, user or web.actor())
        else:
            tenant_id = m365_auth.finish_admin_consent(request.args, expected)
            connection = _store(pending.get("reconnect"), tenant_id, "app", None, web.actor())
    except ConnectionProblem as exc:
        web.db_session().rollback()
        return _problem(Outcome("Not connected", exc.admin_message,
                                "Nothing was changed. Check which tenant this organisation should use.", 409))
    except M365Error as exc:
        return _problem(_failure_outcome(exc))
    flash(f"Connected to Microsoft 365 (tenant {connection.tenant_id}). Next: check the basic settings.", "success")
    return web.redirect(web.url_if("settings.index") or url_for("connect.index"))


def _store(reconnect_id: int | None, tenant_id: str, mode: str, token_cache: bytes | None,
           connected_by: str) -> Connection:
    """Save the connection (new, or the one that needed consent) and its audit event."""
    session, org, config = web.db_session(), web.current_org(), web.app_config()
    engine = get_engine(config.database_url)
    connections.refuse_tenant_of_another_organisation(session, org.id, tenant_id)
    if reconnect_id is not None:
        if mode == "app":  # proves the admin consent covers reading users before anything is stored
            session.commit()  # no transaction open while Microsoft is asked
            token_cache = connections.app_only_token_cache(config, org.id, tenant_id)
        connection = session.get(Connection, reconnect_id)
        if connection is None or connection.organization_id != org.id:
            raise ConnectionProblem("The connection you were reconnecting no longer exists. Start connecting again.")
        connections.restore_consent(session, connection, tenant_id=tenant_id, mode=mode, token_cache=token_cache,
                                    connected_by=connected_by)
        verb = "Reconnected"
    elif mode == "app":
        session.commit()  # connect_app_only asks Microsoft: no transaction of this session open meanwhile
        connection = connections.connect_app_only(config, engine, org, tenant_id, connected_by)
        verb = "Connected"
    else:
        connection = connections.connect_delegated(engine, org, tenant_id, token_cache or b"", connected_by)
        verb = "Connected"
    audit.record(session, org.id, web.actor(), audit.Action.CONNECTED,
                 f"{verb} Microsoft 365 tenant {tenant_id} with {MODE_LABELS[mode]} ({connected_by}).",
                 {"tenant_id": tenant_id, "mode": mode, "reconnected": reconnect_id is not None,
                  "signed_in_as": connected_by})
    session.commit()
    return session.get(Connection, connection.id) or connection


# --- what went wrong, in words -------------------------------------------------------------------


def _no_pending_outcome() -> Outcome:
    connection = connections.current_connection(web.db_session(), web.current_org().id)
    if connection is not None and connection.state in ("active", "paused"):
        return Outcome(
            "This answer was already used",
            f"Microsoft's answer was used once already, or it belongs to a sign-in that has ended. "
            f"Sigsync is connected to tenant {connection.tenant_id}, so there is nothing to do.",
            "Go on with the settings, or open the Connect page to see the connection.", 409)
    return Outcome(
        "The sign-in expired or was already used",
        "Sigsync has no sign-in waiting for this answer: it was used once already, it expired, you signed out "
        "meanwhile, or it was started in another browser.",
        "Start connecting again from this page and finish on Microsoft's page in the same browser.")


def _forged_outcome() -> Outcome:
    return Outcome(
        "This answer does not belong to your sign-in",
        "The answer that came back from Microsoft does not match the sign-in Sigsync started in this browser "
        "(its state is different). Sigsync ignored it and connected nothing. This happens when two sign-ins "
        "were started in different tabs, or when a link from someone else was opened.",
        "Start connecting again from this page, in one tab only.")


def _declined_outcome(args) -> Outcome:
    error = args.get("error", "")
    description = _first_line(args.get("error_description", ""))
    code = _aadsts(description)
    if error == "access_denied" and (args.get("error_subcode") == "cancel" or code in ("", "65004")):
        return Outcome(
            "You cancelled connecting",
            "You chose Cancel on Microsoft's page, so no permission was granted. Nothing was connected and "
            "nothing changed in Microsoft 365.",
            "When you are ready, connect again and choose Accept. A Microsoft 365 administrator must accept.",
            200)
    if error in ("consent_required", "access_denied", "permission_denied"):
        return Outcome(
            "The permissions were not granted",
            "Microsoft 365 says the permissions Sigsync needs were declined"
            + (f" (AADSTS{code}: {_without_code(description)})" if code else "") + ". Nothing was connected.",
            "Ask a Microsoft 365 administrator (Global Administrator, or Privileged Role Administrator) "
            "to connect and accept the permissions.", 200)
    return _entra_outcome(error, description, code)


def _entra_outcome(error: str, description: str, code: str) -> Outcome:
    todo = _ENTRA_ADVICE.get(code, "Read Microsoft's message above. If it names permissions or an administrator, "
                                   "ask a Microsoft 365 administrator to connect. Quote the code if you contact "
                                   "support.")
    detail = f"AADSTS{code}: {_without_code(description)}" if code else f"{error}: {description}".strip(": ")
    return Outcome("Microsoft stopped the sign-in", f"Microsoft's sign-in service answered: {detail}.", todo, 400)


_ENTRA_ADVICE = {
    "50020": "Sign in with an account of your own organisation's Microsoft 365 tenant, not a guest or personal one.",
    "65001": "A Microsoft 365 administrator must connect and accept the permissions.",
    "90094": "Only a Microsoft 365 administrator can grant these permissions: ask one to connect.",
    "90099": "Only a Microsoft 365 administrator can grant these permissions: ask one to connect.",
    "700016": "Sigsync's app registration is not known in that tenant: check MS_CLIENT_ID, or the tenant you chose.",
    "50011": "Whoever runs Sigsync must register the redirect URI shown on the Connect page in the app registration.",
    "70008": "The answer came back too late. Start connecting again.",
    "54005": "That answer was already used. Start connecting again.",
    "90002": "Check the tenant ID or domain you entered and try again.",
    "900023": "Check the tenant ID or domain you entered and try again.",
}


def _failure_outcome(exc: M365Error) -> Outcome:
    if isinstance(exc, ConsentFlowError):
        return _forged_outcome()
    if isinstance(exc, GraphUnavailable):
        return Outcome("Microsoft 365 could not be reached", exc.admin_message,
                       "Try again in a few minutes.", 502)
    if isinstance(exc, TokenError):
        if exc.error == "not_configured":
            return Outcome("Sigsync is not set up to connect yet",
                           "MS_CLIENT_ID and MS_CLIENT_SECRET (the app registration Sigsync signs in with) "
                           "are not set.",
                           "Ask whoever runs Sigsync to set them (see the README, \"Configuration\").", 503)
        code = str(exc.codes[0]) if exc.codes else _aadsts(exc.description)
        return _entra_outcome(exc.error, exc.description, code)
    if isinstance(exc, ConsentRequired):
        code = _aadsts(exc.reason)
        if code:
            return _entra_outcome(exc.code or "invalid_grant", exc.reason.split(": ", 1)[-1], code)
        return Outcome("The permissions are not granted", f"Microsoft 365 refused: {exc.reason}.",
                       "A Microsoft 365 administrator must connect and accept the permissions.", 400)
    if isinstance(exc, GraphError):
        return Outcome("Microsoft 365 refused to let Sigsync read", exc.admin_message,
                       "Check that the admin consent covers Read all users' full profiles, then connect again.", 400)
    return Outcome("Connecting did not complete", exc.admin_message, "Start connecting again.", 400)


def _aadsts(text: str) -> str:
    match = _AADSTS.search(text or "")
    return match.group(1) if match else ""


def _without_code(text: str) -> str:
    return _AADSTS.sub("", text or "", count=1).lstrip(": ").strip()


def _first_line(text: str) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0][:300] if lines else ""


def _problem(outcome: Outcome) -> Response:
    connection = connections.current_connection(web.db_session(), web.current_org().id)
    response = web.render("connect/problem.html", status=outcome.status, outcome=outcome, connection=connection)
    return _allow_forms_to_microsoft(response)


# --- disconnecting ---------------------------------------------------------------------------------


@bp.get("/disconnect")
def disconnect_form() -> Response:
    """Ask what happens to the synced employees, with the counts, and for a typed confirmation."""
    connection = connections.current_connection(web.db_session(), web.current_org().id)
    if connection is None:
        return _already_disconnected()
    return _disconnect_page(connection, {}, {})


@bp.post("/disconnect")
def disconnect() -> Response:
    """End the connection, keeping or deleting the synced employees."""
    session, org = web.db_session(), web.current_org()
    connection = connections.current_connection(session, org.id)
    if connection is None:
        return _already_disconnected()
    form = {"employees": request.form.get("employees", ""), "confirm": request.form.get("confirm", "")}
    errors = {}
    if form["employees"] not in ("keep", "delete"):
        errors["employees"] = "Choose whether to keep the synced employees or delete them."
    typed = form["confirm"].strip()
    if typed != CONFIRM_WORD and typed.casefold() != org.name.strip().casefold():
        errors["confirm"] = f"Type {org.name} (your organisation's name) or {CONFIRM_WORD} to confirm."
    if errors:
        return _disconnect_page(connection, form, errors, status=422)
    keep = form["employees"] == "keep"
    try:
        result = connections.disconnect(get_engine(web.app_config().database_url), connection, keep_employees=keep)
    except ConnectionProblem as exc:
        return _disconnect_page(connection, form, {}, status=409, refusal=exc.admin_message)
    summary = (f"Disconnected Microsoft 365 tenant {connection.tenant_id}: {result['deleted']:,} synced "
               f"employees deleted, {result['kept']:,} kept as manual employees.")
    audit.record(session, org.id, web.actor(), audit.Action.DISCONNECTED, summary,
                 {"tenant_id": connection.tenant_id, "kept_employees": keep, **result})
    session.commit()
    flash(f"Microsoft 365 is disconnected. {result['deleted']:,} synced employees were deleted and "
          f"{result['kept']:,} kept as manual employees.", "success")
    return web.redirect(url_for("connect.index"))


def _disconnect_page(connection: Connection, form: dict[str, str], errors: dict[str, str],
                     status: int = 200, refusal: str = "") -> Response:
    impact = connections.disconnect_impact(web.db_session(), connection)
    return web.render("connect/disconnect.html", status=status, connection=connection, form=form, errors=errors,
                      impact=impact, confirm_word=CONFIRM_WORD, refusal=refusal)


def _already_disconnected() -> Response:
    flash("Microsoft 365 is already disconnected; nothing was changed.", "info")
    return web.redirect(url_for("connect.index"))


# --- helpers ---------------------------------------------------------------------------------------


def _redirect_uri() -> str:
    """The one redirect URI registered for Sigsync: under SIGSYNC_PUBLIC_URL, never from the request's Host."""
    return f"{web.app_config().public_url}/connect/callback"


def _allow_forms_to_microsoft(response: Response) -> Response:
    """Browsers apply form-action to the redirect after a form post: let this page's forms reach Microsoft."""
    host = web.app_config().ms_authority_host.rstrip("/")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {host}")
    return response

