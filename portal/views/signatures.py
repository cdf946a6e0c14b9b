"""The Signatures pages: templates (list, create, edit with a live preview, duplicate, delete) and assignment
(the organisation's default, per department for new e-mails and for replies, an employee's own); an employee's
signatures ready to copy. The department order is on the Departments page (portal.views.departments)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, request, url_for
from redis.exceptions import RedisError
from sqlmodel import select
from werkzeug.wrappers import Response

from portal import audit, web
from portal.api import tokens
from portal.errors import InvalidValue
from portal.models import ApiToken, Department, Employee, SignatureTemplate
from portal.signatures import previews, resolve, service
from portal.signatures import render as rendering
from portal.signatures.resolve import COMPOSE

bp = Blueprint("signatures", __name__, url_prefix="/signatures")

COMPOSE_LABELS = {"new": "New e-mails", "reply": "Replies and forwards"}
GMAIL_MAX_CHARS = 10_000  # Gmail refuses longer signatures; Outlook takes up to rendering.MAX_HTML_CHARS
DEFAULT_HTML = """<table cellpadding="0" cellspacing="0">
  <tr><td>
    <b>{{ full_name }}</b><br>
    {{ job_title }}<br>
    Phone: {{ phone }}<br>
    Mobile: {{ mobile }}<br>
    <a href="mailto:{{ email }}">{{ email }}</a>
  </td></tr>
</table>"""


@bp.context_processor
def _context() -> dict[str, Any]:
    return {"compose_labels": COMPOSE_LABELS, "name_max": service.NAME_MAX, "palette": _palette()}


def _palette() -> list[tuple[str, list[str]]]:
    return [
        ("Employee", [*rendering.EMPLOYEE_FIELDS, *rendering.EXTRA_PLACEHOLDERS]),
        ("Manager", [f"manager.{name}" for name in rendering.MANAGER_FIELDS]),
        ("Custom fields", ["custom.<key>"]),
    ]


@bp.get("/")
def index(new_token: str | None = None) -> Response:
    """Every signature with where it is used, and the assignment of defaults and departments."""
    session, org = web.db_session(), web.current_org()
    templates = service.list_templates(session, org.id)
    slots = {compose: _slot(session, org.id, "default", compose) for compose in COMPOSE}
    return web.render("signatures/index.html", templates=templates, default_slots=slots,
                      rows=service.department_rows(session, org.id),
                      options=[("", "— none —")] + [(str(t.id), t.name) for t, _ in templates],
                      api_tokens=tokens.list_tokens(session, org.id), new_token=new_token)


@bp.post("/tokens")
def create_token() -> Response:
    """A new API token, shown on this answer only (it is stored hashed)."""
    session, org = web.db_session(), web.current_org()
    row, token = tokens.create(session, org.id, request.form.get("token-name", ""))
    audit.record(session, org.id, web.actor(), audit.Action.SETTINGS_CHANGED,
                 f"Created the API token “{row.name}”.", {"token_id": row.id})
    session.commit()
    flash(f"API token “{row.name}” created. Copy it now: it is shown only once.", "success")
    return index(new_token=token)


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int) -> Response:
    session, org = web.db_session(), web.current_org()
    row = web.get_owned_or_404(ApiToken, token_id)
    tokens.revoke(session, row)
    audit.record(session, org.id, web.actor(), audit.Action.SETTINGS_CHANGED,
                 f"Revoked the API token “{row.name}”.", {"token_id": row.id})
    session.commit()
    flash(f"API token “{row.name}” revoked: it no longer works.", "success")
    return web.redirect(url_for("signatures.index") + "#api")


def _slot(session: Any, organization_id: int, target: str, compose: str) -> int | None:
    from portal.signatures.resolve import load_slots

    return load_slots(session, organization_id).get(target, {}).get(compose)


@bp.get("/new")
def new() -> Response:
    return _editor_page(None, name="", html=DEFAULT_HTML, text="", text_is_custom=False)


@bp.post("/")
def create() -> Response:
    session, org = web.db_session(), web.current_org()
    form = _form()
    checked, errors = service.check(form["name"], form["html"], form["text"], form["text_is_custom"])
    if not errors and service.name_taken(session, org.id, form["name"]):
        errors = {"name": f"A signature called “{form['name'].strip()}” exists already. Choose another name."}
    if errors:
        return _editor_page(None, errors=errors, status=422, **form)
    template = SignatureTemplate(organization_id=org.id, name=form["name"].strip(), html="")
    service.save(session, template, form["name"], checked)
    audit.record(session, org.id, web.actor(), audit.Action.SIGNATURE_CREATED,
                 f"Created the signature “{template.name}”.", {"signature_id": template.id})
    session.commit()
    _flash_saved(template, checked)
    return web.redirect(url_for("signatures.edit", template_id=template.id))


@bp.get("/<int:template_id>")
def edit(template_id: int) -> Response:
    template = web.get_owned_or_404(SignatureTemplate, template_id)
    return _editor_page(template, name=template.name, html=template.html, text=template.text,
                        text_is_custom=template.text_is_custom)


@bp.post("/<int:template_id>")
def update(template_id: int) -> Response:
    session, org = web.db_session(), web.current_org()
    template = web.get_owned_or_404(SignatureTemplate, template_id)
    form = _form()
    checked, errors = service.check(form["name"], form["html"], form["text"], form["text_is_custom"])
    if not errors and service.name_taken(session, org.id, form["name"], except_id=template.id):
        errors = {"name": f"A signature called “{form['name'].strip()}” exists already. Choose another name."}
    if errors:
        return _editor_page(template, errors=errors, status=422, **form)
    before = SignatureTemplate(organization_id=org.id, name=template.name, html=template.html, text=template.text,
                               text_is_custom=template.text_is_custom)
    service.save(session, template, form["name"], checked)
    summary = service.describe_edit(before, template, service.where_used(session, org.id, template.id))
    if summary is not None:
        audit.record(session, org.id, web.actor(), audit.Action.SIGNATURE_EDITED, summary,
                     {"signature_id": template.id, "from_name": before.name})
    session.commit()
    _flash_saved(template, checked)
    return web.redirect(url_for("signatures.edit", template_id=template.id))


def _flash_saved(template: SignatureTemplate, checked: service.Checked) -> None:
    if checked.removed:
        flash(f"Signature “{template.name}” saved. Some HTML that mail clients do not accept (scripts, event "
              "handlers, forms, unsafe links or styles) was removed: check the preview.", "warning")
    else:
        flash(f"Signature “{template.name}” saved.", "success")


@bp.post("/preview")
def preview() -> Response:
    """The template as typed, filled with a chosen employee's data (htmx, as the admin types)."""
    session, org = web.db_session(), web.current_org()
    form = _form()
    employee = None
    employee_id = web.parse_id(request.form.get("employee_id"))
    if employee_id is not None:
        employee = session.get(Employee, employee_id)
        if employee is None or employee.organization_id != org.id:
            abort(404)
    result = problem = None
    try:
        prepared = rendering.prepare(form["html"])
        if form["text_is_custom"]:
            rendering.prepare(form["text"], text=True)
        compiled = rendering.compile_template(prepared.html, form["text"] if form["text_is_custom"] else None)
        context = (service.context_for_employee(session, employee) if employee is not None
                   else rendering.context_for(service.SAMPLE, departments=["Research"]))
        result = rendering.render(compiled, context)
    except rendering.TemplateProblem as error:
        problem = str(error)
    except Exception as error:  # noqa: BLE001 - the sandbox refusing something: show it, do not crash
        problem = f"The template cannot be filled in: {error}"
    frame = _frame(result.html) if result is not None else None
    # Never a partial with the status region: a preview still running when the admin presses Save would take the
    # "saved" message meant for the next page.
    return web.render("signatures/_preview.html", result=result, problem=problem, employee=employee, frame=frame)


def _frame(html: str) -> str | None:
    """The preview's own URL (None when Redis cannot keep it: the page says so)."""
    try:
        ident = previews.store(web.app_config().redis_url, web.current_org().id, html)
    except RedisError:
        return None
    return url_for("signatures.preview_frame", ident=ident)


@bp.get("/preview/<ident>")
def preview_frame(ident: str) -> Response:
    """A rendered preview as its own document, for the editor's sandboxed frame (inline styles allowed here only)."""
    try:
        html = previews.load(web.app_config().redis_url, web.current_org().id, ident)
    except RedisError:
        html = None
    if html is None:
        abort(404)
    response = Response(previews.document(html), mimetype="text/html")
    response.headers["Content-Security-Policy"] = previews.FRAME_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:template_id>/duplicate")
def duplicate(template_id: int) -> Response:
    session, org = web.db_session(), web.current_org()
    template = web.get_owned_or_404(SignatureTemplate, template_id)
    copy = service.duplicate(session, template)
    audit.record(session, org.id, web.actor(), audit.Action.SIGNATURE_DUPLICATED,
                 f"Duplicated the signature “{template.name}” as “{copy.name}”.", {"signature_id": copy.id})
    session.commit()
    flash(f"Signature duplicated as “{copy.name}”.", "success")
    return web.redirect(url_for("signatures.edit", template_id=copy.id))


@bp.post("/<int:template_id>/delete")
def delete(template_id: int) -> Response:
    session, org = web.db_session(), web.current_org()
    template = web.get_owned_or_404(SignatureTemplate, template_id)
    name = template.name
    places = service.delete(session, template)
    if places:
        session.rollback()
        flash(f"“{name}” is still used as {'; '.join(places)}. Choose another signature there first, then "
              "delete it.", "error")
        return web.redirect(url_for("signatures.index"))
    audit.record(session, org.id, web.actor(), audit.Action.SIGNATURE_DELETED, f"Deleted the signature “{name}”.",
                 {"signature_id": template_id})
    session.commit()
    flash(f"Signature “{name}” deleted.", "success")
    return web.redirect(url_for("signatures.index"))


@bp.post("/assign")
def assign() -> Response:
    """Set the organisation's default or a department's signatures (both composes in one form)."""
    session, org = web.db_session(), web.current_org()
    target = request.form.get("target", "")
    if target.startswith("department:"):
        ident = target.partition(":")[2]
        department_id = web.parse_id(ident)
        if department_id is None:
            abort(404)
        department = web.get_owned_or_404(Department, department_id)
        where = f"department {department.name}"
    elif target == "default":
        where = "the organisation's default"
    else:
        abort(404)
    try:
        _assign_both(session, org.id, target, "the organisation's default signatures" if target == "default"
                     else f"the signatures of {where}")
    except InvalidValue as error:
        session.rollback()
        flash(error.admin_message, "error")
        return web.redirect(url_for("signatures.index"))
    session.commit()
    flash(f"Signatures of {where} saved.", "success")
    return web.redirect(url_for("signatures.index") + ("#departments" if target != "default" else ""))


@bp.get("/employee")
def find_employee() -> Response:
    """From an e-mail address typed on the Signatures page to that employee's signatures."""
    session, org = web.db_session(), web.current_org()
    email = request.args.get("email", "").strip().lower()
    employee = session.exec(select(Employee).where(Employee.organization_id == org.id,
                                                   Employee.email == email)).first() if email else None
    if employee is None:
        flash(f"No employee has the address “{email}”. Check the spelling, or find them on the Employees page.",
              "error")
        return web.redirect(url_for("signatures.index") + "#employee")
    return web.redirect(url_for("signatures.employee", employee_id=employee.id))


@bp.get("/employee/<int:employee_id>")
def employee(employee_id: int) -> Response:
    """Which signature an employee gets for new e-mails and for replies, why, filled in; and the override."""
    session, org = web.db_session(), web.current_org()
    person = web.get_owned_or_404(Employee, employee_id)
    resolved = resolve.for_employee(session, org.id, person.id)
    names = resolve.template_names(session, org.id)
    slots = resolve.load_slots(session, org.id).get(f"employee:{person.id}", {})
    rendered: dict[str, Any] = {}
    context = service.context_for_employee(session, person)
    for compose, choice in resolved.items():
        if choice.template_id is None:
            continue
        template = session.get(SignatureTemplate, choice.template_id)
        try:
            compiled = rendering.compile_template(template.html, template.text if template.text_is_custom else None)
            rendered[compose] = rendering.render(compiled, context)
        except rendering.TemplateProblem as problem:
            rendered[compose] = str(problem)
    frames = {compose: _frame(out.html) for compose, out in rendered.items() if not isinstance(out, str)}
    return web.render("signatures/employee.html", person=person, resolved=resolved, names=names,
                      rendered=rendered, frames=frames, override=slots, gmail_max=GMAIL_MAX_CHARS,
                      options=[("", "— no override —")] + [(str(i), n) for i, n in
                                                           sorted(names.items(), key=lambda x: x[1].lower())])


@bp.post("/employee/<int:employee_id>")
def override(employee_id: int) -> Response:
    """Set or clear an employee's own signatures (new and reply)."""
    session, org = web.db_session(), web.current_org()
    person = web.get_owned_or_404(Employee, employee_id)
    try:
        _assign_both(session, org.id, f"employee:{person.id}", f"the own signatures of {person.email}")
    except InvalidValue as error:
        session.rollback()
        flash(error.admin_message, "error")
        return web.redirect(url_for("signatures.employee", employee_id=person.id))
    session.commit()
    flash(f"Signatures of {person.email} saved.", "success")
    return web.redirect(url_for("signatures.employee", employee_id=person.id))


def _assign_both(session: Any, organization_id: int, target: str, what: str) -> None:
    """Both slots of ``target`` from the form, and an audit event saying what changed in ``what`` ("the signatures
    of department Sales"); none when nothing did."""
    before, after = {}, {}
    for compose in COMPOSE:
        raw = request.form.get(compose, "")
        if raw and web.parse_id(raw) is None:
            raise InvalidValue("Choose a signature from the list.")
        after[compose] = web.parse_id(raw)
        before[compose] = service.assign(session, organization_id, target, compose, after[compose])
    summary = service.describe_assignment(session, organization_id, target, what, before, after)
    if summary is not None:
        audit.record(session, organization_id, web.actor(), audit.Action.SIGNATURE_ASSIGNED, summary,
                     {"target": target, "before": before, "after": after})


def _form() -> dict[str, Any]:
    return {"name": request.form.get("name", ""), "html": request.form.get("html", ""),
            "text": request.form.get("text", ""), "text_is_custom": request.form.get("text_is_custom") == "on"}


def _editor_page(template: SignatureTemplate | None, *, name: str, html: str, text: str, text_is_custom: bool,
                 errors: dict[str, str] | None = None, status: int = 200) -> Response:
    session, org = web.db_session(), web.current_org()
    places = service.where_used(session, org.id, template.id) if template is not None else []
    return web.render("signatures/edit.html", status=status, signature=template, name=name, html=html,
                      text=text, text_is_custom=text_is_custom, errors=errors or {}, places=places,
                      employees=service.members_sample(session, org.id))
