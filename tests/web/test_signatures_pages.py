"""The Signatures pages: create with checks, edit, live preview, duplicate, delete refused while assigned,
assignment of the default and of departments, the department order; sign-in, other organisations, CSRF."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlmodel import Session, select

from portal.models import (
    AuditEvent,
    Department,
    Employee,
    EmployeeDepartment,
    Organization,
    SignatureAssignment,
    SignatureTemplate,
)
from portal.signatures.resolve import for_employee

from .conftest import OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD, hx

GOOD = '<p><b>{{ full_name }}</b><br>Mobile: {{ mobile }}</p><script>alert(1)</script>'


def _template(db: Session, org: Organization, name: str = "Standard", html: str = "<p>{{ full_name }}</p>"):
    template = SignatureTemplate(organization_id=org.id, name=name, html=html)
    db.add(template)
    db.commit()
    return template


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient, org: Organization) -> None:
    for path in ("/signatures/", "/signatures/new", "/signatures/1", "/signatures/employee/1"):
        response = client.get(path)
        assert response.status_code == 302 and "/signin" in response.headers["Location"]


def test_the_list_is_in_the_navigation_and_shows_templates(signed_in, db, org) -> None:
    _template(db, org, "Standard")
    page = signed_in.get("/signatures/").get_data(as_text=True)
    assert '>Signatures</a>' in page and "Standard" in page and "Organisation default" in page


def test_create_cleans_the_html_and_records_it(signed_in, csrf_token, db, org) -> None:
    token = csrf_token(signed_in, "/signatures/new")
    response = signed_in.post("/signatures/", data={"name": "Standard", "html": GOOD, "csrf_token": token})
    assert response.status_code == 303
    template = db.exec(select(SignatureTemplate).where(SignatureTemplate.organization_id == org.id)).one()
    assert template.html == "<p><b>{{ full_name }}</b><br>Mobile: {{ mobile }}</p>"
    assert db.exec(select(AuditEvent).where(AuditEvent.summary.contains("Standard"))).first() is not None
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "was removed" in page


def test_a_syntax_error_is_refused_with_its_line_and_nothing_is_lost(signed_in, csrf_token, db, org) -> None:
    token = csrf_token(signed_in, "/signatures/new")
    broken = "<p>{{ first_name }}</p>\n<p>{{ last_name </p>"
    response = signed_in.post("/signatures/", data={"name": "Broken", "html": broken, "csrf_token": token})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Line 2:" in page and 'aria-invalid="true"' in page
    assert "{{ last_name &lt;/p&gt;" in page  # the admin's text comes back as typed
    assert db.exec(select(SignatureTemplate)).first() is None


def test_a_taken_name_is_refused(signed_in, csrf_token, db, org) -> None:
    _template(db, org, "Standard")
    token = csrf_token(signed_in, "/signatures/new")
    response = signed_in.post("/signatures/", data={"name": "standard", "html": "<p>x</p>", "csrf_token": token})
    assert response.status_code == 422 and "exists already" in response.get_data(as_text=True)


def test_the_preview_fills_in_a_chosen_employee_and_escapes_their_data(signed_in, csrf_token, db, org) -> None:
    employee = Employee(organization_id=org.id, email="x@acme.example", display_name='<img src=x onerror=alert(1)>',
                        mobile="")
    db.add(employee)
    db.commit()
    token = csrf_token(signed_in, "/signatures/new")
    response = signed_in.post("/signatures/preview", headers=hx(token),
                              data={"html": GOOD, "employee_id": str(employee.id)})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    frame_url = re.search(r'<iframe class="sig-frame" src="([^"]+)" sandbox=""', body).group(1)
    assert "<img" not in body and "Mobile" not in body  # the text version: escaped, the empty line went
    frame = signed_in.get(frame_url)
    document = frame.get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in document and "<img src=x" not in document
    assert "Mobile" not in document
    assert "sandbox" in frame.headers["Content-Security-Policy"]
    assert "script-src" not in frame.headers["Content-Security-Policy"]  # default-src 'none': no scripts
    assert frame.headers["X-Frame-Options"] == "SAMEORIGIN"
    bad = signed_in.post("/signatures/preview", headers=hx(token), data={"html": "{{ oops"})
    assert "Line 1:" in bad.get_data(as_text=True)


def test_the_preview_refuses_another_organisations_employee(signed_in, csrf_token, db, other_org) -> None:
    stranger = Employee(organization_id=other_org.id, email="s@globex.example", display_name="Secret")
    db.add(stranger)
    db.commit()
    token = csrf_token(signed_in, "/signatures/new")
    response = signed_in.post("/signatures/preview", headers=hx(token),
                              data={"html": GOOD, "employee_id": str(stranger.id)})
    assert response.status_code == 404


def test_duplicate_and_delete(signed_in, csrf_token, db, org) -> None:
    template = _template(db, org, "Standard")
    token = csrf_token(signed_in, "/signatures/")
    assert signed_in.post(f"/signatures/{template.id}/duplicate", data={"csrf_token": token}).status_code == 303
    copy = db.exec(select(SignatureTemplate).where(SignatureTemplate.name == "Copy of Standard")).one()
    assert copy.html == template.html
    copy_id = copy.id
    assert signed_in.post(f"/signatures/{copy_id}/delete", data={"csrf_token": token}).status_code == 303
    db.expire_all()
    assert db.get(SignatureTemplate, copy_id) is None


def test_delete_is_refused_while_assigned_and_says_where(signed_in, csrf_token, db, org) -> None:
    template = _template(db, org, "Standard")
    sales = Department(organization_id=org.id, name="Sales")
    db.add(sales)
    db.commit()
    token = csrf_token(signed_in, "/signatures/")
    signed_in.post("/signatures/assign", data={"target": f"department:{sales.id}", "new": "", "reply": template.id,
                                               "csrf_token": token})
    response = signed_in.post(f"/signatures/{template.id}/delete", data={"csrf_token": token}, follow_redirects=True)
    assert "still used as department Sales (replies and forwards)" in response.get_data(as_text=True)
    template_id = template.id
    db.expire_all()
    assert db.get(SignatureTemplate, template_id) is not None


def test_assignment_and_order_decide_what_an_employee_gets(signed_in, csrf_token, db, org) -> None:
    standard, sales_sig, berlin_sig = (_template(db, org, n) for n in ("Standard", "Sales", "Berlin"))
    sales, berlin = Department(organization_id=org.id, name="Sales"), Department(organization_id=org.id, name="Berlin")
    employee = Employee(organization_id=org.id, email="e@acme.example")
    db.add_all([sales, berlin, employee])
    db.commit()
    db.add_all([EmployeeDepartment(employee_id=employee.id, department_id=sales.id),
                EmployeeDepartment(employee_id=employee.id, department_id=berlin.id)])
    db.commit()
    token = csrf_token(signed_in, "/signatures/")
    signed_in.post("/signatures/assign", data={"target": "default", "new": standard.id, "reply": "",
                                               "csrf_token": token})
    assert for_employee(db, org.id, employee.id)["reply"].template_id == standard.id
    for dep, sig in ((sales, sales_sig), (berlin, berlin_sig)):
        signed_in.post("/signatures/assign", data={"target": f"department:{dep.id}", "new": sig.id, "reply": "",
                                                   "csrf_token": token})
    # unplaced departments go by name: Berlin first
    assert for_employee(db, org.id, employee.id)["new"].template_id == berlin_sig.id
    signed_in.post(f"/departments/{sales.id}/signature-order/up", data={"csrf_token": token})
    result = for_employee(db, org.id, employee.id)["new"]
    assert result.template_id == sales_sig.id
    assert result.reason == "Department Sales at position 1 of the department order."
    page = signed_in.get("/signatures/").get_data(as_text=True)
    page = page[page.index('id="department-signatures"'):]
    assert page.index(">Sales</a></th>") < page.index(">Berlin</a></th>")


def test_other_organisations_objects_are_404(client, auth, csrf_token, db, org, other_org, other_org_admin) -> None:
    template = _template(db, org, "Standard")
    sales = Department(organization_id=org.id, name="Sales")
    db.add(sales)
    db.commit()
    auth.sign_in(OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD)
    token = csrf_token(client, "/signatures/")
    assert client.get(f"/signatures/{template.id}").status_code == 404
    for path, data in ((f"/signatures/{template.id}", {"name": "x", "html": "<p>x</p>"}),
                       (f"/signatures/{template.id}/duplicate", {}), (f"/signatures/{template.id}/delete", {}),
                       ("/signatures/assign", {"target": f"department:{sales.id}", "new": ""}),
                       (f"/departments/{sales.id}/signature-order/up", {})):
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 404, path
    other_template = _template(db, other_org, "Theirs")
    client.post("/signatures/assign", data={"target": "default", "new": template.id, "csrf_token": token})
    assert db.exec(select(SignatureAssignment).where(SignatureAssignment.organization_id == other_org.id)).first() \
        is None
    assert other_template.id


def test_every_post_needs_the_csrf_token(signed_in, db, org) -> None:
    template = _template(db, org, "Standard")
    for path in ("/signatures/", f"/signatures/{template.id}", "/signatures/preview",
                 f"/signatures/{template.id}/duplicate", f"/signatures/{template.id}/delete", "/signatures/assign",
                 "/departments/1/signature-order/up", "/signatures/employee/1"):
        assert signed_in.post(path, data={"name": "x", "html": "<p>x</p>"}).status_code == 400, path


def test_an_employees_page_shows_which_signature_applies_and_why_and_takes_an_override(signed_in, csrf_token, db,
                                                                                        org) -> None:
    standard = _template(db, org, "Standard", "<p>{{ full_name }}<br>Mobile: {{ mobile }}</p>")
    own = _template(db, org, "Own", "<p>Own: {{ email }}</p>")
    person = Employee(organization_id=org.id, email="p@acme.example", display_name="Zoë <b>Bold</b>")
    db.add(person)
    db.commit()
    token = csrf_token(signed_in, "/signatures/")
    signed_in.post("/signatures/assign", data={"target": "default", "new": standard.id, "csrf_token": token})
    found = signed_in.get("/signatures/employee?email=P@acme.example")
    assert found.status_code == 303 and found.headers["Location"].endswith(f"/signatures/employee/{person.id}")
    page = signed_in.get(f"/signatures/employee/{person.id}").get_data(as_text=True)
    assert "The organisation&#39;s default for replies and forwards." in page
    new_frame = re.search(r'<iframe class="sig-frame" src="([^"]+)"', page).group(1)
    document = signed_in.get(new_frame).get_data(as_text=True)
    assert "Zoë &lt;b&gt;Bold&lt;/b&gt;" in document and "Mobile" not in document
    response = signed_in.post(f"/signatures/employee/{person.id}", data={"new": own.id, "reply": "",
                                                                         "csrf_token": token})
    assert response.status_code == 303
    result = for_employee(db, org.id, person.id)
    assert result["new"].template_id == own.id and result["new"].kind == "override"
    page = signed_in.get(f"/signatures/employee/{person.id}").get_data(as_text=True)
    own_frame = re.search(r'<iframe class="sig-frame" src="([^"]+)"', page).group(1)
    assert "Own: p@acme.example" in signed_in.get(own_frame).get_data(as_text=True)
    missing = signed_in.get("/signatures/employee?email=nobody@acme.example", follow_redirects=True)
    assert "No employee has the address" in missing.get_data(as_text=True)


def test_another_organisations_employee_is_404(signed_in, csrf_token, db, org, other_org) -> None:
    stranger = Employee(organization_id=other_org.id, email="s@globex.example")
    db.add(stranger)
    db.commit()
    token = csrf_token(signed_in, "/signatures/")
    assert signed_in.get(f"/signatures/employee/{stranger.id}").status_code == 404
    assert signed_in.post(f"/signatures/employee/{stranger.id}", data={"new": "", "csrf_token": token}) \
        .status_code == 404
    found = signed_in.get("/signatures/employee?email=s@globex.example", follow_redirects=True)
    assert "No employee has the address" in found.get_data(as_text=True)


def test_a_preview_belongs_to_its_organisation(client, auth, signed_in, csrf_token, db, org, other_org,
                                               other_org_admin) -> None:
    token = csrf_token(signed_in, "/signatures/new")
    body = signed_in.post("/signatures/preview", headers=hx(token), data={"html": "<p>Secret plan</p>"}) \
        .get_data(as_text=True)
    frame_url = re.search(r'<iframe class="sig-frame" src="([^"]+)"', body).group(1)
    assert "Secret plan" in signed_in.get(frame_url).get_data(as_text=True)
    auth.sign_out()
    auth.sign_in(OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD)
    assert client.get(frame_url).status_code == 404
    assert client.get("/signatures/preview/not-a-preview").status_code == 404


def test_a_preview_still_running_after_save_leaves_the_saved_message_to_the_next_page(signed_in, csrf_token, db,
                                                                                     org) -> None:
    token = csrf_token(signed_in, "/signatures/new")
    saved = signed_in.post("/signatures/", data={"name": "Standard", "html": "<p>{{ full_name }}</p>",
                                                 "csrf_token": token})
    assert saved.status_code == 303
    # the preview the admin's last keystroke asked for arrives between the save and the page it leads to
    preview = signed_in.post("/signatures/preview", data={"html": "<p>{{ full_name }}</p>"}, headers=hx(token))
    assert preview.status_code == 200 and 'id="status"' not in preview.get_data(as_text=True)
    assert "Signature “Standard” saved." in signed_in.get(saved.headers["Location"]).get_data(as_text=True)
