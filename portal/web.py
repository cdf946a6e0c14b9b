"""Request concerns for the portal's pages: the one place a view gets its session, admin and organisation.

How a page uses it::

    from flask import Blueprint, flash, request, url_for
    from portal import web

    bp = Blueprint("departments", __name__, url_prefix="/departments")

    @bp.get("/")
    def index():
        rows = departments.list_with_counts(web.db_session(), web.current_org())
        # full page for a browser, templates/departments/_table.html for an htmx request
        return web.render("departments/index.html", partial="departments/_table.html", rows=rows)

    @bp.post("/<int:department_id>/rename")
    def rename(department_id):
        department = web.get_owned_or_404(Department, department_id)   # 404 for another org's id
        departments.rename(web.db_session(), department, request.form["name"], actor=web.actor())
        web.db_session().commit()
        flash("Department renamed.", "success")
        return web.redirect(url_for("departments.index"))               # HX-Redirect for htmx

Every view needs a signed-in admin unless decorated with ``@web.public``. The request-scoped
session is closed at teardown: commit what a view changed, an uncommitted change is rolled back.
Forms send the CSRF token as the hidden field ``csrf_token`` (``macros.csrf_field()``); htmx
requests send it as the ``X-CSRFToken`` header (``hx-headers`` on ``<body>``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, abort, current_app, g, has_request_context, render_template, request
from flask import redirect as flask_redirect
from flask import session as cookie_session
from flask import url_for as flask_url_for
from flask_login import UserMixin, current_user
from flask_login import login_user as flask_login_user
from sqlmodel import Session
from werkzeug.routing import BuildError, IntegerConverter
from werkzeug.wrappers import Response

from config import Config
from portal.db import get_engine
from portal.extensions import login_manager
from portal.models import Admin, Organization, utcnow

T = TypeVar("T")

# The largest id a database column holds: ids are INTEGER columns, 32 bits signed on PostgreSQL (which
# refuses a bigger number with "integer out of range"); a bigger number names no row.
MAX_ID = 2**31 - 1
# C0 control characters other than tab, newline and carriage return: PostgreSQL refuses NUL in text,
# and none of them belongs in anything an admin types.
CONTROL_CHARACTERS = frozenset(chr(c) for c in range(32)) - {"\t", "\n", "\r"}

# The main navigation, in order; an entry shows once its endpoint is registered.
NAV: tuple[tuple[str, str], ...] = (
    ("Dashboard", "dashboard.index"),
    ("Employees", "employees.index"),
    ("Departments", "departments.index"),
    ("Signatures", "signatures.index"),
    ("Outlook add-in", "outlook_addin.index"),
    ("Sync", "sync.index"),
    ("Settings", "settings.index"),
)
SIGNIN_ENDPOINT = "auth.signin"


# --- what a view asks for -------------------------------------------------------------------

def app_config() -> Config:
    """The application's Config (settings from the environment)."""
    return current_app.config["SIGSYNC"]


def db_session() -> Session:
    """This request's database session (closed at teardown; commit what you change)."""
    if "db_session" not in g:
        g.db_session = Session(get_engine(app_config().database_url), expire_on_commit=False)
    return g.db_session


def current_admin() -> Admin:
    """The signed-in admin's row (the login guard has made sure there is one)."""
    if not current_user.is_authenticated:
        abort(401)
    return current_user.admin


def current_org() -> Organization:
    """The signed-in admin's organisation; everything a page shows is scoped to it."""
    if "current_org" not in g:
        organization = db_session().get(Organization, current_admin().organization_id)
        if organization is None:
            abort(404)
        g.current_org = organization
    return g.current_org


def get_owned_or_404(model: type[T], ident: Any) -> T:
    """The row with this id if it belongs to the admin's organisation; 404 otherwise (never 403,
    so a guessed id does not reveal that another organisation has it)."""
    if isinstance(ident, int) and not 1 <= ident <= MAX_ID:
        abort(404)  # beyond what an id column holds (SQLite would overflow): no such row
    row = db_session().get(model, ident)
    if row is None or getattr(row, "organization_id", None) != current_org().id:
        abort(404)
    return row


def parse_id(text: str | None) -> int | None:
    """``text`` as a row id: ASCII digits only ("²" is a digit to ``str.isdigit`` but not to ``int``),
    from 1 to the largest a database column holds; None for anything else."""
    if not text or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def has_control_character(text: str) -> bool:
    """True when ``text`` holds a control character that Sigsync cannot store (NUL and the like)."""
    return any(ch in CONTROL_CHARACTERS for ch in text)


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` in every route: a number beyond what an id column holds is no page (404), not an overflow."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def actor() -> str:
    """Who is acting, for the audit log: the signed-in admin's e-mail address."""
    return current_admin().email


def is_htmx() -> bool:
    """True for an htmx request that swaps part of a page (a history restore wants the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def render(template: str, partial: str | None = None, status: int = 200, **context: Any) -> Response:
    """Render ``template`` (the full page), or ``partial`` (``_*.html``) for an htmx request.

    Flashed messages ride along with a partial as an out-of-band swap into ``#status``.
    """
    if partial and is_htmx():
        body = render_template(partial, **context)
        if cookie_session.get("_flashes"):
            body += render_template("_status.html", oob=True)
    else:
        body = render_template(template, **context)
    response = current_app.make_response((body, status))
    response.vary.add("HX-Request")
    return response


def redirect(location: str) -> Response:
    """Send the browser to ``location``: a 303 for a form post, ``HX-Redirect`` for an htmx request."""
    if is_htmx():
        response = current_app.make_response(("", 200))
        response.headers["HX-Redirect"] = location
        return response
    return flask_redirect(location, code=303)


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as open to visitors who are not signed in (sign-in, first run, health)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site (``/…``), else None: ``next`` never leaves the portal."""
    if not target:
        return None
    target = target.strip()
    parts = urlsplit(target)
    if (not target.startswith("/") or target.startswith(("//", "/\\")) or parts.scheme or parts.netloc
            or any(ch in target for ch in "\r\n\t\\")):
        return None
    return target


def url_if(endpoint: str, **values: Any) -> str | None:
    """``url_for(endpoint)`` when that page exists in this app, else None (pages arrive one by one)."""
    if endpoint not in current_app.view_functions:
        return None
    try:
        return flask_url_for(endpoint, **values)
    except BuildError:
        return None


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    current: bool


def nav_items() -> list[NavItem]:
    """The main navigation's links that exist in this app, the current area marked."""
    items = []
    for label, endpoint in NAV:
        url = url_if(endpoint)
        if url is not None:
            # An area owns its blueprint and every page under its path (/settings/rules is Settings).
            here = request.blueprint == endpoint.split(".")[0] or (url != "/" and request.path.startswith(url))
            items.append(NavItem(label, url, here))
    return items


def format_when(moment: datetime | None, timezone: str | None = None) -> str:
    """A moment as "29 Nov 2026, 05:12" in the organisation's time zone ("—" for none)."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        moment = moment.replace(tzinfo=utcnow().tzinfo)
    if timezone is None and has_request_context() and current_user.is_authenticated:
        timezone = current_org().timezone
    return moment.astimezone(ZoneInfo(timezone or "UTC")).strftime("%-d %b %Y, %H:%M")


def format_iso(moment: datetime | None) -> str:
    """A moment in UTC as ISO 8601, for ``<time datetime=…>``."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=utcnow().tzinfo)
    return moment.astimezone(utcnow().tzinfo).isoformat(timespec="seconds")


def format_number(value: int | None) -> str:
    """A count with thousands separators: 100,000."""
    return "—" if value is None else f"{value:,}"


# --- signed-in admins -----------------------------------------------------------------------

class AdminUser(UserMixin):
    """The signed-in admin as flask-login sees them.

    The session stores the admin's id and a fingerprint of the password hash: changing the
    password, or removing the admin, ends every session signed in before.
    """

    def __init__(self, admin: Admin) -> None:
        self.admin = admin

    def get_id(self) -> str:
        return f"{self.admin.id}:{_fingerprint(self.admin)}"


def login_user(admin: Admin) -> None:
    """Sign ``admin`` in on a fresh session (a session fixed before sign-in is not reused)."""
    cookie_session.clear()
    flask_login_user(AdminUser(admin))
    cookie_session.permanent = True


def _fingerprint(admin: Admin) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, admin.password_hash.encode(), hashlib.sha256).hexdigest()[:20]


def _load_user(user_id: str) -> AdminUser | None:
    ident, _, fingerprint = user_id.partition(":")
    admin_id = parse_id(ident)
    if admin_id is None:
        return None
    admin = db_session().get(Admin, admin_id)
    if admin is None or not hmac.compare_digest(fingerprint, _fingerprint(admin)):
        return None
    return AdminUser(admin)


def _unauthorized() -> Response:
    """Not signed in (or the session expired): to the sign-in page, and back afterwards."""
    if is_htmx():
        # A sign-in form swapped into a fragment would be useless: move the whole page instead.
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        here = current.path + (f"?{current.query}" if current.query else "") if current.path else None
        response = current_app.make_response(("", 401))
        response.headers["HX-Redirect"] = flask_url_for(SIGNIN_ENDPOINT, next=local_path(here))
        return response
    back = request.full_path.rstrip("?") if request.method == "GET" else None
    return flask_redirect(flask_url_for(SIGNIN_ENDPOINT, next=local_path(back)))


def needs_signin() -> bool:
    """True when this request is for a page that needs an admin and nobody is signed in."""
    if request.endpoint is None or request.endpoint == "static":
        return False  # 404s and static files
    view = current_app.view_functions.get(request.endpoint)
    return not getattr(view, "public", False) and not current_user.is_authenticated


def _refuse_control_characters() -> Response | None:
    """400 with the admin's words for a path, query string or form holding a control character: it cannot be
    stored (PostgreSQL refuses NUL) and was never typed on purpose."""
    values = [request.path]
    for multi in (request.args, request.form if request.method not in ("GET", "HEAD") else None):
        if multi is not None:
            for key, items in multi.lists():
                values.append(key)
                values.extend(items)
    if not any(has_control_character(value) for value in values):
        return None
    from portal.views.errors import CONTROL_CHARACTER_EXPLANATION, render_error

    return render_error(400, CONTROL_CHARACTER_EXPLANATION)


def _require_signin() -> Response | None:
    return login_manager.unauthorized() if needs_signin() else None


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Hook request concerns into the app: the session's teardown, the sign-in guard, template helpers."""
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    app.url_map.converters["int"] = BoundedIntConverter  # before the blueprints add their routes
    app.before_request(_refuse_control_characters)
    app.before_request(_require_signin)
    app.teardown_appcontext(_close_session)
    app.jinja_env.filters["when"] = format_when
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["iso"] = format_iso
    app.jinja_env.globals.update(nav_items=nav_items, url_if=url_if)

    @app.context_processor
    def _signed_in_context() -> dict[str, Any]:
        if current_user.is_authenticated:
            return {"org": current_org(), "admin": current_admin()}
        return {}


__all__ = [
    "NAV", "AdminUser", "actor", "app_config", "current_admin", "current_org", "db_session", "format_iso",
    "format_number", "format_when", "get_owned_or_404", "init_app", "is_htmx", "local_path", "login_user",
    "nav_items", "needs_signin", "parse_id", "public", "redirect", "render", "url_if",
]
