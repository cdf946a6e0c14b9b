"""Signing in and out, and the first-run page that creates the organisation and its first admin."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import Blueprint, abort, flash, request, session, url_for
from flask_login import current_user, logout_user
from sqlalchemy import func
from sqlmodel import select
from werkzeug.wrappers import Response

from portal import admins, audit, signin_throttle, web
from portal.employees.fields import normalize_email
from portal.errors import SigsyncError
from portal.models import Organization
from portal.organizations import NAME_MAX, create_organization, validate_slug, validate_timezone

bp = Blueprint("auth", __name__)

BAD_CREDENTIALS = "The email or password is not right. Check both and try again."


@bp.route("/signin", methods=["GET", "POST"])
@web.public
def signin() -> Response:
    """The sign-in form; on success, back to where the admin was going."""
    target = web.local_path(request.values.get("next")) or url_for("dashboard.index")
    if current_user.is_authenticated:
        return web.redirect(target)
    if not _any_organization():
        return web.redirect(url_for("auth.setup"))
    if request.method == "GET":
        return web.render("auth/signin.html", email="", next=web.local_path(request.args.get("next")))
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    session = web.db_session()
    client = request.remote_addr or "unknown"
    refusal = signin_throttle.check(session, email, client)
    if refusal is not None:
        return _signin_form(email, refusal.message, 429)
    admin = admins.authenticate(session, email, password)
    if admin is None:
        signin_throttle.record_failure(session, email, client)
        session.commit()
        return _signin_form(email, BAD_CREDENTIALS, 200)
    signin_throttle.clear_account(session, email)
    audit.record(session, admin.organization_id, admin.email, audit.Action.SIGNED_IN, "Signed in to the portal.")
    session.commit()
    web.login_user(admin)
    return web.redirect(target)


def _signin_form(email: str, message: str, status: int) -> Response:
    return web.render("auth/signin.html", status=status, email=email, signin_error=message,
                      next=web.local_path(request.form.get("next")))


@bp.post("/signout")
def signout() -> Response:
    """Sign out (a POST with the CSRF token, so no other site can sign an admin out)."""
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return web.redirect(url_for("auth.signin"))


@bp.route("/setup", methods=["GET", "POST"])
@web.public
def setup() -> Response:
    """First run: create the organisation and its first admin. Gone once any organisation exists."""
    if _any_organization():
        abort(404)
    timezones = [(tz, tz) for tz in sorted(available_timezones())]
    if request.method == "GET":
        return web.render("auth/setup.html", form={"timezone": "UTC"}, errors={}, timezones=timezones)
    form = {key: request.form.get(key, "") for key in ("org_name", "slug", "timezone", "name", "email")}
    errors = _setup_problems(form, request.form.get("password", ""), request.form.get("password_confirm", ""))
    if errors:
        return web.render("auth/setup.html", status=422, form=form, errors=errors, timezones=timezones)
    session = web.db_session()
    try:
        organization = create_organization(session, form["slug"], form["org_name"], timezone=form["timezone"])
        email = normalize_email(form["email"])
        audit.record(session, organization.id, email, audit.Action.ORGANIZATION_CREATED,
                     f"Created the organisation {organization.name} ({organization.slug}).")
        admin = admins.create_admin(session, organization, email, request.form.get("password", ""),
                                    name=form["name"], actor=email)
        if _organization_count() > 1:  # another first run finished at the same moment
            session.rollback()
            abort(404)
    except SigsyncError as exc:
        session.rollback()
        return web.render("auth/setup.html", status=422, form=form, errors={"slug": str(exc)}, timezones=timezones)
    session.commit()
    web.login_user(admin)
    flash(f"Welcome to Sigsync. {organization.name} is ready; connect Microsoft 365 next.", "success")
    return web.redirect(url_for("dashboard.index"))


def _setup_problems(form: dict[str, str], password: str, confirm: str) -> dict[str, str]:
    """Every problem with the first-run form, by field."""
    errors: dict[str, str] = {}
    name = form["org_name"].strip()
    if not name:
        errors["org_name"] = "Enter your organisation's name."
    elif len(name) > NAME_MAX:
        errors["org_name"] = f"The name is too long ({len(name)} characters; at most {NAME_MAX})."
    for field, check in (("slug", validate_slug), ("timezone", validate_timezone), ("email", normalize_email),
                         ("password", admins.check_password_rules)):
        try:
            check(password if field == "password" else form[field])
        except SigsyncError as exc:
            errors[field] = str(exc)
    if len(form["name"].strip()) > admins.NAME_MAX:
        errors["name"] = f"The name is too long (at most {admins.NAME_MAX} characters)."
    if "password" not in errors and password != confirm:
        errors["password_confirm"] = "The two passwords are not the same."
    return errors


def _any_organization() -> bool:
    return web.db_session().exec(select(Organization.id).limit(1)).first() is not None


def _organization_count() -> int:
    return web.db_session().exec(select(func.count()).select_from(Organization)).one()
