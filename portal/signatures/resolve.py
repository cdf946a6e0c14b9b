"""Which signature an employee gets, for new e-mails and for replies, and why.

The rule, level by level, first match wins:

1. the employee's own override;
2. the employee's departments in the order the admin set (``SignatureDepartmentOrder``; departments
   never placed come after, by name): the first that has a signature;
3. the organisation's default.

Each level has a slot for new e-mails and one for replies and forwards. A reply slot left empty at a
level means "the same as new at this level": the level still wins, so a department with one signature
gives it to replies too rather than falling through to the default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlmodel import Session, select

from portal.models import (
    Department,
    EmployeeDepartment,
    SignatureAssignment,
    SignatureDepartmentOrder,
    SignatureTemplate,
)

COMPOSE = ("new", "reply")

# target -> compose -> template id
Slots = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class Resolution:
    """The template that applies (None: no signature) and why, in the admin's words."""

    template_id: int | None
    kind: str  # "override" | "department" | "default" | "none"
    reason: str
    department_id: int | None = None
    position: int | None = None


@dataclass(frozen=True)
class Membership:
    """One of the employee's departments, with its place in the admin's order (1-based; None: unplaced)."""

    department_id: int
    name: str
    position: int | None


def ordered(memberships: Sequence[Membership]) -> list[Membership]:
    """Placed departments first by position, then unplaced ones by name."""
    return sorted(memberships, key=lambda m: (m.position is None, m.position or 0, m.name.casefold(),
                                              m.department_id))


def _slot(slots: Slots, target: str, compose: str) -> int | None:
    chosen = slots.get(target, {})
    return chosen.get(compose) or chosen.get("new")


def resolve(compose: str, employee_id: int, memberships: Sequence[Membership], slots: Slots) -> Resolution:
    """Pure: the template for ``compose`` ("new" or "reply") given the employee's departments and all slots."""
    if compose not in COMPOSE:
        raise ValueError(f"compose must be 'new' or 'reply', not {compose!r}")
    label = "new e-mails" if compose == "new" else "replies and forwards"
    template = _slot(slots, f"employee:{employee_id}", compose)
    if template is not None:
        return Resolution(template, "override", f"This employee's own signature for {label} (override).")
    for membership in ordered(memberships):
        template = _slot(slots, f"department:{membership.department_id}", compose)
        if template is not None:
            where = (f"at position {membership.position} of the department order" if membership.position
                     else "(not placed in the department order)")
            return Resolution(template, "department", f"Department {membership.name} {where}.",
                              membership.department_id, membership.position)
    template = _slot(slots, "default", compose)
    if template is not None:
        return Resolution(template, "default", f"The organisation's default for {label}.")
    return Resolution(None, "none", "No signature: set an organisation default or assign one to a department.")


# --- reading what resolve needs ----------------------------------------------------------------

def load_slots(session: Session, organization_id: int) -> dict[str, dict[str, int]]:
    """Every assignment of the organisation (a few rows per department: small)."""
    slots: dict[str, dict[str, int]] = {}
    rows = session.exec(select(SignatureAssignment.target, SignatureAssignment.compose,
                               SignatureAssignment.template_id)
                        .where(SignatureAssignment.organization_id == organization_id))
    for target, compose, template_id in rows:
        slots.setdefault(target, {})[compose] = template_id
    return slots


def memberships_of(session: Session, organization_id: int, employee_id: int) -> list[Membership]:
    rows = session.exec(
        select(Department.id, Department.name, SignatureDepartmentOrder.position)
        .join(EmployeeDepartment, EmployeeDepartment.department_id == Department.id)
        .outerjoin(SignatureDepartmentOrder, SignatureDepartmentOrder.department_id == Department.id)
        .where(EmployeeDepartment.employee_id == employee_id, Department.organization_id == organization_id))
    return [Membership(dept_id, name, position) for dept_id, name, position in rows]


def for_employee(session: Session, organization_id: int, employee_id: int) -> dict[str, Resolution]:
    """New and reply for one employee, read from the database."""
    slots = load_slots(session, organization_id)
    memberships = memberships_of(session, organization_id, employee_id)
    return {compose: resolve(compose, employee_id, memberships, slots) for compose in COMPOSE}


def template_names(session: Session, organization_id: int) -> dict[int, str]:
    return dict(session.exec(select(SignatureTemplate.id, SignatureTemplate.name)
                             .where(SignatureTemplate.organization_id == organization_id)).all())
