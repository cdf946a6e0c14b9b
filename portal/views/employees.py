"""The Employees area: the list with search, filters and bulk actions; one employee's page; add and edit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, request, url_for
from werkzeug.wrappers import Response

from portal import audit, web
from portal.employees import bulk, provenance, records, search
from portal.employees.fields import CUSTOM_KEY_PATTERN, CUSTOM_PREFIX, EMPLOYEE_FIELDS, clean_fields, department_key
from portal.errors import AlreadyExists, InvalidTransition, InvalidValue, SeatLimitReached
from portal.models import Employee
from portal.signatures import resolve as signature_resolve

bp = Blueprint("employees", __name__, url_prefix="/employees")

PAGE_SIZE = 50
DECISIONS_PER_PAGE = 20
REFUSALS_SHOWN = 10
SORT_LABELS = {"name": "Name", "email": "E-mail address", "updated": "Recently changed"}
BULK_ACTIONS = ("pause", "resume", "exclude", "include")
STATE_LABELS = {"active": "Active", "paused": "Sync paused", "excluded": "Excluded from sync",
                "inactive": "Gone from Microsoft 365"}
STATE_WORDS = {
    "active": "Sigsync keeps this employee in step with Microsoft 365 and gives them a signature.",
    "paused": "Sigsync keeps this employee as they are: changes in Microsoft 365 wait until you resume the sync.",
    "excluded": "This employee gets no signature, uses no seat, and the sync leaves them alone.",
    "inactive": "This employee is gone from Microsoft 365. Exclude them to free their seat.",
}
SOURCE_LABELS = {"m365": "Microsoft 365", "manual": "Added by hand"}
MEMBERSHIP_LABELS = {"sync": "Import rules (Microsoft 365)", "manual": "By hand"}
# Which buttons an employee in each state offers, in order (the status service decides what is allowed).
STATE_ACTIONS = {
    "active": ("pause", "exclude"),
    "paused": ("resume", "exclude"),
    "excluded": ("include",),
    "inactive": ("exclude",),
}
FORM_GROUPS = (
    ("Name", ("first_name", "last_name", "display_name")),
    ("Contact", ("email", "phone", "mobile", "fax")),
    ("Work", ("job_title", "department", "company", "office", "employee_number", "manager_name", "manager_email")),
    ("Address", ("street", "postal_code", "city", "state", "country")),
)
FIELD_HINTS = {
    "display_name": "How the name appears in signatures, e.g. “Anna Schmidt”.",
    "department": "The department's name as signatures show it. Department membership is chosen below.",
}
NEW_CUSTOM_KEY, NEW_CUSTOM_VALUE = "new_custom_key", "new_custom_value"
NEW_DEPARTMENTS = "new_departments"
# The edit form carries the values it was built from, so a save applies only what the admin changed.
FORM_ORIGINALS, ORIGINAL_PREFIX, ORIGINAL_DEPARTMENTS = "form_originals", "original.", "original_departments"


@bp.context_processor
def _labels() -> dict[str, Any]:
    from portal.views.sync import KIND_LABELS, MODE_LABELS, VALUE_LABELS

    return {"state_labels": STATE_LABELS, "source_labels": SOURCE_LABELS, "membership_labels": MEMBERSHIP_LABELS,
            "kind_labels": KIND_LABELS, "mode_labels": MODE_LABELS, "value_labels": VALUE_LABELS,
            "field_label": provenance.field_label, "action_buttons": bulk.BUTTONS}


# -- the list -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    """What the list shows, as the URL says it (so a search can be shared and Back works)."""

    q: str = ""
    department: int | None = None
    source: str = ""
    state: str = ""
    sort: str = search.Sort.NAME

    def args(self, **extra: Any) -> dict[str, Any]:
        """Query-string arguments for this list (empty ones left out, so URLs stay short)."""
        values = {"q": self.q, "department": self.department, "source": self.source, "state": self.state,
                  "sort": "" if self.sort == search.Sort.NAME else self.sort, **extra}
        return {key: value for key, value in values.items() if value not in (None, "")}

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.department or self.source or self.state)


@bp.get("/")
def index() -> Response:
    """The employee list: search as you type, filters, sort, a page at a time, and bulk actions."""
    query, after = _list_query()
    return web.render("employees/index.html", partial="employees/_results.html", **_list_context(query, after))


@bp.get("/more")
def more() -> Response:
    """The next page's rows, appended below the ones shown ("Load more"), and the button for the page after."""
    query, after = _list_query()
    if after is None:
        abort(404)
    if not web.is_htmx():
        return web.redirect(url_for("employees.index", **query.args(after=after)))
    try:
        context = _list_context(query, after, strict=True)
    except InvalidValue as exc:  # an out-of-date cursor: say so, append nothing, offer no further page
        flash(f"{exc} (Search again to see the list as it is now.)", "warning")
        return web.render("employees/index.html", partial="employees/_more.html",
                          page=search.EmployeePage([], None), more_url=None, next_url=None)
    return web.render("employees/index.html", partial="employees/_more.html", **context)


@bp.post("/actions")
def bulk_action() -> Response:
    """Pause, resume, exclude or include the selected employees; each one that cannot is named with why."""
    action = request.form.get("action", "")
    if action not in bulk.BUTTONS:
        abort(400)
    ids = [ident for ident in map(web.parse_id, request.form.getlist("ids")) if ident is not None]
    session, org = web.db_session(), web.current_org()
    if not ids:
        flash("Select at least one employee first: tick the box in front of their name.", "warning")
    else:
        try:
            result = bulk.apply_action(session, org, ids, action, actor=web.actor())
        except InvalidValue as exc:
            session.rollback()
            flash(str(exc), "error")
        else:
            session.commit()
            _announce(result)
    if web.is_htmx():
        rows = bulk.list_rows(session, org, ids)
        return web.render("employees/index.html", partial="employees/_refreshed.html", rows=rows)
    back = web.local_path(request.form.get("back")) or url_for("employees.index")
    return web.redirect(back)


def _announce(result: bulk.BulkResult) -> None:
    """The result in the status region: what changed, then who did not, grouped by why."""
    flash(result.message, "success" if result.changed else "warning")
    by_reason: dict[str, list[str]] = {}
    for refusal in result.refused:
        by_reason.setdefault(refusal.reason, []).append(refusal.email)
    for reason, emails in by_reason.items():
        shown = ", ".join(emails[:REFUSALS_SHOWN])
        more = f" and {len(emails) - REFUSALS_SHOWN:,} more" if len(emails) > REFUSALS_SHOWN else ""
        flash(f"Not changed, {reason}: {shown}{more}.", "warning")


def _list_query() -> tuple[ListQuery, str | None]:
    args = request.args
    department = args.get("department", "")
    department_id = web.parse_id(department)
    if department and department_id is None:
        abort(404)
    source, state, sort = args.get("source", ""), args.get("state", ""), args.get("sort", "") or search.Sort.NAME
    if source not in ("", *SOURCE_LABELS) or state not in ("", *STATE_LABELS) or sort not in SORT_LABELS:
        abort(404)  # a hand-made URL naming a filter that does not exist: there is no such list
    query = ListQuery(q=args.get("q", "").strip()[:search.MAX_QUERY], department=department_id, source=source,
                      state=state, sort=sort)
    return query, args.get("after") or None


def _list_context(query: ListQuery, after: str | None, strict: bool = False) -> dict[str, Any]:
    session, org = web.db_session(), web.current_org()
    departments = records.department_choices(session, org)
    if query.department is not None and query.department not in {i for i, _ in departments}:
        abort(404)  # another organisation's department, or one deleted meanwhile
    filters = {"q": query.q, "department_id": query.department, "source": query.source or None,
               "status": query.state or None}
    try:
        page = search.search_employees(session, org, sort=query.sort, after=after, limit=PAGE_SIZE, **filters)
    except InvalidValue as exc:  # an out-of-date page link: the first page instead (or the caller says so)
        if strict:
            raise
        flash(str(exc), "warning")
        after = None
        page = search.search_employees(session, org, sort=query.sort, limit=PAGE_SIZE, **filters)
    return {
        "query": query,
        "page": page,
        "after": after,
        "count": _count(session, org, page, filters) if after is None else None,
        "department_options": [("", "All departments")] + [(str(i), name) for i, name in departments],
        "source_options": [("", "All sources")] + list(SOURCE_LABELS.items()),
        "state_options": [("", "All states")] + list(STATE_LABELS.items()),
        "sort_options": list(SORT_LABELS.items()),
        "more_url": url_for("employees.more", **query.args(after=page.next_cursor)) if page.has_more else None,
        "next_url": url_for("employees.index", **query.args(after=page.next_cursor)) if page.has_more else None,
        "first_url": url_for("employees.index", **query.args()) if after else None,
        "self_url": url_for("employees.index", **query.args(after=after)),
        "bulk_actions": BULK_ACTIONS,
    }


def _count(session, org, page: search.EmployeePage, filters: dict[str, Any]) -> search.EmployeeCount:
    """How many match: a first page that holds them all is the count (no second scan for a rare name)."""
    if not page.has_more:
        return search.EmployeeCount(len(page.rows), exact=True)
    return search.count_employees(session, org, **filters)


# -- one employee ---------------------------------------------------------------------------------


@bp.get("/<int:employee_id>")
def detail(employee_id: int) -> Response:
    """Every field and where it came from, departments, sync state and the decisions of past runs."""
    employee = _employee_or_404(employee_id)
    before = _int_arg("before")
    history = provenance.employee_decisions(web.db_session(), web.current_org(), employee.id, before_id=before,
                                            limit=DECISIONS_PER_PAGE)
    context = _detail_context(employee)
    context.update(
        signatures=_signatures_that_apply(employee),
        history=history,
        older_url=url_for("employees.detail", employee_id=employee.id, before=history.older, _anchor="decisions")
        if history.older else None,
        newest_url=url_for("employees.detail", employee_id=employee.id, _anchor="decisions") if before else None,
    )
    return web.render("employees/detail.html", partial="employees/_decisions.html", **context)


@bp.post("/<int:employee_id>/sync")
def set_sync(employee_id: int) -> Response:
    """Pause, resume, exclude or include one employee (audited); the state panel comes back for htmx."""
    employee = _employee_or_404(employee_id)
    action = request.form.get("action", "")
    if action not in bulk.BUTTONS:
        abort(400)
    session, org = web.db_session(), web.current_org()
    result = bulk.apply_action(session, org, [employee.id], action, actor=web.actor())
    session.commit()
    if result.changed:
        flash(f"{bulk.DONE[action]} {employee.email}.", "success")
    else:
        reason = result.refused[0].reason if result.refused else "it was removed meanwhile"
        flash(f"{employee.email} was not changed: {reason}.", "warning")
    if web.is_htmx():
        session.refresh(employee)
        return web.render("employees/detail.html", partial="employees/_state.html", **_detail_context(employee))
    return web.redirect(url_for("employees.detail", employee_id=employee.id))


@bp.post("/<int:employee_id>/give-back")
def give_back(employee_id: int) -> Response:
    """Give one hand-typed field back to Microsoft 365: its value becomes Microsoft 365's now."""
    employee = _employee_or_404(employee_id)
    name = request.form.get("field", "")
    session, org = web.db_session(), web.current_org()
    mapping = provenance.connection_mapping(session, org)
    try:
        row = provenance.give_back(session, org, employee, name, mapping)
    except (InvalidTransition, InvalidValue) as exc:
        session.rollback()
        flash(f"Nothing was changed: {exc}", "warning")
    else:
        audit.record(session, org.id, web.actor(), audit.Action.EMPLOYEE_EDITED,
                     f"Gave {row.label} of {employee.email} back to Microsoft 365.",
                     {"employee": employee.email, "field": name, "value": row.value})
        session.commit()
        shown = f"“{row.value}”" if row.value else "empty, as in Microsoft 365"
        flash(f"{row.label} of {employee.email} now follows Microsoft 365: {shown}.", "success")
    if web.is_htmx():
        session.refresh(employee)
        return web.render("employees/detail.html", partial="employees/_fields.html", **_detail_context(employee))
    return web.redirect(url_for("employees.detail", employee_id=employee.id))


def _detail_context(employee: Employee) -> dict[str, Any]:
    session, org = web.db_session(), web.current_org()
    mapping = provenance.connection_mapping(session, org) if employee.m365_id or employee.synced_values else None
    return {
        "employee": employee,
        "fields": provenance.field_origins(employee, mapping),
        "memberships": records.memberships(session, employee),
        "state_actions": STATE_ACTIONS.get(employee.status, ()),
        "state_words": STATE_WORDS.get(employee.status, ""),
    }


@dataclass(frozen=True)
class AppliedSignature:
    """One row of the employee page's Signatures table: for which mail, which signature, and why."""

    label: str
    name: str | None
    reason: str


def _signatures_that_apply(employee: Employee) -> list[AppliedSignature]:
    session, org = web.db_session(), web.current_org()
    resolved = signature_resolve.for_employee(session, org.id, employee.id)
    names = signature_resolve.template_names(session, org.id)
    labels = {"new": "New e-mails", "reply": "Replies and forwards"}
    return [AppliedSignature(labels[compose], names.get(r.template_id) if r.template_id else None, r.reason)
            for compose, r in resolved.items()]


# -- add and edit ---------------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
def new() -> Response:
    """Add an employee by hand (Add employee): the form, then the employee created within the seat limit."""
    session, org = web.db_session(), web.current_org()
    if request.method == "GET":
        return _form_page(None, values={}, custom_keys=[], departments=[])
    values, custom_keys, departments, errors = _read_form(None)
    employee = None
    problem = None
    if not errors:
        fields = {name: value for name, value in values.items() if name != "email"}
        try:
            employee = records.add_employee(session, org, values["email"], fields)
            records.set_departments(session, org, employee, departments)
        except AlreadyExists:
            errors["email"] = "Another employee already has this e-mail address. Open them from the list instead."
        except SeatLimitReached as exc:
            problem = f"{exc} The employee was not added."
        except InvalidValue as exc:
            problem = str(exc)
    if errors or problem or employee is None:
        session.rollback()
        return _form_page(None, values, custom_keys, departments, errors=errors, problem=problem, status=422)
    audit.record(session, org.id, web.actor(), audit.Action.EMPLOYEE_CREATED, f"Added employee {employee.email}.",
                 {"employee": employee.email})
    session.commit()
    flash(f"Added {employee.email}.", "success")
    return web.redirect(url_for("employees.detail", employee_id=employee.id))


@bp.route("/<int:employee_id>/edit", methods=["GET", "POST"])
def edit(employee_id: int) -> Response:
    """Edit typed data and departments; on a synced employee, typed values are kept over Microsoft 365's.

    The form carries the values it was built from (``original.<field>``, ``original_departments``): only
    what the admin changed relative to them is written, so a stale form never undoes what the sync or
    another admin changed meanwhile; if they changed the same field, nothing is saved (409).
    """
    employee = _employee_or_404(employee_id)
    session, org = web.db_session(), web.current_org()
    current = _current_values(employee)
    current_departments = [m.name for m in records.memberships(session, employee)]
    if request.method == "GET":
        return _form_page(employee, current, sorted(employee.custom or {}), current_departments,
                          originals=current, original_departments=current_departments)
    values, custom_keys, departments, errors = _read_form(employee)
    originals, original_departments = _read_originals(values, current, current_departments)
    typed = {name: value for name, value in values.items() if value != originals.get(name, "")}
    conflicts = {name: value for name, value in typed.items()
                 if current.get(name, "") != originals.get(name, "") and current.get(name, "") != value}
    changed = {name: value for name, value in typed.items() if current.get(name, "") != value}
    wanted = _wanted_departments(departments, original_departments, current_departments)
    if conflicts and not errors:
        # What the admin typed is kept; fields they did not touch show their value now.
        shown = {name: typed[name] if name in typed else current.get(name, "") for name in values}
        what = "; ".join(
            f"{provenance.field_label(name)} is now “{current.get(name, '')}” (you typed “{value}”)"
            for name, value in conflicts.items())
        problem = f"Someone changed this employee while you were editing: {what}. Check the values and save again."
        return _form_page(employee, shown, custom_keys, wanted, problem=problem, status=409,
                          originals=current, original_departments=current_departments)
    problem = None
    joined: list[str] = []
    left: list[str] = []
    if not errors:
        try:
            if changed:
                records.edit_employee(session, org, employee.email, changed)
            joined, left = records.set_departments(session, org, employee, wanted)
        except AlreadyExists:
            errors["email"] = "Another employee already has this e-mail address."
        except InvalidValue as exc:
            problem = str(exc)
    if errors or problem:
        session.rollback()
        return _form_page(employee, values, custom_keys, departments, errors=errors, problem=problem, status=422,
                          originals=originals, original_departments=original_departments)
    if not changed and not joined and not left:
        flash("Nothing was changed.", "info")
        return web.redirect(url_for("employees.detail", employee_id=employee.id))
    what = [provenance.field_label(name) for name in changed]
    what += [f"joined {name}" for name in joined] + [f"left {name}" for name in left]
    audit.record(session, org.id, web.actor(), audit.Action.EMPLOYEE_EDITED,
                 f"Edited {employee.email}: {', '.join(what)}.",
                 {"employee": employee.email, "fields": sorted(changed), "joined": joined, "left": left})
    session.commit()
    flash(f"Saved {employee.email}: {', '.join(what)}.", "success")
    return web.redirect(url_for("employees.detail", employee_id=employee.id))


def _read_originals(values: Mapping[str, str], current: Mapping[str, str],
                    current_departments: list[str]) -> tuple[dict[str, str], list[str]]:
    """The values and departments the submitted form was built from (a form without them: as they are now)."""
    form = request.form
    if form.get(FORM_ORIGINALS) != "1":
        return dict(current), list(current_departments)
    originals = {name: form.get(ORIGINAL_PREFIX + name, "").strip() for name in values}
    return originals, [name for name in form.getlist(ORIGINAL_DEPARTMENTS) if name.strip()]


def _wanted_departments(submitted: list[str], original: list[str], current: list[str]) -> list[str]:
    """The departments now, with only what the admin added or removed relative to the form's original applied."""
    submitted_keys = {department_key(name.strip()) for name in submitted}
    original_keys = {department_key(name.strip()) for name in original}
    removed = original_keys - submitted_keys
    wanted = [name for name in current if department_key(name.strip()) not in removed]
    known = {department_key(name.strip()) for name in wanted}
    for name in submitted:
        key = department_key(name.strip())
        if key not in original_keys and key not in known:
            wanted.append(name)
            known.add(key)
    return wanted


def _read_form(employee: Employee | None) -> tuple[dict[str, str], list[str], list[str], dict[str, str]]:
    """The form's values, custom keys, departments and the problems of each field (nothing typed is lost)."""
    form = request.form
    errors: dict[str, str] = {}
    names = [n for n in EMPLOYEE_FIELDS if not (employee is not None and employee.m365_id and n == "email")]
    values = {name: form.get(name, "").strip() for name in names}
    custom_keys = [key for key in form.getlist("custom_keys") if CUSTOM_KEY_PATTERN.fullmatch(key)]
    for key in custom_keys:
        values[CUSTOM_PREFIX + key] = form.get(CUSTOM_PREFIX + key, "").strip()
    new_key, new_value = form.get(NEW_CUSTOM_KEY, "").strip(), form.get(NEW_CUSTOM_VALUE, "").strip()
    if new_key or new_value:
        if not CUSTOM_KEY_PATTERN.fullmatch(new_key):
            errors[NEW_CUSTOM_KEY] = ("Name the custom field with 1 to 40 lower-case letters, digits or _, "
                                      "e.g. cost_centre.")
        elif new_key in custom_keys:
            errors[NEW_CUSTOM_KEY] = f"There is already a custom field {new_key}: change its value above."
        else:
            values[CUSTOM_PREFIX + new_key] = new_value
    for name, value in values.items():
        if name == "email" and not value:
            errors[name] = "Enter the employee's e-mail address: it is how Sigsync knows them."
            continue
        try:
            clean_fields({name: value})
        except InvalidValue as exc:
            message = str(exc)
            errors[name] = provenance.field_label(name) + message[len(name):] if message.startswith(name) else message
    departments = [name for name in form.getlist("departments") if name.strip()]
    departments += [part for part in form.get(NEW_DEPARTMENTS, "").split(";") if part.strip()]
    too_long = [name for name in departments if len(name.strip()) > records.DEPARTMENT_NAME_MAX]
    if too_long:
        errors[NEW_DEPARTMENTS] = (f"A department name can be at most {records.DEPARTMENT_NAME_MAX} characters; "
                                   f"“{too_long[0][:40]}…” is longer.")
    return values, custom_keys, departments, errors


def _current_values(employee: Employee) -> dict[str, str]:
    values = {name: getattr(employee, name) or "" for name in EMPLOYEE_FIELDS}
    values.update({CUSTOM_PREFIX + key: str(value) for key, value in (employee.custom or {}).items()})
    return values


def _form_page(employee: Employee | None, values: Mapping[str, str], custom_keys: list[str], departments: list[str],
               errors: dict[str, str] | None = None, problem: str | None = None, status: int = 200,
               originals: Mapping[str, str] | None = None, original_departments: list[str] | None = None,
               ) -> Response:
    session, org = web.db_session(), web.current_org()
    origins = {}
    if employee is not None and employee.m365_id:
        mapping = provenance.connection_mapping(session, org)
        origins = {row.name: row for row in provenance.field_origins(employee, mapping)}
    chosen = {name.strip().casefold() for name in departments}
    known = [name for _, name in records.department_choices(session, org)]
    new_names = [name.strip() for name in departments if name.strip().casefold() not in
                 {k.casefold() for k in known}]
    return web.render(
        "employees/form.html", status=status, employee=employee, values=values, custom_keys=custom_keys,
        groups=FORM_GROUPS, hints=FIELD_HINTS, origins=origins, errors=errors or {}, problem=problem,
        department_options=[(name, name.casefold() in chosen) for name in known],
        new_departments="; ".join(new_names) if errors or problem else "",
        new_custom_key=request.form.get(NEW_CUSTOM_KEY, "") if errors else "",
        new_custom_value=request.form.get(NEW_CUSTOM_VALUE, "") if errors else "",
        originals=originals, original_departments=original_departments or [],
    )


# -- helpers --------------------------------------------------------------------------------------


def _employee_or_404(employee_id: int) -> Employee:
    return web.get_owned_or_404(Employee, employee_id)


def _int_arg(name: str) -> int | None:
    """A keyset cursor from the query string; anything but a positive number is a page that does not exist."""
    value = request.args.get(name)
    if value is None or value == "":
        return None
    number = web.parse_id(value)
    if number is None:
        abort(404)
    return number
