"""Bad input a browser never sends but a hand-made request can: control characters, Unicode digits, huge ids.

Each gets a clear answer (400 with what to do, 404, or the page with a message), never a 500.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from portal import web
from portal.employees import records
from portal.employees.fields import normalize_email
from portal.errors import InvalidValue
from portal.organizations import create_organization
from tests.web.conftest import hx

CONTROL_MESSAGE = ("The request contained a control character (such as NUL) that Sigsync cannot store. "
                   "Remove it and try again.")
HUGE = "9" * 30


def _text(response) -> str:
    """The response's words as a reader sees them: tags gone, white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


@pytest.mark.parametrize("path", [
    "/employees/?q=a%00b",
    "/employees/?q=a%01b",
    "/departments/?q=%00",
    "/audit/?q=%00",
    "/employees/?q%00=x",
    "/employees/a%00b",
    "/sync/?x=%1f",
])
def test_control_characters_in_the_url_are_a_clear_bad_request(signed_in, path):
    response = signed_in.get(path)
    assert response.status_code == 400
    assert CONTROL_MESSAGE in _text(response)


@pytest.mark.parametrize(("path", "data"), [
    ("/employees/new", {"email": "ann\x00@acme.example"}),
    ("/employees/new", {"email": "ann@acme.example", "first_name": "A\x07nn"}),
    ("/departments/", {"name": "\x00"}),
    ("/departments/", {"name": "Sales\x1b"}),
])
def test_control_characters_in_a_form_are_a_clear_bad_request(signed_in, csrf_token, db, org, path, data):
    token = csrf_token(signed_in, "/employees/")
    response = signed_in.post(path, data={**data, "csrf_token": token})
    assert response.status_code == 400
    assert CONTROL_MESSAGE in _text(response)
    fragment = signed_in.post(path, data=data, headers=hx(token))
    assert fragment.status_code == 400
    assert fragment.headers["HX-Retarget"] == "#status"
    assert CONTROL_MESSAGE in _text(fragment)


def test_tabs_and_newlines_are_still_accepted(signed_in, csrf_token, db, org):
    token = csrf_token(signed_in, "/departments/")
    response = signed_in.post("/departments/", data={"name": "Sales\tEMEA", "csrf_token": token})
    assert response.status_code in (303, 200, 422)
    assert signed_in.get("/employees/?q=a%0Ab").status_code == 200


@pytest.mark.parametrize("value", ["ann\x00@acme.example", "ann@acme\x01.example", "ann@acme.example\x7f"])
def test_an_email_with_a_control_character_is_refused(value):
    with pytest.raises(InvalidValue):
        normalize_email(value)


@pytest.mark.parametrize(("text", "expected"), [
    ("1", 1), ("42", 42), (str(2**31 - 1), 2**31 - 1),
    ("0", None), ("", None), (None, None), ("²", None), ("١٢", None), ("-1", None), (" 1", None), ("1.0", None),
    (str(2**31), None), (str(2**63), None), (HUGE, None),
])
def test_parse_id(text, expected):
    assert web.parse_id(text) == expected


@pytest.mark.parametrize("path", [
    "/employees/?department=²",
    "/employees/?department=" + HUGE,
    "/audit/?before=²",
    "/audit/?before=" + HUGE,
    "/employees/99999999999999999999999",
    "/employees/9223372036854775808",
    "/employees/2147483648",
    "/audit/?before=2147483648",
    "/departments/99999999999999999999999",
    "/sync/runs/99999999999999999999",
    "/sync/runs/99999999999999999999/status",
])
def test_unicode_digits_and_huge_ids_in_urls_are_not_found(signed_in, path):
    assert signed_in.get(path).status_code == 404


def test_the_largest_id_a_column_holds_is_still_an_id(signed_in):
    # 2**31 - 1 (the INTEGER column's largest) reaches the database and is simply not there
    assert signed_in.get(f"/employees/{2**31 - 1}").status_code == 404
    assert signed_in.get(f"/audit/?before={2**31 - 1}").status_code == 200


@pytest.mark.parametrize("ident", ["²", HUGE, str(2**63), str(2**31)])
def test_bulk_actions_ignore_ids_that_are_no_ids(signed_in, csrf_token, db, org, ident):
    token = csrf_token(signed_in, "/employees/")
    response = signed_in.post("/employees/actions", data={"action": "pause", "ids": ident, "csrf_token": token},
                              follow_redirects=True)
    assert response.status_code == 200
    assert "Select at least one employee first" in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["department:²", "department:" + HUGE, "department:0"])
def test_assigning_signatures_to_a_department_that_is_no_id_is_not_found(signed_in, csrf_token, db, org, target):
    token = csrf_token(signed_in, "/signatures/")
    response = signed_in.post("/signatures/assign", data={"target": target, "new": "", "reply": "",
                                                          "csrf_token": token})
    assert response.status_code == 404


@pytest.mark.parametrize("signature", ["²", HUGE])
def test_assigning_a_signature_that_is_no_id_is_explained(signed_in, csrf_token, db, org, signature):
    token = csrf_token(signed_in, "/signatures/")
    response = signed_in.post("/signatures/assign", data={"target": "default", "new": signature, "reply": "",
                                                          "csrf_token": token}, follow_redirects=True)
    assert response.status_code != 500
    assert "Choose a signature from the list." in response.get_data(as_text=True)


@pytest.mark.parametrize("employee_id", ["²", HUGE])
def test_a_preview_for_an_employee_id_that_is_no_id_uses_no_employee(signed_in, csrf_token, db, org, employee_id):
    token = csrf_token(signed_in, "/signatures/")
    response = signed_in.post("/signatures/preview", headers=hx(token),
                              data={"html": "<p>Hello</p>", "employee_id": employee_id})
    assert response.status_code == 200


@pytest.mark.parametrize("value", ["²", HUGE])
def test_cursors_that_are_no_ids_are_not_found(signed_in, db, org, value):
    employee = records.add_employee(db, org, "ann@acme.example", {"first_name": "Ann"})
    db.commit()
    assert signed_in.get(f"/employees/{employee.id}?before={value}").status_code == 404
    assert signed_in.get(f"/sync/?before={value}").status_code == 404


def _cursor(sort: str, value: str, last_id: object) -> str:
    raw = json.dumps([sort, value, last_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("last_id", [10**30, 2**63, 2**31, 0, -5, True])
def test_a_forged_employee_cursor_is_reported_not_an_error(signed_in, db, org, last_id):
    cursor = _cursor("name", "ann", last_id)
    page = signed_in.get(f"/employees/?after={cursor}")
    assert page.status_code == 200
    assert "That page link is out of date" in page.get_data(as_text=True)
    more = signed_in.get(f"/employees/more?after={cursor}", headers=hx())
    assert more.status_code != 500


def test_another_organisation_cannot_be_reached_through_a_huge_id(signed_in, db):
    other = create_organization(db, "globex", "Globex")
    db.commit()
    assert signed_in.get(f"/departments/{other.id + 2**64}").status_code == 404
