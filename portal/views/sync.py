"""The Sync pages: "Sync now", the list of runs, and one run with its decisions and held removals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import audit, connections, runs, web
from portal.employees.provenance import field_label
from portal.errors import InvalidValue, NotFound, SigsyncError
from portal.models import Connection
from portal.sync.engine import REFUSED_STATES

bp = Blueprint("sync", __name__, url_prefix="/sync")

RUNS_PER_PAGE = 25
DECISIONS_PER_PAGE = 50
# HTTP 286 tells htmx to stop polling (and still swap in the final state).
STOP_POLLING = 286

MODES = {  # the "Sync now" choice → request_sync's flags
    "changes": {"full": False, "dry_run": False},
    "full": {"full": True, "dry_run": False},
    "dry_run": {"full": False, "dry_run": True},
}
MODE_LABELS = {"auto": "Decided when it starts", "full": "Full", "delta": "Changes only", "dry_run": "Dry run"}
TRIGGER_LABELS = {"manual": "Sync now", "schedule": "Schedule", "cli": "Command line"}
STATUS_LABELS = {"queued": "Queued", "running": "Running", "succeeded": "Succeeded", "failed": "Failed",
                 "skipped": "Skipped", "abandoned": "Abandoned"}
PHASE_LABELS = {
    "queued": "Waiting for a worker",
    "groups": "Reading the groups the import rules name",
    "users": "Reading users from Microsoft 365",
    "changes": "Reading changes from Microsoft 365",
    "removals": "Looking for employees who left",
    "done": "Finished",
}
KIND_LABELS = {
    "created": "Created",
    "updated": "Updated",
    "linked": "Linked to an existing employee",
    "overwrote_manual": "Overwrote a hand-typed value",
    "kept_manual": "Kept a hand-typed value",
    "paused": "Paused: changes not applied",
    "excluded": "Excluded: changes not applied",
    "reactivated": "Reactivated",
    "skipped": "Skipped",
    "replaced": "Reset for a new person",
    "out_of_scope": "Outside the import rules",
    "conflict": "Address conflict",
    "seat_limit": "No seat left",
    "removal_held": "Removal waiting for approval",
    "deleted": "Deleted",
    "deactivated": "Deactivated",
    "unlinked": "Unlinked, kept as manual",
}
# What the two values of a field change are called, per decision kind (details["fields"][f] keys).
VALUE_LABELS = {
    "updated": (("before", "Before"), ("after", "Now")),
    "paused": (("synced", "In Sigsync"), ("m365", "In Microsoft 365")),
    "excluded": (("synced", "In Sigsync"), ("m365", "In Microsoft 365")),
    "overwrote_manual": (("manual", "Typed in Sigsync"), ("m365", "Microsoft 365, now used")),
    "kept_manual": (("manual", "Typed in Sigsync, kept"), ("m365", "Microsoft 365")),
}
REMOVAL_WORDS = {  # the connection's removal setting → what approving does to the employees
    "delete": "deleted (employees made by hand before the sync linked them are deactivated instead)",
    "deactivate": "deactivated: they stay in Sigsync as inactive and lose their signature",
    "keep": "unlinked from Microsoft 365 and kept as manual employees",
}


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"mode_labels": MODE_LABELS, "trigger_labels": TRIGGER_LABELS, "status_labels": STATUS_LABELS,
            "phase_labels": PHASE_LABELS, "kind_labels": KIND_LABELS, "value_labels": VALUE_LABELS,
            "duration_text": duration_text, "field_label": field_label}


# -- the Sync page --------------------------------------------------------------------------------


@bp.get("/")
def index() -> Response:
    """Sync now (or the run already going) and the organisation's runs, newest first."""
    return _index_page()


@bp.post("/")
def start() -> Response:
    """"Sync now": queue a run, or show the one already queued or running instead of starting another."""
    mode = request.form.get("mode", "changes")
    if mode not in MODES:
        return _index_page(problem="Choose what to sync: changes only, a full sync or a dry run.",
                           mode_error=True, status=422)
    session, org = web.db_session(), web.current_org()
    try:
        result = runs.request_sync(web.app_config(), session, org, trigger=runs.RunTrigger.MANUAL, **MODES[mode])
    except SigsyncError as exc:  # no connection, paused, needs consent, or the job queue is down
        queue_down = exc.admin_message == runs.QUEUE_DOWN  # says itself that the sync did not start
        return _index_page(problem=exc.admin_message,
                           problem_title=None if queue_down else "The sync did not start.",
                           status=503 if queue_down else 409)
    run = result.run
    if result.started:
        audit.record(session, org.id, web.actor(), audit.Action.SYNC_STARTED,
                     f"Started a sync ({_mode_words(mode)}): run {run.id}.", {"run_id": run.id, "mode": mode})
        session.commit()
        flash(f"Sync started: run {run.id} is queued and a worker will pick it up.", "success")
    else:
        flash(f"Run {run.id} is already {run.status}, so Sigsync did not start another sync. "
              "Its progress is shown below.", "warning")
    return web.redirect(url_for("sync.index"))


def _index_page(problem: str | None = None, problem_title: str | None = "The sync did not start.",
                mode_error: bool = False, status: int = 200) -> Response:
    session, org = web.db_session(), web.current_org()
    before = _int_arg("before")
    page = runs.list_runs(session, org, before_id=before, limit=RUNS_PER_PAGE)
    active = runs.active_run(session, org)
    context = {
        "active": active,
        **(_live(session, org, active) if active else {}),
        "connection_problem": _connection_problem(session, org),
        "page": page,
        "older_url": url_for("sync.index", before=page.next_before_id) if page.next_before_id else None,
        "newest_url": url_for("sync.index") if before else None,
        "problem": problem,
        "problem_title": problem_title,
        "mode_error": mode_error,
        "chosen_mode": request.form.get("mode", "changes"),
        "self_url": request.full_path.rstrip("?") if request.method == "GET" else url_for("sync.index"),
    }
    return web.render("sync/index.html", partial="sync/_body.html", status=status, **context)


def _connection_problem(session, org) -> tuple[str, tuple[str, str] | None] | None:
    """Why "Sync now" cannot work at the moment (no connection, paused, needs consent) and the link that
    fixes it (text, url) when that page exists; None when it can."""
    try:
        connection = connections.live_connection(session.connection(), org.id)
    except connections.ConnectionProblem as exc:
        return exc.admin_message, _fix("Connect Microsoft 365", "connect.index")
    problem = REFUSED_STATES.get(connection.state)
    if problem is None:
        return None
    if connection.state == "paused":
        return problem, _fix("Resume the sync in Settings", "settings.index")
    return problem, _fix("Reconnect Microsoft 365", "connect.index")


def _fix(text: str, endpoint: str) -> tuple[str, str] | None:
    url = web.url_if(endpoint)
    return None if url is None else (text, url)


def _mode_words(mode: str) -> str:
    return {"changes": "changes only", "full": "full sync", "dry_run": "dry run"}[mode]


# -- one run --------------------------------------------------------------------------------------


@bp.get("/runs/<int:run_id>")
def run(run_id: int) -> Response:
    """One run: its status (polled while it goes), held removals, and its decisions by kind."""
    session, org = web.db_session(), web.current_org()
    the_run = _run_or_404(run_id)
    kind = request.args.get("kind") or None
    after = _int_arg("after")
    try:
        page = runs.decisions(session, org, run_id, kind=kind, after_id=after, limit=DECISIONS_PER_PAGE)
    except InvalidValue:
        abort(404)  # a kind that does not exist: there is no such list
    counts = runs.decision_counts(session, org, run_id)
    context = {
        "run": the_run,
        "page": page,
        "kind": kind,
        "counts": counts,
        "total_decisions": sum(counts.values()),
        "kind_options": [("", f"All decisions ({sum(counts.values()):,})")]
        + [(k, f"{KIND_LABELS.get(k, k)} ({n:,})") for k, n in counts.items()],
        "pending": runs.pending_removals(session, org, run_id),
        "removal_words": REMOVAL_WORDS.get(_removal_setting(session, the_run), ""),
        "next_url": url_for("sync.run", run_id=run_id, kind=kind, after=page.next_after_id)
        if page.next_after_id else None,
        "first_url": url_for("sync.run", run_id=run_id, kind=kind) if after else None,
        "self_url": url_for("sync.run", run_id=run_id, kind=kind, after=after),
        "employee_url": _employee_url,
        **_live(session, org, the_run),
    }
    return web.render("sync/run.html", partial="sync/_run_body.html", **context)


@bp.get("/runs/<int:run_id>/status")
def run_status(run_id: int) -> Response:
    """The live panel, polled every second while the run goes; HTTP 286 stops the polling once it ended.

    Reads the database only: one query for the run row (which the engine updates after every page of
    users) and one for the newest decisions, so any number of admins can watch the same run. The panel is
    not a live region: only a change of phase (the poll says which phase it showed, ``seen``) and the end
    are announced, in the status region.
    """
    session, org = web.db_session(), web.current_org()
    the_run = _run_or_404(run_id)
    context = {"run": the_run, **_live(session, org, the_run)}
    if the_run.active:
        seen = request.args.get("seen")
        if web.is_htmx() and seen and seen != the_run.phase and the_run.phase in PHASE_LABELS:
            flash(f"Run {the_run.id}: {PHASE_LABELS[the_run.phase]}.", "info")
        return web.render("sync/run_status.html", partial="sync/_run_status.html", **context)
    if web.is_htmx():
        # The end is announced once, in the status region, and the rest of the page refreshes itself.
        flash(f"Run {the_run.id} has finished: {STATUS_LABELS.get(the_run.status, the_run.status).lower()}.",
              "success" if the_run.status == runs.RunStatus.SUCCEEDED else "error")
    response = web.render("sync/run_status.html", partial="sync/_run_status.html", status=STOP_POLLING
                          if web.is_htmx() else 200, **context)
    if web.is_htmx():
        response.headers["HX-Trigger"] = "run-finished"
    return response


@bp.get("/runs/<int:run_id>/decisions.csv")
def decisions_csv(run_id: int) -> Response:
    """All of a run's decisions as a CSV file, streamed a batch at a time (a 100,000-decision run never
    sits in memory); cells a spreadsheet would run as a formula are quoted."""
    try:
        lines = runs.decisions_csv(web.db_session().get_bind(), web.current_org(), run_id,
                                   kind_label=lambda kind: KIND_LABELS.get(kind, kind))
    except NotFound:
        abort(404)
    response = Response(lines, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="sigsync-run-{run_id}-decisions.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _live(session, org, the_run: runs.RunView) -> dict[str, Any]:
    """What the live panel shows beside the run row: progress with the time left, and (while the run goes;
    after it the page lists them all) its newest decisions."""
    return {"progress": runs.live_progress(the_run),
            "feed": runs.latest_decisions(session, org, the_run.id, kinds=the_run.counts)
            if the_run.active and the_run.started_at else []}


# -- held removals --------------------------------------------------------------------------------


@bp.route("/runs/<int:run_id>/removals/approve", methods=["GET", "POST"])
def approve_removals(run_id: int) -> Response:
    """Approve a run's held removals: a confirmation first (GET), then the removals applied (POST)."""
    return _resolve(run_id, approve=True)


@bp.route("/runs/<int:run_id>/removals/discard", methods=["GET", "POST"])
def discard_removals(run_id: int) -> Response:
    """Discard a run's held removals: a confirmation first (GET), then the employees kept (POST)."""
    return _resolve(run_id, approve=False)


def _resolve(run_id: int, *, approve: bool) -> Response:
    session, org = web.db_session(), web.current_org()
    the_run = _run_or_404(run_id)
    pending = runs.pending_removals(session, org, run_id)
    context = {"run": the_run, "pending": pending, "approve": approve,
               "removal_words": REMOVAL_WORDS.get(_removal_setting(session, the_run), "")}
    if request.method == "GET":
        return web.render("sync/confirm_removals.html", **context)
    if pending == 0:
        flash(f"Run {run_id} has no removals waiting for approval any more; nothing was changed.", "warning")
        return web.redirect(url_for("sync.run", run_id=run_id))
    if request.form.get("expected") != str(pending):
        # Another admin resolved some meanwhile, or a later run held more: confirm the number shown now.
        return web.render("sync/confirm_removals.html", status=409, changed=True, **context)
    try:
        count = (runs.approve_removals if approve else runs.discard_removals)(session, org, run_id)
    except SigsyncError as exc:  # nothing left to resolve, a dry run, or a sync is changing these employees
        session.rollback()
        flash(exc.admin_message, "warning")
        return web.redirect(url_for("sync.run", run_id=run_id))
    if approve:
        audit.record(session, org.id, web.actor(), audit.Action.REMOVALS_APPROVED,
                     f"Approved the {pending} removal(s) run {run_id} held: {count} applied.",
                     {"run_id": run_id, "held": pending, "applied": count})
        message = (f"Approved: {count} of {pending} held removal(s) applied."
                   + (f" {pending - count} employee(s) had come back and were spared." if count < pending else ""))
    else:
        audit.record(session, org.id, web.actor(), audit.Action.REMOVALS_DISCARDED,
                     f"Discarded the {count} removal(s) run {run_id} held.", {"run_id": run_id, "discarded": count})
        message = f"Discarded: the {count} employee(s) stay as they are."
    session.commit()
    flash(message, "success")
    return web.redirect(url_for("sync.run", run_id=run_id))


# -- helpers --------------------------------------------------------------------------------------


def _run_or_404(run_id: int) -> runs.RunView:
    try:
        return runs.get_run(web.db_session(), web.current_org(), run_id)
    except NotFound:
        abort(404)


def _removal_setting(session, the_run: runs.RunView) -> str:
    """The connection's removal setting (approving applies what it says now)."""
    row = session.connection().execute(
        select(Connection.__table__).where(Connection.id == the_run.connection_id)).one()
    connection = Connection.model_validate(row._asdict())
    return connections.connection_settings(connection, web.current_org().timezone).removal


def _int_arg(name: str) -> int | None:
    """A keyset cursor from the query string; anything but a positive number is a page that does not exist."""
    value = request.args.get(name)
    if value is None or value == "":
        return None
    number = web.parse_id(value)
    if number is None:
        abort(404)
    return number


def _employee_url(employee_id: int | None) -> str | None:
    return web.url_if("employees.detail", employee_id=employee_id) if employee_id else None


def duration_text(duration: timedelta | None) -> str:
    """A run's duration in words an admin reads at a glance: "45 s", "3 min 05 s", "1 h 02 min"."""
    if duration is None:
        return "—"
    seconds = max(0, int(duration.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
