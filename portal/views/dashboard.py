"""The dashboard: the state of the sync and what needs the admin, at a glance."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.wrappers import Response

from portal import audit, dashboard, web

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index() -> Response:
    """Connection, runs, employees, seats and warnings for the admin's organisation."""
    session, org = web.db_session(), web.current_org()
    return web.render("dashboard/index.html", overview=dashboard.overview(session, org),
                      recent=audit.list_events(session, org, limit=5, skip=(audit.Action.SIGNED_IN,)).events,
                      sources=dashboard.SOURCES, statuses=dashboard.STATUSES)
