"""Deleting employees who have a signature of their own or an uploaded photo: the sync's removals and
disconnecting with "delete employees" take those along (they failed on a foreign key before)."""

from __future__ import annotations

from sqlmodel import select

from portal import connections
from portal.db import session_scope
from portal.models import Employee, SignatureAssignment, SignatureTemplate
from portal.photos import store as photo_store
from portal.photos.image import prepare_photo
from tests.engine.support import leaf_employees
from tests.photos.conftest import image_bytes

PHOTO = prepare_photo(image_bytes("PNG", (120, 120), colour=(40, 90, 200)))


def _give_own_signature_and_photo(acme, email: str) -> int:
    """An employee override for new mail and a photo uploaded by an admin; the template's id."""
    with session_scope(acme.config.database_url) as session:
        employee = session.exec(select(Employee).where(Employee.organization_id == acme.org.id,
                                                       Employee.email == email)).one()
        template = SignatureTemplate(organization_id=acme.org.id, name=f"Only {email}", html="<p>{{ full_name }}</p>")
        session.add(template)
        session.flush()
        session.add(SignatureAssignment(organization_id=acme.org.id, target=f"employee:{employee.id}", compose="new",
                                        template_id=template.id, employee_id=employee.id))
        photo_store.set_manual(session, employee, PHOTO, actor="admin@acme.example")
        return template.id


def _left_behind(acme, template_id: int) -> tuple[int, int, bool]:
    with session_scope(acme.config.database_url) as session:
        overrides = len(session.exec(select(SignatureAssignment).where(
            SignatureAssignment.organization_id == acme.org.id,
            SignatureAssignment.target.startswith("employee:"))).all())
        photos = len(session.exec(select(photo_store.EmployeePhoto).where(
            photo_store.EmployeePhoto.organization_id == acme.org.id)).all())
        return overrides, photos, session.get(SignatureTemplate, template_id) is not None


def test_a_user_deleted_in_microsoft_365_goes_with_their_own_signature_and_photo(acme):
    acme.configure(settings={"removal": "delete"})
    acme.sync()
    [gone] = leaf_employees(acme.export(), 1)
    template_id = _give_own_signature_and_photo(acme, gone)
    acme.sim.tenant.hard_delete(gone)

    result = acme.sync()

    assert result["status"] == "succeeded" and result["counts"] == {"deleted": 1}
    assert gone not in acme.employees()
    assert _left_behind(acme, template_id) == (0, 0, True)  # the signature itself stays


def test_disconnecting_with_delete_takes_their_own_signatures_and_photos(acme):
    acme.sync()
    [first, second] = leaf_employees(acme.export(), 2)
    template_id = _give_own_signature_and_photo(acme, first)
    _give_own_signature_and_photo(acme, second)

    connections.disconnect(acme.engine, acme.connection_row(), keep_employees=False)

    assert first not in acme.employees() and second not in acme.employees()
    assert _left_behind(acme, template_id) == (0, 0, True)
