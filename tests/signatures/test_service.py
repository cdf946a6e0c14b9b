"""The Signatures service in the admin's words: what an assignment or an edit changed (for the audit log), and a
department moved in the signature order (every department placed, nothing moves at the ends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from portal.db import get_engine
from portal.models import Department, SignatureDepartmentOrder, SignatureTemplate
from portal.organizations import create_organization
from portal.signatures import service


@pytest.fixture
def db(clean_db: str) -> Iterator[Session]:
    with Session(get_engine(clean_db), expire_on_commit=False) as session:
        yield session


def _org(db: Session):
    org = create_organization(db, "acme", "Acme GmbH")
    db.commit()
    return org


def test_an_assignment_is_described_slot_by_slot_from_and_to(db) -> None:
    org = _org(db)
    a, b = (SignatureTemplate(organization_id=org.id, name=name, html="<p>x</p>") for name in ("Alpha", "Beta"))
    db.add_all([a, b])
    db.commit()
    describe = service.describe_assignment
    assert describe(db, org.id, "default", "the organisation's default signatures", {"new": None, "reply": None},
                    {"new": None, "reply": None}) is None
    assert describe(db, org.id, "default", "the organisation's default signatures", {"new": None, "reply": a.id},
                    {"new": b.id, "reply": None}) == (
        "Changed the organisation's default signatures: new e-mails from none to “Beta”; replies and forwards from "
        "“Alpha” to the one for new e-mails.")
    assert describe(db, org.id, "employee:4", "the own signatures of p@acme.example", {"new": a.id, "reply": None},
                    {"new": None, "reply": None}) == (
        "Changed the own signatures of p@acme.example: new e-mails from “Alpha” to no override.")


def test_assign_returns_what_the_slot_held(db) -> None:
    org = _org(db)
    a, b = (SignatureTemplate(organization_id=org.id, name=name, html="<p>x</p>") for name in ("Alpha", "Beta"))
    db.add_all([a, b])
    db.commit()
    assert service.assign(db, org.id, "default", "new", a.id) is None
    assert service.assign(db, org.id, "default", "new", b.id) == a.id
    assert service.assign(db, org.id, "default", "new", None) == b.id
    assert service.assign(db, org.id, "default", "new", None) is None


def test_an_edit_is_described_by_what_changed_and_where_it_shows() -> None:
    before = SignatureTemplate(organization_id=1, name="Standard", html="<p>a</p>", text="", text_is_custom=False)
    same = SignatureTemplate(organization_id=1, name="Standard", html="<p>a</p>", text="", text_is_custom=False)
    assert service.describe_edit(before, same, []) is None
    renamed = SignatureTemplate(organization_id=1, name="Company", html="<p>a</p>", text="", text_is_custom=False)
    assert service.describe_edit(before, renamed, ["department Sales (new e-mails)"]) == (
        "Changed the signature “Company”: renamed from “Standard”. It is used as department Sales (new e-mails).")
    # a hand-written text typed while the box is unticked is not a change: it is not used
    ignored = SignatureTemplate(organization_id=1, name="Standard", html="<p>a</p>", text="", text_is_custom=False)
    assert service.describe_edit(before, ignored, []) is None
    custom = SignatureTemplate(organization_id=1, name="Standard", html="<p>a</p>", text="a", text_is_custom=True)
    assert service.describe_edit(before, custom, []) == (
        "Changed the signature “Standard”: the plain text is now written by hand. It is not assigned anywhere.")
    retyped = SignatureTemplate(organization_id=1, name="Standard", html="<p>a</p>", text="b", text_is_custom=True)
    assert service.describe_edit(custom, retyped, []) == (
        "Changed the signature “Standard”: changed the plain text. It is not assigned anywhere.")


def test_move_places_every_department_and_stays_put_at_the_ends(db) -> None:
    org = _org(db)
    rows = [Department(organization_id=org.id, name=name) for name in ("Sales", "Berlin", "Research")]
    db.add_all(rows)
    db.commit()
    sales, berlin, research = rows

    def order() -> list[str]:
        return [row.department.name for row in service.department_rows(db, org.id)]

    assert order() == ["Berlin", "Research", "Sales"]  # unplaced: by name
    first = service.move(db, org.id, berlin.id, -1)
    assert (first.old, first.new, first.total, first.passed) == (1, 1, 3, None)
    assert db.exec(select(SignatureDepartmentOrder)).first() is None  # nothing moved, nothing written
    moved = service.move(db, org.id, sales.id, -1)
    assert (moved.old, moved.new, moved.total, moved.passed.name) == (3, 2, 3, "Research")
    assert order() == ["Berlin", "Sales", "Research"]
    positions = dict(db.exec(select(SignatureDepartmentOrder.department_id, SignatureDepartmentOrder.position)).all())
    assert positions == {berlin.id: 1, sales.id: 2, research.id: 3}
    last = service.move(db, org.id, research.id, 1)
    assert (last.old, last.new, last.passed) == (3, 3, None)
    # a department created later comes after the placed ones
    db.add(Department(organization_id=org.id, name="Apac"))
    db.commit()
    assert order() == ["Berlin", "Sales", "Research", "Apac"]
