"""One employee's page: fields and where they came from, give back, sync state buttons, history; add and edit."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from portal.models import (
    AuditEvent,
    Connection,
    Department,
    Employee,
    EmployeeDepartment,
    Organization,
    SignatureAssignment,
    SignatureDepartmentOrder,
    SignatureTemplate,
    SyncDecision,
    SyncRun,
)
from tests.web.conftest import OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD, hx


def _synced(db: Session, org: Organization, **values) -> Employee:
    """A synced employee whose job title was typed over Microsoft 365's."""
    employee = Employee(
        organization_id=org.id, email="anna@acme.example", first_name="Anna", last_name="Schmidt",
        job_title="Sales Lead", city="Berlin", source="m365", m365_id="user-anna",
        synced_values={"first_name": "Anna", "last_name": "Schmidt", "job_title": "Head of Sales", "city": "Berlin",
                       "email": "anna@acme.example"},
        **values,
    )
    db.add(employee)
    db.commit()
    return employee


def _manual(db: Session, org: Organization, email: str = "max@acme.example", **values) -> Employee:
    employee = Employee(organization_id=org.id, email=email, source="manual", **values)
    db.add(employee)
    db.commit()
    return employee


def _row(page: str, label: str) -> str:
    match = re.search(rf'<th scope="row">{re.escape(label)}</th>(.*?)</tr>', page, flags=re.S)
    assert match, label
    return match.group(1)


def _events(db: Session, org: Organization) -> list[AuditEvent]:
    return list(db.exec(select(AuditEvent).where(AuditEvent.organization_id == org.id).order_by(AuditEvent.id)))


def _reload(db: Session, employee: Employee) -> Employee:
    db.expire_all()
    return db.get(Employee, employee.id)


# -- who may open and change what -----------------------------------------------------------------

ROUTES = [
    ("get", "/employees/{id}"),
    ("get", "/employees/{id}/edit"),
    ("post", "/employees/{id}/edit"),
    ("post", "/employees/{id}/sync"),
    ("post", "/employees/{id}/give-back"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_visitors_go_to_sign_in(client, db, org, method, path):
    employee = _synced(db, org)
    response = getattr(client, method)(path.format(id=employee.id))
    if method == "get":
        assert response.status_code == 302 and "/signin" in response.headers["Location"]
    else:  # a POST without a session has no CSRF token either: refused before anything happens
        assert response.status_code in (302, 400)
    assert _reload(db, employee).status == "active"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_another_organisations_employee_is_not_found(client, auth, csrf_token, db, org, other_org_admin, other_org,
                                                     method, path):
    theirs = _synced(db, other_org)
    auth.sign_in()
    token = csrf_token(client, "/employees/new")
    response = getattr(client, method)(path.format(id=theirs.id),
                                       data={"csrf_token": token, "action": "pause", "field": "job_title",
                                             "first_name": "Mallory"})
    assert response.status_code == 404
    theirs = _reload(db, theirs)
    assert (theirs.status, theirs.first_name, theirs.job_title) == ("active", "Anna", "Sales Lead")


def test_a_guessed_id_that_does_not_exist_is_not_found(signed_in):
    assert signed_in.get("/employees/999999").status_code == 404
    assert signed_in.get("/employees/999999/edit").status_code == 404


@pytest.mark.parametrize(("path", "data"), [
    ("/employees/{id}/sync", {"action": "pause"}),
    ("/employees/{id}/give-back", {"field": "job_title"}),
    ("/employees/{id}/edit", {"first_name": "Mallory"}),
    ("/employees/new", {"email": "new@acme.example"}),
])
def test_posts_without_the_csrf_token_are_refused(signed_in, db, org, path, data):
    employee = _synced(db, org)
    response = signed_in.post(path.format(id=employee.id), data=data)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    employee = _reload(db, employee)
    assert (employee.status, employee.first_name, employee.job_title) == ("active", "Anna", "Sales Lead")
    assert db.exec(select(Employee).where(Employee.email == "new@acme.example")).first() is None


# -- the page -------------------------------------------------------------------------------------


def test_the_page_says_where_each_value_came_from(signed_in, db, org):
    employee = _synced(db, org, phone="+49 30 1234")
    page = signed_in.get(f"/employees/{employee.id}").get_data(as_text=True)

    assert "<h1>Anna Schmidt</h1>" in page
    assert "Microsoft 365</span>" in _row(page, "First name")
    job = _row(page, "Job title")
    assert "Typed, kept over Microsoft 365" in job and "Microsoft 365 has “Head of Sales”" in job
    assert "Give back to Microsoft 365" in job
    phone = _row(page, "Phone")
    assert "Typed in Sigsync" in phone and "Give back" not in phone  # Microsoft 365 does not fill it here
    assert "Give back" not in _row(page, "First name")
    assert "Fax" in _row(page, "Without a value") and "Job title" not in _row(page, "Without a value")


def test_a_hand_made_employee_has_nothing_to_give_back(signed_in, db, org):
    employee = _manual(db, org, job_title="Founder")
    page = signed_in.get(f"/employees/{employee.id}").get_data(as_text=True)
    assert "Typed in Sigsync" in _row(page, "Job title")
    assert "Give back to Microsoft 365" not in page
    assert "Added by hand" in page


def test_the_page_lists_departments_with_who_added_them(signed_in, db, org):
    employee = _synced(db, org)
    sales, berlin = Department(organization_id=org.id, name="Sales"), Department(organization_id=org.id, name="Berlin")
    db.add_all([sales, berlin])
    db.commit()
    db.add_all([EmployeeDepartment(employee_id=employee.id, department_id=sales.id, source="sync"),
                EmployeeDepartment(employee_id=employee.id, department_id=berlin.id, source="manual")])
    db.commit()
    page = signed_in.get(f"/employees/{employee.id}").get_data(as_text=True)
    table = page[page.index('id="departments-table"'):]
    rows = re.findall(r"<td>(?:<a [^>]*>)?([^<]+)(?:</a>)?</td>\s*<td>([^<]+)</td>", table)
    assert rows[:2] == [("Berlin", "By hand"), ("Sales", "Import rules (Microsoft 365)")]


def test_the_history_shows_past_decisions_newest_first_and_pages(signed_in, db, org):
    employee = _synced(db, org)
    connection = Connection(organization_id=org.id, tenant_id="t")
    db.add(connection)
    db.commit()
    run = SyncRun(connection_id=connection.id, organization_id=org.id, mode="delta", status="succeeded")
    db.add(run)
    db.commit()
    db.add(SyncDecision(run_id=run.id, kind="created", employee_id=employee.id, email=employee.email))
    db.add_all(SyncDecision(run_id=run.id, kind="kept_manual", employee_id=employee.id, email=employee.email,
                            details={"fields": {"job_title": {"manual": "Sales Lead", "m365": f"Title {i}"}}})
               for i in range(25))
    db.commit()

    page = signed_in.get(f"/employees/{employee.id}").get_data(as_text=True)
    assert page.count("Kept a hand-typed value") == 20
    assert "“Title 24”" in page and "“Title 5”" in page and "“Title 4”" not in page
    assert "Job title: Typed in Sigsync, kept “Sales Lead”; Microsoft 365 “Title 24”" in page
    older = re.search(r'<a href="([^"]+)" rel="next">Older decisions</a>', page).group(1).replace("&amp;", "&")

    fragment = signed_in.get(older, headers=hx()).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section class="panel" aria-labelledby="decisions-title" id="decisions"')
    assert "<html" not in fragment
    assert "“Title 4”" in fragment and "“Title 0”" in fragment and "Created" in fragment
    assert "“Title 5”" not in fragment
    assert "Newest decisions" in fragment


def test_history_cursor_that_is_not_a_number_is_not_found(signed_in, db, org):
    employee = _synced(db, org)
    assert signed_in.get(f"/employees/{employee.id}?before=abc").status_code == 404


# -- sync state buttons ---------------------------------------------------------------------------


def test_pause_then_resume_from_the_page_is_announced_and_audited(signed_in, csrf_token, db, org):
    employee = _synced(db, org)
    token = csrf_token(signed_in, f"/employees/{employee.id}")
    page = signed_in.get(f"/employees/{employee.id}").get_data(as_text=True)
    assert ">Pause sync</button>" in page and ">Exclude from sync</button>" in page
    assert ">Resume sync</button>" not in page

    response = signed_in.post(f"/employees/{employee.id}/sync", data={"action": "pause"}, headers=hx(token))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section class="panel" aria-labelledby="state-title" id="employee-state">')
    assert ">Resume sync</button>" in body and "Sync paused" in body
    assert 'id="status"' in body and "Paused sync for anna@acme.example." in body  # the aria-live region, out of band
    assert _reload(db, employee).status == "paused"

    signed_in.post(f"/employees/{employee.id}/sync", data={"action": "resume", "csrf_token": token})
    assert _reload(db, employee).status == "active"
    assert [(e.action, e.summary) for e in _events(db, org) if e.action.startswith("employee_")] == [
        ("employee_paused", "Paused sync for anna@acme.example."),
        ("employee_resumed", "Resumed sync for anna@acme.example."),
    ]


def test_exclude_and_include(signed_in, csrf_token, db, org):
    employee = _synced(db, org)
    token = csrf_token(signed_in, f"/employees/{employee.id}")
    response = signed_in.post(f"/employees/{employee.id}/sync", data={"action": "exclude", "csrf_token": token},
                              follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Excluded from sync anna@acme.example." in page and ">Include in sync</button>" in page
    signed_in.post(f"/employees/{employee.id}/sync", data={"action": "include", "csrf_token": token})
    assert _reload(db, employee).status == "active"
    assert {e.action for e in _events(db, org)} >= {"employee_excluded", "employee_included"}


def test_an_action_that_does_not_fit_is_explained_not_an_error(signed_in, csrf_token, db, org):
    employee = _synced(db, org, status="excluded")
    token = csrf_token(signed_in, f"/employees/{employee.id}")
    response = signed_in.post(f"/employees/{employee.id}/sync", data={"action": "resume"}, headers=hx(token))
    assert response.status_code == 200
    assert "anna@acme.example was not changed: excluded from sync; use Include in sync instead." in \
        response.get_data(as_text=True)
    assert _reload(db, employee).status == "excluded"


def test_an_unknown_action_is_a_bad_request(signed_in, csrf_token, db, org):
    employee = _synced(db, org)
    token = csrf_token(signed_in, f"/employees/{employee.id}")
    assert signed_in.post(f"/employees/{employee.id}/sync", data={"action": "delete", "csrf_token": token}
                          ).status_code == 400


# -- give back ------------------------------------------------------------------------------------


def test_give_back_uses_microsoft_365s_value_now_and_is_audited(signed_in, csrf_token, db, org):
    employee = _synced(db, org)
    token = csrf_token(signed_in, f"/employees/{employee.id}")
    response = signed_in.post(f"/employees/{employee.id}/give-back", data={"field": "job_title"}, headers=hx(token))
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section class="panel" aria-labelledby="fields-title" id="employee-fields">')
    assert "Job title of anna@acme.example now follows Microsoft 365: “Head of Sales”." in body
    job = _row(body, "Job title")
    assert "Head of Sales" in job and "Microsoft 365</span>" in job and "Give back" not in job
    employee = _reload(db, employee)
    assert employee.job_title == "Head of Sales" and employee.synced_values["job_title"] == "Head of Sales"
    [event] = [e for e in _events(db, org) if e.action == "employee_edited"]
    assert event.summary == "Gave Job title of anna@acme.example back to Microsoft 365."


def test_give_back_of_a_field_that_is_already_microsoft_365s_changes_nothing(signed_in, csrf_token, db, org):
    employee = _synced(db, org)
    token = csrf_token(signed_in, f"/employees/{employee.id}")
    response = signed_in.post(f"/employees/{employee.id}/give-back", data={"field": "first_name", "csrf_token": token},
                              follow_redirects=True)
    assert "Nothing was changed: First name of anna@acme.example already comes from Microsoft 365." in \
        response.get_data(as_text=True)
    response = signed_in.post(f"/employees/{employee.id}/give-back", data={"field": "nonsense", "csrf_token": token},
                              follow_redirects=True)
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert _reload(db, employee).job_title == "Sales Lead"


# -- add ------------------------------------------------------------------------------------------


def test_add_employee_with_departments(signed_in, csrf_token, db, org):
    db.add(Department(organization_id=org.id, name="Sales"))
    db.commit()
    page = signed_in.get("/employees/new").get_data(as_text=True)
    assert '<label for="email">E-mail (required)</label>' in page
    assert '<label for="departments-select">Departments</label>' in page
    token = csrf_token(signed_in, "/employees/new")
    response = signed_in.post("/employees/new", data={
        "csrf_token": token, "email": " Max.Muster@ACME.example ", "first_name": "Max", "job_title": "Engineer",
        "departments": ["Sales"], "new_departments": "Berlin; Night shift", "new_custom_key": "cost_centre",
        "new_custom_value": "42",
    })
    assert response.status_code == 303
    employee = db.exec(select(Employee).where(Employee.email == "max.muster@acme.example")).one()
    assert response.headers["Location"].endswith(f"/employees/{employee.id}")
    assert (employee.first_name, employee.job_title, employee.source, employee.custom) == (
        "Max", "Engineer", "manual", {"cost_centre": "42"})
    names = set(db.exec(select(Department.name).join(EmployeeDepartment).where(
        EmployeeDepartment.employee_id == employee.id)))
    assert names == {"Sales", "Berlin", "Night shift"}
    assert [e.summary for e in _events(db, org) if e.action == "employee_created"] == [
        "Added employee max.muster@acme.example."]
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Added max.muster@acme.example." in page


def test_bad_input_comes_back_with_inline_errors_and_nothing_lost(signed_in, csrf_token, db, org):
    token = csrf_token(signed_in, "/employees/new")
    response = signed_in.post("/employees/new", data={
        "csrf_token": token, "email": "not-an-address", "first_name": "Max", "job_title": "x" * 201,
        "new_departments": "Berlin", "new_custom_key": "Bad Key", "new_custom_value": "v",
    })
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'<input id="email" name="email" type="email" value="not-an-address"[^>]*'
                     r'aria-describedby="email-error" aria-invalid="true"', page)
    assert "is not an e-mail address" in page
    assert "Job title is too long (201 characters; at most 200)." in page
    assert 'value="Max"' in page and 'value="Berlin"' in page and 'value="Bad Key"' in page
    assert "Name the custom field with 1 to 40 lower-case letters" in page
    assert db.exec(select(Employee)).all() == []


def test_an_address_already_taken_is_said_next_to_the_field(signed_in, csrf_token, db, org):
    _manual(db, org, email="max@acme.example")
    token = csrf_token(signed_in, "/employees/new")
    response = signed_in.post("/employees/new", data={"csrf_token": token, "email": "MAX@acme.example",
                                                      "first_name": "Second"})
    assert response.status_code == 422
    assert "Another employee already has this e-mail address" in response.get_data(as_text=True)
    assert len(db.exec(select(Employee)).all()) == 1


def test_the_seat_limit_is_a_clear_message(signed_in, csrf_token, db, org):
    org.seats = 1
    db.add(org)
    db.commit()
    _manual(db, org)
    token = csrf_token(signed_in, "/employees/new")
    response = signed_in.post("/employees/new", data={"csrf_token": token, "email": "new@acme.example",
                                                      "first_name": "New"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "has used all of its 1 seat(s)" in page and "The employee was not added." in page
    assert 'value="new@acme.example"' in page
    assert db.exec(select(Employee).where(Employee.email == "new@acme.example")).first() is None


def test_an_empty_address_is_asked_for(signed_in, csrf_token, db, org):
    token = csrf_token(signed_in, "/employees/new")
    response = signed_in.post("/employees/new", data={"csrf_token": token, "email": "  ", "first_name": "Max"})
    assert response.status_code == 422
    assert "Enter the employee&#39;s e-mail address" in response.get_data(as_text=True)


# -- edit -----------------------------------------------------------------------------------------


def test_edit_a_manual_employee_and_its_departments(signed_in, csrf_token, db, org):
    employee = _manual(db, org, first_name="Max", custom={"cost_centre": "42", "room": "7"})
    sales = Department(organization_id=org.id, name="Sales")
    db.add(sales)
    db.commit()
    db.add(EmployeeDepartment(employee_id=employee.id, department_id=sales.id, source="manual"))
    db.commit()
    form = signed_in.get(f"/employees/{employee.id}/edit").get_data(as_text=True)
    assert '<option value="Sales" selected>' in form
    assert 'name="custom.cost_centre"' in form
    token = csrf_token(signed_in, f"/employees/{employee.id}/edit")

    response = signed_in.post(f"/employees/{employee.id}/edit", data={
        "csrf_token": token, "email": "max@acme.example", "first_name": "Maximilian", "job_title": "CTO",
        "custom_keys": ["cost_centre", "room"], "custom.cost_centre": "43", "custom.room": "",
        "new_departments": "Board",
    })

    assert response.status_code == 303
    employee = _reload(db, employee)
    assert (employee.first_name, employee.job_title, employee.custom) == ("Maximilian", "CTO", {"cost_centre": "43"})
    names = set(db.exec(select(Department.name).join(EmployeeDepartment).where(
        EmployeeDepartment.employee_id == employee.id)))
    assert names == {"Board"}  # Sales was not selected any more
    [event] = [e for e in _events(db, org) if e.action == "employee_edited"]
    assert "First name" in event.summary and "joined Board" in event.summary and "left Sales" in event.summary


def test_editing_a_synced_employee_keeps_the_address_and_marks_typed_values(signed_in, csrf_token, db, org):
    employee = _synced(db, org)
    form = signed_in.get(f"/employees/{employee.id}/edit").get_data(as_text=True)
    assert 'name="email"' not in form and "The address always follows Microsoft 365." in form
    assert "Typed, kept over Microsoft 365: Microsoft 365 has “Head of Sales”." in form
    token = csrf_token(signed_in, f"/employees/{employee.id}/edit")
    signed_in.post(f"/employees/{employee.id}/edit", data={
        "csrf_token": token, "first_name": "Anna", "last_name": "Schmidt", "job_title": "Sales Lead",
        "city": "Potsdam", "email": "mallory@evil.example",
    })
    employee = _reload(db, employee)
    assert (employee.email, employee.city) == ("anna@acme.example", "Potsdam")
    assert employee.synced_values["city"] == "Berlin"  # so the page and the sync see Potsdam as typed
    page = signed_in.get(f"/employees/{employee.id}").get_data(as_text=True)
    assert "Typed, kept over Microsoft 365" in _row(page, "City")


def test_saving_an_unchanged_form_changes_nothing(signed_in, csrf_token, db, org):
    employee = _manual(db, org, first_name="Max")
    token = csrf_token(signed_in, f"/employees/{employee.id}/edit")
    response = signed_in.post(f"/employees/{employee.id}/edit", data={
        "csrf_token": token, "email": "max@acme.example", "first_name": "Max"}, follow_redirects=True)
    assert "Nothing was changed." in response.get_data(as_text=True)
    assert [e for e in _events(db, org) if e.action == "employee_edited"] == []


def test_bad_edit_keeps_what_was_typed(signed_in, csrf_token, db, org):
    employee = _manual(db, org, first_name="Max")
    token = csrf_token(signed_in, f"/employees/{employee.id}/edit")
    response = signed_in.post(f"/employees/{employee.id}/edit", data={
        "csrf_token": token, "email": "max@", "first_name": "Maximilian", "postal_code": "1" * 41})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="Maximilian"' in page and 'value="max@"' in page
    assert "Postal code is too long (41 characters; at most 40)." in page
    assert _reload(db, employee).first_name == "Max"


def test_the_other_organisations_admin_sees_their_own_employees(client, db, org, other_org, other_org_admin, auth):
    theirs = _manual(db, other_org, email="grace@globex.example")
    auth.sign_in(OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD)
    assert client.get(f"/employees/{theirs.id}").status_code == 200


def test_the_employee_page_leads_to_the_employees_signatures(signed_in, db, org):
    employee = _manual(db, org, job_title="Founder")
    page = signed_in.get(f"/employees/{employee.id}").get_data(as_text=True)
    assert f'<a href="/signatures/employee/{employee.id}">See the signatures ready to copy</a>' in page
    assert signed_in.get(f"/signatures/employee/{employee.id}").status_code == 200


def test_the_employee_page_says_which_signature_applies_and_why(signed_in, db, org):
    employee = _manual(db, org, job_title="Founder")
    sales = Department(organization_id=org.id, name="Sales")
    standard = SignatureTemplate(organization_id=org.id, name="Standard", html="<p>{{ full_name }}</p>")
    sales_new = SignatureTemplate(organization_id=org.id, name="Sales new", html="<p>{{ job_title }}</p>")
    db.add_all([sales, standard, sales_new])
    db.commit()
    db.add_all([EmployeeDepartment(employee_id=employee.id, department_id=sales.id),
                SignatureDepartmentOrder(department_id=sales.id, organization_id=org.id, position=1),
                SignatureAssignment(organization_id=org.id, target=f"department:{sales.id}", compose="new",
                                    template_id=sales_new.id),
                SignatureAssignment(organization_id=org.id, target="default", compose="reply",
                                    template_id=standard.id)])
    db.commit()

    page = signed_in.get(f"/employees/{employee.id}").get_data(as_text=True)
    section = page[page.index('id="employee-signatures"'):]
    rows = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr>(.*?)</tr>", section, re.S)[1:3]]
    # the department wins for new e-mails and, with no reply slot of its own, for replies too
    assert rows == ["New e-mails Sales new Department Sales at position 1 of the department order.",
                    "Replies and forwards Sales new Department Sales at position 1 of the department order."]
