"""The audit log page: who did what to the organisation, newest first."""

from __future__ import annotations

from flask import Blueprint, abort, request, url_for
from werkzeug.wrappers import Response

from portal import audit, web

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
def index() -> Response:
    """One page of the organisation's audit log; "Older" continues below the last event shown."""
    before = request.args.get("before")
    before_id = web.parse_id(before)
    if before is not None and before_id is None:
        abort(404)
    page = audit.list_events(web.db_session(), web.current_org(), before_id=before_id)
    older_url = url_for("audit.index", before=page.older) if page.older else None
    newest_url = url_for("audit.index") if before else None
    return web.render("audit/index.html", partial="audit/_events.html", page=page, older_url=older_url,
                      newest_url=newest_url, labels={action.value: action.label for action in audit.Action})
