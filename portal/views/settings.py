"""Settings: step 2, the basic settings of the sync, pausing the whole sync, and the way to the other steps.

The form posts every setting at once; the configuration service checks it with the engine's own
parser and answers every problem by key path, which the form shows beside its control.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from flask import Blueprint, flash, request, url_for
from werkzeug.wrappers import Response

from portal import audit, connections, web
from portal.configuration import update_configuration
from portal.connections import ConnectionProblem
from portal.models import Connection
from portal.sync.config import SyncSettings

bp = Blueprint("settings", __name__, url_prefix="/settings")


@dataclass(frozen=True)
class Setting:
    """One control of the form: its input name, the key path the configuration service names, its words."""

    name: str
    path: str
    label: str
    hint: str
    kind: str  # check | choice | number | time | timezone
    choices: tuple[tuple[str, str], ...] = ()


SETTINGS: tuple[Setting, ...] = (
    Setting("import_new_users", "settings.import_new_users", "Import new users",
            "People who appear in Microsoft 365 and match the import rules become employees; off: only "
            "employees already in Sigsync are kept up to date.", "check"),
    Setting("overwrite_manual", "settings.overwrite_manual", "Overwrite values typed in Sigsync",
            "On: Microsoft 365's value replaces a value an admin typed by hand; off: what was typed is kept.",
            "check"),
    Setting("empty_values", "settings.empty_values", "When a field is empty in Microsoft 365",
            "What happens to the employee's value when Microsoft 365 has none.", "choice",
            (("keep", "Keep the value Sigsync has"), ("clear", "Clear it in Sigsync too"))),
    Setting("department_sync", "settings.department_sync", "Departments from the import rules",
            "When the rules' departments are given to an employee; departments you assign by hand are never "
            "touched.", "choice",
            (("always", "On every sync"), ("on_create", "Only when the employee is created"))),
    Setting("photos", "settings.photos", "Sync profile photos",
            "Copies each person's Microsoft 365 photo for their signature (the data mapping must map the photo).",
            "check"),
    Setting("include_disabled", "settings.include_disabled", "Include disabled accounts",
            "Off: accounts disabled in Microsoft 365 are not imported, whatever the rules say.", "check"),
    Setting("include_guests", "settings.include_guests", "Include guest users",
            "Off: guests from other organisations are not imported, whatever the rules say.", "check"),
    Setting("removal", "settings.removal", "When someone leaves Microsoft 365 or the import rules",
            "What happens to their employee in Sigsync.", "choice",
            (("deactivate", "Deactivate the employee (kept, no signature)"),
             ("delete", "Delete the employee"),
             ("keep", "Keep the employee as it is"))),
    Setting("removal_threshold_count", "settings.removal_threshold.count", "Hold removals above this many employees",
            "More removals than this in one sync wait for your approval on the Sync page.", "number"),
    Setting("removal_threshold_percent", "settings.removal_threshold.percent",
            "…or above this share of the synced employees (%)",
            "Also held when the removals are more than this percentage of the employees synced before.", "number"),
    Setting("auto_sync", "settings.auto_sync", "Sync automatically every day",
            "Off: Sigsync syncs only when someone presses Sync now.", "check"),
    Setting("sync_time", "settings.sync_time", "Time of the daily sync",
            "Pick a quiet hour: the sync starts at this time every day.", "time"),
    Setting("timezone", "settings.timezone", "Time zone of the daily sync",
            "The time above is in this time zone.", "timezone"),
)
BY_PATH = {setting.path: setting for setting in SETTINGS}
BY_NAME = {setting.name: setting for setting in SETTINGS}
# The form's fieldsets, in order: (legend, the settings in it).
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Who is imported", ("import_new_users", "include_disabled", "include_guests")),
    ("Employee data", ("overwrite_manual", "empty_values", "department_sync", "photos")),
    ("Removals", ("removal", "removal_threshold_count", "removal_threshold_percent")),
    ("Schedule", ("auto_sync", "sync_time", "timezone")),
)


@cache
def timezone_choices() -> tuple[tuple[str, str], ...]:
    return tuple((zone, zone.replace("_", " ")) for zone in sorted(available_timezones()))


# --- pages -------------------------------------------------------------------------------------------


@bp.get("/")
def index() -> Response:
    """The Settings page: the connection's state, the basic settings, and links to mapping and rules."""
    connection = _connection()
    values = _values(connections.connection_settings(connection, web.current_org().timezone)) if connection else {}
    return _page(connection, values, {})


@bp.post("/")
def save() -> Response:
    """Save the basic settings; every problem comes back beside its control, nothing typed is lost."""
    connection = _connection()
    if connection is None:
        return _not_connected()
    values = _form_values()
    before = dict(connection.settings)
    problems = update_configuration(web.db_session(), connection, "settings", _document(values), actor=web.actor())
    if problems:
        web.db_session().rollback()
        errors = _errors(problems)
        where = "it" if len(errors) == 1 else "them"
        flash(f"Nothing was saved: {_count(len(errors))} to correct, shown beside {where}.", "error")
        # htmx swaps a 200 answer into the form (a 4xx would go to the status region instead).
        return _page(connection, values, errors, status=200 if web.is_htmx() else 422)
    web.db_session().commit()
    if connection.settings == before:
        flash("Nothing changed: these are the settings already saved.", "info")
    else:
        flash("Settings saved. The next sync uses them.", "success")
    if web.is_htmx():
        return _page(connection, values, {})
    return web.redirect(url_for("settings.index"))


@bp.post("/pause")
def pause() -> Response:
    """"Pause sync for everyone": no run starts, scheduled or by hand, until resumed."""
    return _set_paused(True)


@bp.post("/resume")
def resume() -> Response:
    """"Resume sync": runs start again."""
    return _set_paused(False)


def _set_paused(paused: bool) -> Response:
    connection = _connection()
    if connection is None:
        return _not_connected()
    session, org = web.db_session(), web.current_org()
    try:
        connections.set_sync_paused(session, connection, paused)
    except ConnectionProblem as exc:
        session.rollback()
        flash(exc.admin_message, "warning")
        return web.redirect(url_for("settings.index"))
    if paused:
        audit.record(session, org.id, web.actor(), audit.Action.SYNC_PAUSED,
                     f"Paused the sync of tenant {connection.tenant_id} for everyone.")
        flash("The sync is paused for everyone. No sync starts until you resume it.", "success")
    else:
        audit.record(session, org.id, web.actor(), audit.Action.SYNC_RESUMED,
                     f"Resumed the sync of tenant {connection.tenant_id}.")
        flash("The sync is resumed. The next scheduled sync runs as usual.", "success")
    session.commit()
    return web.redirect(url_for("settings.index"))


# --- helpers -----------------------------------------------------------------------------------------


def _connection() -> Connection | None:
    return connections.current_connection(web.db_session(), web.current_org().id)


def _not_connected() -> Response:
    flash("Microsoft 365 is not connected, so there is nothing to change yet. Connect it first.", "warning")
    return web.redirect(url_for("connect.index"))


def _page(connection: Connection | None, values: dict[str, Any], errors: dict[str, str],
          status: int = 200) -> Response:
    return web.render("settings/index.html", partial="settings/_form.html", status=status, connection=connection,
                      groups=GROUPS, by_name=BY_NAME, values=values, errors=errors, timezones=timezone_choices(),
                      summary={name: f"{BY_NAME[name].label}: {why}" if name in BY_NAME else why
                               for name, why in errors.items()},
                      mapping_url=web.url_if("mapping.index"), rules_url=web.url_if("rules.index"))


def _values(current: SyncSettings) -> dict[str, Any]:
    """The form's values from the saved settings."""
    values: dict[str, Any] = {name: getattr(current, name) for name in (
        "import_new_users", "overwrite_manual", "empty_values", "department_sync", "photos", "include_disabled",
        "include_guests", "removal", "auto_sync", "sync_time", "timezone")}
    values["removal_threshold_count"] = str(current.removal_threshold.count)
    values["removal_threshold_percent"] = f"{current.removal_threshold.percent:g}"
    return values


def _form_values() -> dict[str, Any]:
    """What the admin sent, as typed (an unchecked box is absent from a form: it means off)."""
    form = request.form
    return {setting.name: (setting.name in form) if setting.kind == "check" else form.get(setting.name, "").strip()
            for setting in SETTINGS}


def _document(values: dict[str, Any]) -> dict[str, Any]:
    """The ``settings`` section for the configuration service; a number that isn't one is passed as typed."""
    document = {key: value for key, value in values.items() if not key.startswith("removal_threshold_")}
    document["removal_threshold"] = {"count": _number(values["removal_threshold_count"], int),
                                     "percent": _number(values["removal_threshold_percent"], float)}
    return document


def _number(text: str, kind: type) -> Any:
    try:
        return kind(text.replace(",", ".")) if kind is float else kind(text)
    except ValueError:
        return text  # the service says "must be a whole number …, got '…'"


def _count(n: int) -> str:
    return "one setting" if n == 1 else f"{n} settings"


def _errors(problems: dict[str, str]) -> dict[str, str]:
    """The service's problems by key path → by input name, in the admin's words."""
    errors: dict[str, str] = {}
    for path, why in problems.items():
        setting = BY_PATH.get(path)
        name = setting.name if setting else "settings"
        message = why[:1].upper() + why[1:] if setting else f"{path}: {why}"
        errors[name] = f"{errors[name]}; {message}" if name in errors else message
    return errors
