"""The Departments pages: the list with member counts, create, rename, delete, one department's members, and the
signature order (which of an employee's departments gives their signature)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, request, url_for
from werkzeug.wrappers import Response

from portal import audit, departments, web
from portal.employees.departments import DEPARTMENT_NAME_MAX
from portal.errors import AlreadyExists, InvalidValue, NotFound
from portal.models import Department
from portal.signatures import resolve
from portal.signatures import service as signatures

bp = Blueprint("departments", __name__, url_prefix="/departments")

MEMBERS_PER_PAGE = 50
SOURCE_LABELS = {"sync": "Microsoft 365 sync", "manual": "Added in Sigsync"}
EMPLOYEE_SOURCE_LABELS = {"m365": "Microsoft 365", "manual": "Added in Sigsync"}
MOVES = {"up": -1, "down": 1}


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"source_labels": SOURCE_LABELS, "employee_source_labels": EMPLOYEE_SOURCE_LABELS,
            "name_max": DEPARTMENT_NAME_MAX}


@bp.get("/")
def index() -> Response:
    """Every department of the organisation with its number of members, and a form for a new one."""
    return _index_page()


@bp.post("/")
def create() -> Response:
    """Create an empty department; a bad or taken name shows the form again with the problem beside it."""
    session, org = web.db_session(), web.current_org()
    name = request.form.get("name", "")
    try:
        department = departments.create_department(session, org, name)
    except (InvalidValue, AlreadyExists) as exc:
        session.rollback()
        return _index_page(form_name=name, errors={"name": exc.admin_message}, status=422)
    audit.record(session, org.id, web.actor(), audit.Action.DEPARTMENT_CREATED,
                 f"Created the department “{department.name}”.", {"department_id": department.id})
    session.commit()
    flash(f"Department “{department.name}” created.", "success")
    return web.redirect(url_for("departments.index"))


def _index_page(form_name: str = "", errors: dict[str, str] | None = None, status: int = 200) -> Response:
    rows = departments.list_departments(web.db_session(), web.current_org())
    # After a move without JavaScript, the page comes back with the moved row's button focused.
    moved, direction = web.parse_id(request.args.get("moved")), request.args.get("direction")
    focus = (moved, direction) if moved is not None and direction in MOVES else None
    return web.render("departments/index.html", partial="departments/_table.html", status=status,
                      departments=rows, form_name=form_name, errors=errors or {}, **_order_context(focus))


def _order_context(focus: tuple[int, str] | None) -> dict[str, Any]:
    session, org = web.db_session(), web.current_org()
    return {"order_rows": signatures.department_rows(session, org.id),
            "signature_names": resolve.template_names(session, org.id), "focus": focus}


@bp.post("/<int:department_id>/signature-order/<direction>")
def move(department_id: int, direction: str) -> Response:
    """Move a department one place up or down in the signature order; htmx gets the order back with the moved
    row's button focused and the new position announced, a plain form the whole page."""
    session, org = web.db_session(), web.current_org()
    department = _department_or_404(department_id)
    if direction not in MOVES:
        abort(404)
    moved = signatures.move(session, org.id, department.id, MOVES[direction])
    if moved.passed is None:
        flash(f"{department.name} is already {'first' if direction == 'up' else 'last'} in the signature order.",
              "info")
    else:
        relation = "above" if direction == "up" else "below"
        audit.record(session, org.id, web.actor(), audit.Action.SIGNATURE_ORDER_CHANGED,
                     f"Moved the department {department.name} {direction} in the signature order, from position "
                     f"{moved.old} to {moved.new} of {moved.total} ({relation} {moved.passed.name}).",
                     {"department_id": department.id, "from": moved.old, "to": moved.new})
        session.commit()
        flash(f"{department.name} is now {moved.new} of {moved.total} in the signature order, {relation} "
              f"{moved.passed.name}.", "success")
    if web.is_htmx():
        return web.render("departments/_signature_order.html", partial="departments/_signature_order.html",
                          **_order_context((department.id, direction)))
    return web.redirect(url_for("departments.index", moved=department.id, direction=direction) + "#signature-order")


@bp.get("/<int:department_id>")
def detail(department_id: int) -> Response:
    """One department: its members a page at a time, and the forms to rename or delete it."""
    department = _department_or_404(department_id)
    return _detail_page(department, form_name=department.name)


@bp.post("/<int:department_id>/rename")
def rename(department_id: int) -> Response:
    """Rename a department; its members stay. For a sync-made one, say what the next sync will do."""
    session, org = web.db_session(), web.current_org()
    department = _department_or_404(department_id)
    old = department.name
    name = request.form.get("name", "")
    try:
        result = departments.rename_department(session, org, department_id, name)
    except (InvalidValue, AlreadyExists) as exc:
        session.rollback()
        return _detail_page(_department_or_404(department_id), form_name=name, errors={"name": exc.admin_message},
                            status=422)
    new = result.department.name
    if new == old:
        flash(f"The department is already called “{new}”; nothing was changed.", "info")
        return web.redirect(url_for("departments.detail", department_id=department_id))
    audit.record(session, org.id, web.actor(), audit.Action.DEPARTMENT_RENAMED,
                 f"Renamed the department “{old}” to “{new}”.",
                 {"department_id": department_id, "from": old, "to": new})
    session.commit()
    flash(f"Department “{old}” renamed to “{new}”.", "success")
    if result.warning:
        flash(result.warning, "warning")
    return web.redirect(url_for("departments.detail", department_id=department_id))


@bp.route("/<int:department_id>/delete", methods=["GET", "POST"])
def delete(department_id: int) -> Response:
    """Delete a department: first what it does to the members (GET), then the deletion (POST)."""
    session, org = web.db_session(), web.current_org()
    department = _department_or_404(department_id)
    impact = departments.delete_impact(session, org, department_id)
    if request.method == "GET":
        return web.render("departments/delete.html", department=department, impact=impact,
                          signatures_go=departments.SIGNATURES_GO)
    removed = departments.delete_department(session, org, department_id)
    audit.record(session, org.id, web.actor(), audit.Action.DEPARTMENT_DELETED,
                 f"Deleted the department “{impact.name}”; {removed:,} employee(s) lost it.",
                 {"department_id": department_id, "name": impact.name, "members": removed})
    session.commit()
    flash(f"Department “{impact.name}” deleted. {removed:,} employee(s) lost it; nobody was deleted.", "success")
    return web.redirect(url_for("departments.index"))


def _detail_page(department: Department, form_name: str, errors: dict[str, str] | None = None,
                 status: int = 200) -> Response:
    session, org = web.db_session(), web.current_org()
    after = request.args.get("after") or None
    try:
        page = departments.members(session, org, department.id, after=after, limit=MEMBERS_PER_PAGE)
    except InvalidValue:
        abort(404)  # a cursor that was not ours: no such page
    impact = departments.delete_impact(session, org, department.id)
    order = signatures.department_rows(session, org.id)
    position = next(i for i, row in enumerate(order, start=1) if row.department.id == department.id)
    return web.render(
        "departments/detail.html", partial="departments/_members.html", status=status,
        department=department, members=page, impact=impact, form_name=form_name, errors=errors or {},
        signature_row=order[position - 1], signature_position=position, signature_total=len(order),
        signature_names=resolve.template_names(session, org.id),
        next_url=url_for("departments.detail", department_id=department.id, after=page.next_cursor)
        if page.next_cursor else None,
        first_url=url_for("departments.detail", department_id=department.id) if after else None,
    )


def _department_or_404(department_id: int) -> Department:
    try:
        return departments.get_department(web.db_session(), web.current_org(), department_id)
    except NotFound:
        abort(404)
