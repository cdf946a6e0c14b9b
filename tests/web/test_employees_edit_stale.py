"""A stale edit form applies only what the admin changed; a change to the same field meanwhile is a conflict."""

from __future__ import annotations

import html
import re

from sqlmodel import Session, select

from portal.models import AuditEvent, Department, Employee, EmployeeDepartment, Organization


def _employee(db: Session, org: Organization, **values) -> Employee:
    employee = Employee(organization_id=org.id, email="max@acme.example", source="manual", **values)
    db.add(employee)
    db.commit()
    return employee


def _reload(db: Session, employee: Employee) -> Employee:
    db.expire_all()
    return db.get(Employee, employee.id)


def _form_data(page: str) -> dict[str, list[str]]:
    """What the browser would send for the form as shown (inputs and selected options)."""
    data: dict[str, list[str]] = {}
    for tag in re.findall(r"<input\b[^>]*>", page):
        name = re.search(r'\bname="([^"]*)"', tag)
        value = re.search(r'\bvalue="([^"]*)"', tag)
        if name:
            data.setdefault(html.unescape(name.group(1)), []).append(html.unescape(value.group(1)) if value else "")
    for option in re.findall(r'<option value="([^"]*)" selected>', page):
        data.setdefault("departments", []).append(html.unescape(option))
    return data


def _open_form(client, employee: Employee) -> dict[str, list[str]]:
    response = client.get(f"/employees/{employee.id}/edit")
    assert response.status_code == 200
    return _form_data(response.get_data(as_text=True))


def _set(data: dict[str, list[str]], name: str, value: str) -> dict[str, list[str]]:
    return {**data, name: [value]}


def _departments(db: Session, employee: Employee) -> set[str]:
    db.expire_all()
    return set(db.exec(select(Department.name).join(EmployeeDepartment).where(
        EmployeeDepartment.employee_id == employee.id)))


def _edited_events(db: Session, org: Organization) -> list[AuditEvent]:
    db.expire_all()
    return list(db.exec(select(AuditEvent).where(AuditEvent.organization_id == org.id,
                                                 AuditEvent.action == "employee_edited")))


def test_a_stale_form_does_not_undo_another_writers_change(signed_in, db, org):
    employee = _employee(db, org, first_name="Max", job_title="Engineer")
    form = _open_form(signed_in, employee)
    assert form["job_title"] == ["Engineer"]
    employee.job_title = "CTO"  # another admin, or the sync, meanwhile
    db.add(employee)
    db.commit()

    response = signed_in.post(f"/employees/{employee.id}/edit", data=_set(form, "first_name", "Maximilian"))

    assert response.status_code == 303
    employee = _reload(db, employee)
    assert (employee.first_name, employee.job_title) == ("Maximilian", "CTO")
    [event] = _edited_events(db, org)
    assert event.details["fields"] == ["first_name"]


def test_a_change_to_the_same_field_meanwhile_is_a_conflict_and_nothing_is_saved(signed_in, db, org):
    employee = _employee(db, org, first_name="Max", job_title="Engineer")
    form = _open_form(signed_in, employee)
    employee.job_title = "CTO"
    db.add(employee)
    db.commit()

    data = _set(_set(form, "job_title", "VP Engineering"), "first_name", "Maximilian")
    response = signed_in.post(f"/employees/{employee.id}/edit", data=data)

    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 409
    assert "Someone changed this employee while you were editing: Job title is now “CTO” " \
           "(you typed “VP Engineering”). Check the values and save again." in page
    shown = _form_data(response.get_data(as_text=True))
    assert shown["job_title"] == ["VP Engineering"] and shown["first_name"] == ["Maximilian"]
    employee = _reload(db, employee)
    assert (employee.first_name, employee.job_title) == ("Max", "CTO")
    assert _edited_events(db, org) == []

    # The form shown again is built from the values now: saving it applies what the admin typed.
    again = signed_in.post(f"/employees/{employee.id}/edit", data=shown)
    assert again.status_code == 303
    employee = _reload(db, employee)
    assert (employee.first_name, employee.job_title) == ("Maximilian", "VP Engineering")


def test_departments_added_meanwhile_survive_and_only_the_admins_change_is_applied(signed_in, db, org):
    employee = _employee(db, org, first_name="Max")
    sales, board, legal = (Department(organization_id=org.id, name=n) for n in ("Sales", "Board", "Legal"))
    db.add_all([sales, board, legal])
    db.commit()
    db.add(EmployeeDepartment(employee_id=employee.id, department_id=sales.id, source="manual"))
    db.commit()
    form = _open_form(signed_in, employee)
    assert form["departments"] == ["Sales"]
    db.add(EmployeeDepartment(employee_id=employee.id, department_id=board.id, source="m365"))  # the sync, meanwhile
    db.commit()

    data = {**form, "departments": ["Legal"]}  # the admin swaps Sales for Legal
    response = signed_in.post(f"/employees/{employee.id}/edit", data=data)

    assert response.status_code == 303
    assert _departments(db, employee) == {"Board", "Legal"}
    [event] = _edited_events(db, org)
    assert event.details["joined"] == ["Legal"] and event.details["left"] == ["Sales"]


def test_submitting_the_same_stale_form_twice_is_harmless(signed_in, db, org):
    employee = _employee(db, org, first_name="Max", job_title="Engineer")
    form = _open_form(signed_in, employee)
    employee.job_title = "CTO"
    db.add(employee)
    db.commit()
    data = {**_set(form, "first_name", "Maximilian"), "new_departments": ["Board"]}

    first = signed_in.post(f"/employees/{employee.id}/edit", data=data)
    second = signed_in.post(f"/employees/{employee.id}/edit", data=data, follow_redirects=True)

    assert first.status_code == 303 and second.status_code == 200
    assert "Nothing was changed." in second.get_data(as_text=True)
    employee = _reload(db, employee)
    assert (employee.first_name, employee.job_title) == ("Maximilian", "CTO")
    assert _departments(db, employee) == {"Board"}
    assert len(_edited_events(db, org)) == 1
