"""Data mapping: which Microsoft 365 attribute fills each employee field, with a preview on a real user."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Blueprint, abort, flash, request, url_for
from sqlalchemy.engine import Engine
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from portal import preview, tenant_lookup, web
from portal.connections import current_connection, export_connection_config
from portal.db import get_engine
from portal.models import Connection
from portal.sync.config import CUSTOM_FIELD, DEFAULT_MAPPING, MAX_CUSTOM_FIELDS, ConfigInvalid, parse_config
from portal.views import config_form

bp = Blueprint("mapping", __name__, url_prefix="/settings/mapping")

STANDARD_FIELDS = tuple(DEFAULT_MAPPING)  # the employee's columns and the photo, in the document's order
_CUSTOM_ROW = re.compile(r"custom-(\d+)-key")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass
class CustomRow:
    """A custom field as the form holds it: its key (without ``custom.``) and its attribute."""

    key: str
    attribute: str


@dataclass
class MappingForm:
    """The mapping as the editor shows it: one attribute per standard field, and the custom rows."""

    standard: dict[str, str]
    custom: list[CustomRow]

    @classmethod
    def from_document(cls, mapping: dict[str, str]) -> MappingForm:
        custom = [CustomRow(name.split(".", 1)[1], path)
                  for name, path in mapping.items() if name.startswith("custom.")]
        return cls({name: mapping.get(name, "") for name in STANDARD_FIELDS}, custom)

    @classmethod
    def from_form(cls, form: MultiDict[str, str]) -> MappingForm:
        standard = {name: form.get(f"map-{name}", "").strip() for name in STANDARD_FIELDS}
        rows = sorted(int(m.group(1)) for key in form if (m := _CUSTOM_ROW.fullmatch(key)))
        custom = [CustomRow(form.get(f"custom-{i}-key", "").strip(), form.get(f"custom-{i}-attribute", "").strip())
                  for i in rows]
        return cls(standard, custom)

    def document(self) -> dict[str, str]:
        """The ``mapping`` section for the configuration service (custom keys as ``custom.<key>``)."""
        mapping = dict(self.standard)
        for row in self.custom:
            if row.key or row.attribute:
                mapping[f"custom.{_custom_key(row.key)}"] = row.attribute
        return mapping

    def form_problems(self) -> dict[str, str]:
        """Problems the form itself can see before the configuration is checked (keyed by input id)."""
        problems: dict[str, str] = {}
        seen: set[str] = set()
        for index, row in enumerate(self.custom):
            if not row.key and not row.attribute:
                continue
            key = _custom_key(row.key)
            if not row.key:
                problems[f"custom-{index}-key"] = "Give the custom field a name (a-z, 0-9 and _), or remove the row."
            elif not re.fullmatch(r"[a-z0-9_]{1,40}", key):
                problems[f"custom-{index}-key"] = (
                    f"“{row.key}” cannot be a custom field name: use up to 40 of a-z, 0-9 and _, e.g. cost_center.")
            elif key in seen:
                problems[f"custom-{index}-key"] = f"Another custom field is already called “{key}”."
            seen.add(key)
        return problems


def _custom_key(key: str) -> str:
    key = key.strip()
    return key[len("custom."):] if key.lower().startswith("custom.") else key


def field_label(name: str) -> str:
    """An employee field as the admin reads it: "Job title"."""
    return {"email": "E-mail address", "photo": "Profile photo", "phone": "Phone",
            "manager_email": "Manager's e-mail", "manager_name": "Manager's name"}.get(
        name, name.replace("_", " ").capitalize())


# --- pages ----------------------------------------------------------------------------------------

@bp.get("/")
def index() -> Response:
    """The mapping editor with the saved mapping."""
    connection = _connection()
    form = MappingForm.from_document(_saved_mapping(connection)) if connection else MappingForm({}, [])
    return _render(connection, form)


@bp.post("/")
def save() -> Response:
    """Save the mapping through the configuration service; problems come back inline."""
    connection = _require_connection()
    form = MappingForm.from_form(request.form)
    problems = form.form_problems()
    if not problems:
        problems = _input_problems(form, config_form.save_section(connection, "mapping", form.document()))
    if problems:
        return _render(connection, form, problems, status=200 if web.is_htmx() else 422)
    flash("Mapping saved. The next sync transfers the fields this way.", "success")
    return web.redirect(url_for("mapping.index"))


@bp.post("/edit")
def edit() -> Response:
    """Add or remove a custom field row; the unsaved edits come back as they were."""
    connection = _require_connection()
    form = MappingForm.from_form(request.form)
    op = request.form.get("op", "")
    if op == "add_custom":
        if len(form.custom) < MAX_CUSTOM_FIELDS:
            form.custom.append(CustomRow("", ""))
    elif op.startswith("remove_custom:"):
        index = _int(op.split(":", 1)[1])
        if index is None or not 0 <= index < len(form.custom):
            abort(400)
        del form.custom[index]
    else:
        abort(400)
    return _render(connection, form)


@bp.get("/users")
def users() -> Response:
    """Suggestions for the preview's user search (Graph startswith on name and address)."""
    connection = _require_connection()
    text = tenant_lookup.clean_search(request.args.get("user_search"))
    web.db_session().commit()  # no transaction stays open while Graph answers
    found, error = [], None
    try:
        found = tenant_lookup.search_users(web.app_config(), _engine(), connection, text)
    except tenant_lookup.LookupFailed as exc:
        error = str(exc.admin_message)
    return web.render("mapping/_user_results.html", partial="mapping/_user_results.html",
                      users=found, text=text, error=error)


@bp.post("/preview")
def preview_user() -> Response:
    """The mapped values of one tenant user under the mapping in the form (saved or not)."""
    connection = _require_connection()
    form = MappingForm.from_form(request.form)
    user_id = request.form.get("preview_user", "").strip()
    if not _GUID.fullmatch(user_id):
        abort(400)  # the search suggestions send Graph's object ids; nothing else reaches Graph
    cfg, problems = _config_for(connection, form)
    web.db_session().commit()
    if cfg is None:
        return web.render("mapping/_preview.html", partial="mapping/_preview.html", problems=problems, rows=[])
    try:
        user = tenant_lookup.read_user(web.app_config(), _engine(), connection, user_id, cfg)
    except tenant_lookup.LookupFailed as exc:
        return web.render("mapping/_preview.html", partial="mapping/_preview.html",
                          error=str(exc.admin_message), rows=[])
    values = preview.mapped_values(cfg, user)
    rows = [(field_label(name) if not name.startswith("custom.") else f"Custom: {name.split('.', 1)[1]}", path,
             "(the profile photo, read when photos are switched on)" if name == "photo" else values.get(name, ""))
            for name, path in _ordered(cfg.mapping)]
    return web.render("mapping/_preview.html", partial="mapping/_preview.html", user=user, rows=rows)


# --- helpers --------------------------------------------------------------------------------------

def _render(connection: Connection | None, form: MappingForm, problems: dict[str, str] | None = None,
            status: int = 200) -> Response:
    return web.render("mapping/index.html", partial="mapping/_editor.html", status=status, connection=connection,
                      form=form, problems=problems or {}, fields=STANDARD_FIELDS, field_label=field_label,
                      attributes=config_form.KNOWN_ATTRIBUTES, max_custom=MAX_CUSTOM_FIELDS,
                      problem_label=lambda target: _problem_label(form, target))


def _problem_label(form: MappingForm, target: str) -> str:
    """Where a problem is, for the summary above the form ("Job title: ", "Custom field 2: ")."""
    if target.startswith("map-"):
        return f"{field_label(target[4:])}: "
    m = re.fullmatch(r"custom-(\d+)-\w+", target)
    if m is not None:
        return f"Custom field {int(m.group(1)) + 1}: "
    return ""


def _connection() -> Connection | None:
    return current_connection(web.db_session(), web.current_org().id)


def _require_connection() -> Connection:
    connection = _connection()
    if connection is None:
        abort(404)
    return connection


def _engine() -> Engine:
    return get_engine(web.app_config().database_url)


def _saved_mapping(connection: Connection) -> dict[str, str]:
    return export_connection_config(connection, web.current_org().timezone)["mapping"]


def _config_for(connection: Connection, form: MappingForm):
    """The configuration with the form's mapping, or (None, problems) when the form's mapping is not valid."""
    document = export_connection_config(connection, web.current_org().timezone)
    document["mapping"] = form.document()
    problems = form.form_problems()
    if problems:
        return None, problems
    try:
        return parse_config(document, default_timezone=web.current_org().timezone), {}
    except ConfigInvalid as exc:
        found = config_form.problems_by_path(exc.problems, "mapping")
        return None, _input_problems(form, found) if found else {"mapping-form": str(exc)}


def _ordered(mapping: dict[str, str]) -> list[tuple[str, str]]:
    standard = [(name, mapping[name]) for name in STANDARD_FIELDS if mapping.get(name)]
    return standard + sorted((name, path) for name, path in mapping.items() if name.startswith("custom."))


def _input_problems(form: MappingForm, problems: dict[str, str]) -> dict[str, str]:
    """Configuration problems (``mapping.job_title``, ``mapping.custom.x``) keyed by the input they concern."""
    rows = {_custom_key(row.key): index for index, row in enumerate(form.custom)}
    found: dict[str, str] = {}
    for path, why in problems.items():
        name = path.removeprefix("mapping").lstrip(".")
        if name in STANDARD_FIELDS:
            target = f"map-{name}"
        elif CUSTOM_FIELD.fullmatch(name) and name.split(".", 1)[1] in rows:
            target = f"custom-{rows[name.split('.', 1)[1]]}-attribute"
        else:
            target = "mapping-form"
        found[target] = f"{found[target]} {why}" if target in found else why
    return found


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None  # "²".isdigit() is True
