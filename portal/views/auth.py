"""Signing in and out, the first-run page, and the organisation's admins (add, remove, change password)."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import Blueprint, abort, flash, request, session, url_for
from flask_login import current_user, logout_user
from sqlalchemy import func
from sqlmodel import select
from werkzeug.wrappers import Response

from portal import admins, audit, signin_throttle, web
from portal.employees.fields import normalize_email
from portal.errors import InvalidValue, SigsyncError
from portal.models import Admin, Organization
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
    for field, check in (("slug", validate_slug), ("timezone", validate_timezone)):
        try:
            check(form[field])
        except SigsyncError as exc:
            errors[field] = str(exc)
    if len(form["name"].strip()) > admins.NAME_MAX:
        errors["name"] = f"The name is too long (at most {admins.NAME_MAX} characters)."
    errors.update(_account_problems(form["email"], password, confirm))
    return errors


def _any_organization() -> bool:
    return web.db_session().exec(select(Organization.id).limit(1)).first() is not None


def _organization_count() -> int:
    return web.db_session().exec(select(func.count()).select_from(Organization)).one()


@bp.get("/admins")
def admins_page() -> Response:
    """The organisation's admins, and a form to add one."""
    return _admins_page({}, {})


def _admins_page(form: dict[str, str], errors: dict[str, str], status: int = 200) -> Response:
    accounts = admins.list_admins(web.db_session(), web.current_org())
    return web.render("auth/admins.html", status=status, accounts=accounts, form=form, errors=errors)


@bp.post("/admins")
def add_admin() -> Response:
    """Add an admin to the signed-in admin's organisation."""
    form = {key: request.form.get(key, "").strip() for key in ("email", "name")}
    password, confirm = request.form.get("password", ""), request.form.get("password_confirm", "")
    errors = _account_problems(form["email"], password, confirm)
    if errors:
        return _admins_page(form, errors, 422)
    session = web.db_session()
    try:
        added = admins.create_admin(session, web.current_org(), form["email"], password, name=form["name"],
                                    actor=web.actor())
    except SigsyncError as exc:
        session.rollback()
        return _admins_page(form, {"email": str(exc)}, 422)
    session.commit()
    flash(f"Added {added.email}. They can sign in now with the password you chose.", "success")
    return web.redirect(url_for("auth.admins_page"))


@bp.post("/admins/<int:admin_id>/remove")
def remove_admin(admin_id: int) -> Response:
    """Remove another admin of the organisation (never oneself, never the last one)."""
    account = web.get_owned_or_404(Admin, admin_id)
    if account.id == web.current_admin().id:
        flash("You cannot remove your own account. Ask another admin to do it.", "error")
        return web.redirect(url_for("auth.admins_page"))
    session = web.db_session()
    try:
        admins.remove_admin(session, account.email, actor=web.actor(), organization=web.current_org())
    except SigsyncError as exc:
        session.rollback()
        flash(str(exc), "error")
        return web.redirect(url_for("auth.admins_page"))
    session.commit()
    flash(f"Removed {account.email}. They can no longer sign in.", "success")
    return web.redirect(url_for("auth.admins_page"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password() -> Response:
    """Change one's own password; other sessions signed in with the old one end."""
    if request.method == "GET":
        return web.render("auth/password.html", errors={})
    session, me = web.db_session(), web.current_admin()
    new, confirm = request.form.get("new_password", ""), request.form.get("new_password_confirm", "")
    errors = {}
    if admins.authenticate(session, me.email, request.form.get("current_password", "")) is None:
        errors["current_password"] = "This is not your current password."
    errors.update({f"new_{key}": message for key, message in _password_problems(new, confirm).items()})
    if errors:
        return web.render("auth/password.html", status=422, errors=errors)
    admins.change_password(session, me, new, actor=me.email)
    session.commit()
    web.login_user(me)  # this session continues with the new password's fingerprint
    flash("Your password is changed. Other sessions signed in with the old one have ended.", "success")
    return web.redirect(url_for("dashboard.index"))


def _account_problems(email: str, password: str, confirm: str) -> dict[str, str]:
    errors = {}
    try:
        normalize_email(email)
    except InvalidValue as exc:
        errors["email"] = str(exc)
    errors.update(_password_problems(password, confirm))
    return errors


def _password_problems(password: str, confirm: str) -> dict[str, str]:
    try:
        admins.check_password_rules(password)
    except InvalidValue as exc:
        return {"password": str(exc)}
    return {} if password == confirm else {"password_confirm": "The two passwords are not the same."}
