"""Signature templates and their assignment: what the portal's Signatures pages call."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from portal.errors import InvalidValue
from portal.models import (
    Department,
    Employee,
    EmployeeDepartment,
    SignatureAssignment,
    SignatureDepartmentOrder,
    SignatureTemplate,
    utcnow,
)
from portal.photos import store as photo_store
from portal.signatures import render as rendering
from portal.signatures.resolve import COMPOSE

NAME_MAX = 200
SAMPLE = {"first_name": "Ada", "last_name": "Lovelace", "display_name": "Ada Lovelace", "email": "ada@example.com",
          "job_title": "Head of Analytical Engines", "department": "Research", "company": "Example Ltd",
          "office": "London", "phone": "+44 20 7946 0000", "mobile": "+44 7700 900000", "fax": "+44 20 7946 0001",
          "street": "12 St James's Square", "postal_code": "SW1Y 4LB", "city": "London", "state": "",
          "country": "United Kingdom", "employee_number": "1815", "manager_name": "Charles Babbage",
          "manager_email": "charles@example.com"}


@dataclass(frozen=True)
class Checked:
    """A template that passed every check, ready to store; ``removed``: cleaning took something out."""

    html: str
    text: str
    text_is_custom: bool
    removed: bool


def check(name: str, html: str, text: str = "", text_is_custom: bool = False) -> tuple[Checked | None, dict]:
    """Check a template as typed: (the cleaned template, {}) or (None, {field: problem})."""
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = "Give the signature a name, for example “Standard” or “Sales – replies”."
    elif len(name) > NAME_MAX:
        errors["name"] = f"The name is {len(name)} characters long; at most {NAME_MAX}."
    prepared = None
    try:
        prepared = rendering.prepare(html)
    except rendering.TemplateProblem as problem:
        errors["html"] = str(problem)
    if text_is_custom:
        try:
            rendering.prepare(text, text=True)
        except rendering.TemplateProblem as problem:
            errors["text"] = f"Plain text: {problem}"
    if prepared is not None and "text" not in errors:
        try:
            compiled = rendering.compile_template(prepared.html, text if text_is_custom else None)
            rendering.render(compiled, rendering.context_for(SAMPLE, departments=["Research"],
                                                             manager={"display_name": "Charles Babbage"}))
        except rendering.TemplateProblem as problem:
            errors["html"] = str(problem)
        except Exception as error:  # noqa: BLE001 - the sandbox refusing something: say it, do not crash
            errors["html"] = f"The template cannot be filled in: {error}"
    if errors or prepared is None:
        return None, errors
    return Checked(prepared.html, text if text_is_custom else "", text_is_custom, prepared.removed), {}


def name_taken(session: Session, organization_id: int, name: str, except_id: int | None = None) -> bool:
    query = select(SignatureTemplate.id).where(SignatureTemplate.organization_id == organization_id,
                                                func.lower(SignatureTemplate.name) == name.strip().lower())
    if except_id is not None:
        query = query.where(SignatureTemplate.id != except_id)
    return session.exec(query).first() is not None


def list_templates(session: Session, organization_id: int) -> list[tuple[SignatureTemplate, int]]:
    """Every template with the number of slots it fills (default, departments, employees)."""
    counts = dict(session.exec(select(SignatureAssignment.template_id, func.count())
                               .where(SignatureAssignment.organization_id == organization_id)
                               .group_by(SignatureAssignment.template_id)).all())
    templates = session.exec(select(SignatureTemplate).where(SignatureTemplate.organization_id == organization_id)
                             .order_by(func.lower(SignatureTemplate.name))).all()
    return [(t, counts.get(t.id, 0)) for t in templates]


def where_used(session: Session, organization_id: int, template_id: int, limit: int = 10) -> list[str]:
    """Where a template is assigned, in words ("the default for new e-mails", "Sales (replies)", …)."""
    places = []
    rows = session.exec(select(SignatureAssignment).where(SignatureAssignment.organization_id == organization_id,
                                                          SignatureAssignment.template_id == template_id)
                        .order_by(SignatureAssignment.target, SignatureAssignment.compose).limit(limit)).all()
    for row in rows:
        label = "new e-mails" if row.compose == "new" else "replies and forwards"
        if row.target == "default":
            places.append(f"the organisation's default for {label}")
        elif row.department_id is not None:
            department = session.get(Department, row.department_id)
            places.append(f"department {department.name if department else '?'} ({label})")
        elif row.employee_id is not None:
            employee = session.get(Employee, row.employee_id)
            places.append(f"employee {employee.email if employee else '?'} ({label})")
    return places


def copy_name(session: Session, organization_id: int, name: str) -> str:
    base = f"Copy of {name}"[:NAME_MAX - 4]
    candidate, n = base, 2
    while name_taken(session, organization_id, candidate):
        candidate, n = f"{base} {n}", n + 1
    return candidate


def duplicate(session: Session, template: SignatureTemplate) -> SignatureTemplate:
    copy = SignatureTemplate(organization_id=template.organization_id,
                             name=copy_name(session, template.organization_id, template.name), html=template.html,
                             text=template.text, text_is_custom=template.text_is_custom)
    session.add(copy)
    session.flush()
    return copy


def delete(session: Session, template: SignatureTemplate) -> list[str]:
    """Delete a template unless it is assigned: then nothing changes and the places are returned."""
    places = where_used(session, template.organization_id, template.id)
    if places:
        return places
    session.delete(template)
    session.flush()
    return []


def save(session: Session, template: SignatureTemplate, name: str, checked: Checked) -> SignatureTemplate:
    template.name = name.strip()
    template.html = checked.html
    template.text = checked.text
    template.text_is_custom = checked.text_is_custom
    template.updated_at = utcnow()
    session.add(template)
    session.flush()
    return template


# --- assignment ---------------------------------------------------------------------------------

def assign(session: Session, organization_id: int, target: str, compose: str, template_id: int | None) -> int | None:
    """Set (or with None clear) one slot: target "default", "department:<id>" or "employee:<id>"; returns the
    template the slot held before (None: empty)."""
    if compose not in COMPOSE:
        raise InvalidValue("compose must be new or reply")
    department_id = employee_id = None
    kind, _, ident = target.partition(":")
    if kind == "department":
        department_id = int(ident)
    elif kind == "employee":
        employee_id = int(ident)
    elif target != "default":
        raise InvalidValue(f"Unknown assignment target {target!r}.")
    if template_id is not None:
        template = session.get(SignatureTemplate, template_id)
        if template is None or template.organization_id != organization_id:
            raise InvalidValue("That signature does not exist (any more). Reload the page and choose again.")
    row = session.exec(select(SignatureAssignment).where(SignatureAssignment.organization_id == organization_id,
                                                         SignatureAssignment.target == target,
                                                         SignatureAssignment.compose == compose)).first()
    before = row.template_id if row is not None else None
    if template_id is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(SignatureAssignment(organization_id=organization_id, target=target, compose=compose,
                                        template_id=template_id, department_id=department_id,
                                        employee_id=employee_id))
    else:
        row.template_id = template_id
        session.add(row)
    session.flush()
    return before


def describe_assignment(session: Session, organization_id: int, target: str, what: str,
                        before: dict[str, int | None], after: dict[str, int | None]) -> str | None:
    """What an assignment form changed in ``what`` ("the signatures of department Sales"), in the admin's words
    (None: nothing): for the audit log."""
    names = dict(session.exec(select(SignatureTemplate.id, SignatureTemplate.name)
                              .where(SignatureTemplate.organization_id == organization_id)).all())

    def slot(compose: str, template_id: int | None) -> str:
        if template_id is not None:
            return f"“{names.get(template_id, f'signature {template_id}')}”"
        if target.startswith("employee:"):
            return "no override"
        return "none" if compose == "new" else "the one for new e-mails"

    changes = [f"{'new e-mails' if compose == 'new' else 'replies and forwards'} from {slot(compose, before[compose])} "
               f"to {slot(compose, after[compose])}" for compose in COMPOSE if before[compose] != after[compose]]
    if not changes:
        return None
    return f"Changed {what}: {'; '.join(changes)}."


def describe_edit(before: SignatureTemplate, after: SignatureTemplate, places: list[str]) -> str | None:
    """What saving a template changed, in the admin's words (None: nothing), and where that shows."""
    changes = []
    if before.name != after.name:
        changes.append(f"renamed from “{before.name}”")
    if before.html != after.html:
        changes.append("changed the HTML")
    if before.text_is_custom != after.text_is_custom:
        changes.append("the plain text is now written by hand" if after.text_is_custom
                       else "the plain text is now made from the HTML")
    elif after.text_is_custom and before.text != after.text:
        changes.append("changed the plain text")
    if not changes:
        return None
    used = f" It is used as {'; '.join(places)}." if places else " It is not assigned anywhere."
    return f"Changed the signature “{after.name}”: {', '.join(changes)}.{used}"


@dataclass(frozen=True)
class DepartmentRow:
    department: Department
    position: int | None
    new: int | None
    reply: int | None


def department_rows(session: Session, organization_id: int) -> list[DepartmentRow]:
    """Departments in the signature order (placed first by position, then by name) with their slots."""
    positions = dict(session.exec(select(SignatureDepartmentOrder.department_id, SignatureDepartmentOrder.position)
                                  .where(SignatureDepartmentOrder.organization_id == organization_id)).all())
    slots: dict[int, dict[str, int]] = {}
    for dep_id, compose, template_id in session.exec(
            select(SignatureAssignment.department_id, SignatureAssignment.compose, SignatureAssignment.template_id)
            .where(SignatureAssignment.organization_id == organization_id,
                   SignatureAssignment.department_id.is_not(None))):
        slots.setdefault(dep_id, {})[compose] = template_id
    departments = session.exec(select(Department).where(Department.organization_id == organization_id)).all()
    rows = [DepartmentRow(d, positions.get(d.id), slots.get(d.id, {}).get("new"), slots.get(d.id, {}).get("reply"))
            for d in departments]
    return sorted(rows, key=lambda r: (r.position is None, r.position or 0, r.department.name.casefold()))


@dataclass(frozen=True)
class Moved:
    """Where a move left a department (1-based), out of how many; ``passed``: the department it swapped with."""

    old: int
    new: int
    total: int
    passed: Department | None


def move(session: Session, organization_id: int, department_id: int, direction: int) -> Moved:
    """Move a department one place up (-1) or down (+1) in the order; every department gets a position.
    At the top (or bottom) already, nothing moves."""
    rows = department_rows(session, organization_id)
    ids = [r.department.id for r in rows]
    at = ids.index(department_id)
    to = at + direction
    if not 0 <= to < len(ids):
        return Moved(at + 1, at + 1, len(ids), None)
    passed = rows[to].department
    ids[at], ids[to] = ids[to], ids[at]
    existing = {row.department_id: row for row in session.exec(
        select(SignatureDepartmentOrder).where(SignatureDepartmentOrder.organization_id == organization_id))}
    for position, dep_id in enumerate(ids, start=1):
        row = existing.get(dep_id) or SignatureDepartmentOrder(department_id=dep_id, organization_id=organization_id,
                                                               position=position)
        row.position = position
        session.add(row)
    session.flush()
    return Moved(at + 1, to + 1, len(ids), passed)


def members_sample(session: Session, organization_id: int, limit: int = 50) -> list[Employee]:
    """Some employees to preview as (the first by e-mail address)."""
    return list(session.exec(select(Employee).where(Employee.organization_id == organization_id)
                             .order_by(Employee.email).limit(limit)).all())


def context_for_employee(session: Session, employee: Employee) -> dict:
    """The placeholders' values for one stored employee: fields, custom, departments, the manager's fields, photo."""
    departments = session.exec(select(Department.name).join(EmployeeDepartment,
                                                            EmployeeDepartment.department_id == Department.id)
                               .where(EmployeeDepartment.employee_id == employee.id)
                               .order_by(Department.name)).all()
    manager = None
    if employee.manager_email:
        manager_row = session.exec(select(Employee).where(Employee.organization_id == employee.organization_id,
                                                          Employee.email == employee.manager_email)).first()
        if manager_row is not None:
            manager = {name: getattr(manager_row, name) for name in rendering.MANAGER_FIELDS}
    fields = {name: getattr(employee, name) for name in rendering.EMPLOYEE_FIELDS}
    return rendering.context_for(fields, custom=employee.custom, departments=list(departments), manager=manager,
                                 photo_url=photo_store.signature_url(session, employee))
