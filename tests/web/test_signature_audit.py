"""Every change to signatures is in the audit log with an action of its own and what changed in the admin's
words: templates created, edited (renamed, HTML, plain text; where the signature is used), duplicated, deleted;
the default's, a department's and an employee's signatures (each slot from → to); the department order. A save
that changes nothing records nothing."""

from __future__ import annotations

from sqlmodel import Session, select

from portal.audit import Action
from portal.models import AuditEvent, Department, Employee, Organization, SignatureTemplate

from .conftest import ADMIN_EMAIL

HTML = "<p><b>{{ full_name }}</b><br>{{ job_title }}</p>"


def _events(db: Session, org: Organization) -> list[tuple[str, str]]:
    db.expire_all()
    rows = [row for row in db.exec(select(AuditEvent).where(AuditEvent.organization_id == org.id)
                                   .order_by(AuditEvent.id)).all() if row.action.startswith("signature_")]
    assert {row.actor for row in rows} <= {ADMIN_EMAIL}
    return [(row.action, row.summary) for row in rows]


def _new_events(db: Session, org: Organization, seen: list) -> list[tuple[str, str]]:
    events = _events(db, org)
    fresh = events[len(seen):]
    seen[:] = events
    return fresh


def _id(db: Session, org: Organization, name: str) -> int:
    return db.exec(select(SignatureTemplate.id).where(SignatureTemplate.organization_id == org.id,
                                                      SignatureTemplate.name == name)).one()


def test_each_signature_change_is_in_the_audit_log_in_the_admins_words(signed_in, csrf_token, db, org) -> None:
    sales, berlin = Department(organization_id=org.id, name="Sales"), Department(organization_id=org.id, name="Berlin")
    person = Employee(organization_id=org.id, email="p@acme.example", display_name="Pat")
    db.add_all([sales, berlin, person])
    db.commit()
    token = csrf_token(signed_in, "/signatures/")
    seen: list = []

    def post(path: str, **data: object) -> None:
        response = signed_in.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 303, (path, response.status_code)

    post("/signatures/", name="Standard", html=HTML)
    standard = _id(db, org, "Standard")
    assert _new_events(db, org, seen) == [(Action.SIGNATURE_CREATED, "Created the signature “Standard”.")]

    post(f"/signatures/{standard}", name="Standard", html=HTML)
    assert _new_events(db, org, seen) == [], "saved unchanged: nothing to record"

    post(f"/signatures/{standard}", name="Company", html="<p>{{ full_name }}</p>")
    assert _new_events(db, org, seen) == [(Action.SIGNATURE_EDITED, "Changed the signature “Company”: renamed from "
                                           "“Standard”, changed the HTML. It is not assigned anywhere.")]

    post(f"/signatures/{standard}/duplicate")
    copy = _id(db, org, "Copy of Company")
    assert _new_events(db, org, seen) == [(Action.SIGNATURE_DUPLICATED,
                                           "Duplicated the signature “Company” as “Copy of Company”.")]

    post("/signatures/assign", target="default", new=standard, reply="")
    post("/signatures/assign", target="default", new=standard, reply="")
    post("/signatures/assign", target=f"department:{sales.id}", new=copy, reply=standard)
    post("/signatures/assign", target=f"department:{sales.id}", new=copy, reply="")
    post(f"/signatures/employee/{person.id}", new=copy, reply="")
    assert _new_events(db, org, seen) == [
        (Action.SIGNATURE_ASSIGNED, "Changed the organisation's default signatures: new e-mails from none to "
                                    "“Company”."),
        (Action.SIGNATURE_ASSIGNED, "Changed the signatures of department Sales: new e-mails from none to “Copy of "
                                    "Company”; replies and forwards from the one for new e-mails to “Company”."),
        (Action.SIGNATURE_ASSIGNED, "Changed the signatures of department Sales: replies and forwards from "
                                    "“Company” to the one for new e-mails."),
        (Action.SIGNATURE_ASSIGNED, "Changed the own signatures of p@acme.example: new e-mails from no override "
                                    "to “Copy of Company”."),
    ]

    post(f"/signatures/{standard}", name="Company", html=HTML, text="{{ full_name }}", text_is_custom="on")
    assert _new_events(db, org, seen) == [(Action.SIGNATURE_EDITED, "Changed the signature “Company”: changed the "
                                           "HTML, the plain text is now written by hand. It is used as the "
                                           "organisation's default for new e-mails.")]

    post(f"/signatures/{copy}/delete")  # refused: still assigned
    assert _new_events(db, org, seen) == []
    post("/signatures/", name="Spare", html=HTML)
    post(f"/signatures/{_id(db, org, 'Spare')}/delete")
    assert _new_events(db, org, seen) == [(Action.SIGNATURE_CREATED, "Created the signature “Spare”."),
                                          (Action.SIGNATURE_DELETED, "Deleted the signature “Spare”.")]

    post(f"/departments/{sales.id}/signature-order/up")  # Berlin, Sales → Sales, Berlin
    post(f"/departments/{sales.id}/signature-order/up")  # first already: nothing changes
    assert _new_events(db, org, seen) == [(Action.SIGNATURE_ORDER_CHANGED, "Moved the department Sales up in the "
                                           "signature order, from position 2 to 1 of 2 (above Berlin).")]

    # the audit page names each action and shows the summary as written
    page = signed_in.get("/audit/").get_data(as_text=True)
    for label in ("Signature created", "Signature edited", "Signature duplicated", "Signature deleted",
                  "Signature assigned", "Signature order changed"):
        assert f">{label}<" in page, label
    assert "Moved the department Sales up in the signature order, from position 2 to 1 of 2 (above Berlin)." in page


def test_a_refused_assignment_records_nothing(signed_in, csrf_token, db, org, other_org) -> None:
    theirs = SignatureTemplate(organization_id=other_org.id, name="Theirs", html="<p>x</p>")
    db.add(theirs)
    db.commit()
    token = csrf_token(signed_in, "/signatures/")
    response = signed_in.post("/signatures/assign", data={"target": "default", "new": theirs.id,
                                                           "csrf_token": token})
    assert response.status_code == 303
    assert _events(db, org) == []
