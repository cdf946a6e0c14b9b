"""The employee list: search as you type, filters, sort, Load more, and bulk actions on a selection."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from portal.models import AuditEvent, Department, Employee, EmployeeDepartment, Organization
from tests.web.conftest import hx


def _people(db: Session, org: Organization, n: int, **values) -> list[Employee]:
    employees = [Employee(organization_id=org.id, email=f"person{i:03d}@{org.slug}.example",
                          first_name=f"Person{i:03d}", last_name="Example", **values) for i in range(n)]
    db.add_all(employees)
    db.commit()
    return employees


def _names(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/employees/\d+">([^<]+)</a></th>', page)


def _reload(db: Session, employees: list[Employee]) -> list[str]:
    db.expire_all()
    return [db.get(Employee, e.id).status for e in employees]


# -- access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/employees/", "/employees/?q=anna", "/employees/more?after=x", "/employees/new"])
def test_anonymous_visitors_go_to_sign_in_and_come_back(client, admin, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/signin?next=" in response.headers["Location"]


def test_an_expired_session_during_a_search_moves_the_whole_page_to_sign_in(client, admin):
    response = client.get("/employees/?q=ann", headers=hx(current_url="http://localhost/employees/?q=an"))
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/signin?next=")


def test_anonymous_bulk_action_changes_nothing(client, admin, db, org):
    [anna] = _people(db, org, 1)
    response = client.post("/employees/actions", data={"action": "pause", "ids": [anna.id]})
    assert response.status_code in (302, 400)  # no session, so no CSRF token either
    assert _reload(db, [anna]) == ["active"]


def test_bulk_action_without_csrf_is_refused(signed_in, db, org):
    [anna] = _people(db, org, 1)
    response = signed_in.post("/employees/actions", data={"action": "pause", "ids": [anna.id]})
    assert response.status_code == 400
    assert _reload(db, [anna]) == ["active"]


def test_the_main_navigation_links_to_employees(signed_in):
    page = signed_in.get("/").get_data(as_text=True)
    assert re.search(r'<a href="/employees/"[^>]*>Employees</a>', page)


# -- the page and the fragment --------------------------------------------------------------------


def test_the_page_has_a_labelled_active_search_and_filters(signed_in, db, org):
    _people(db, org, 3)
    page = signed_in.get("/employees/").get_data(as_text=True)
    assert '<label for="q">Search employees</label>' in page
    search = re.search(r'<input id="q" name="q" type="search"[^>]*>', page, flags=re.S).group(0)
    assert 'hx-trigger="input changed delay:250ms, search"' in search and 'hx-get="/employees/"' in search
    assert 'hx-push-url="true"' in page
    for label in ("Department", "Source", "State", "Sort by"):
        assert f">{label}</label>" in page
    assert '<label for="select-all">Select all on this page</label>' in page
    assert 'aria-label="Select Person000 Example"' in page
    for button in ("Pause sync", "Resume sync", "Exclude from sync"):
        assert f">{button}</button>" in page
    assert "<th scope=\"col\">E-mail</th>" in page
    assert "3 employees." in page


def test_a_search_from_htmx_gets_only_the_results_and_the_url_can_be_shared(signed_in, db, org):
    _people(db, org, 30)
    fragment = signed_in.get("/employees/?q=person01", headers=hx())
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert body.lstrip().startswith('<div id="employee-results">') and "<html" not in body
    assert "HX-Request" in fragment.headers.get("Vary", "")
    assert _names(body) == [f"Person{i:03d} Example" for i in range(10, 20)]
    assert "10 employees match." in body

    shared = signed_in.get("/employees/?q=person01").get_data(as_text=True)  # the pushed URL, opened anew
    assert shared.startswith("<!doctype html>") and 'value="person01"' in shared
    assert _names(shared) == _names(body)


def test_search_ignores_case_and_accents(signed_in, db, org):
    db.add_all([
        Employee(organization_id=org.id, email="juergen@acme.example", first_name="Jürgen", last_name="Özdemir"),
        Employee(organization_id=org.id, email="anna@acme.example", first_name="Anna", last_name="Berg")])
    db.commit()
    assert _names(signed_in.get("/employees/?q=JURGEN ozd").get_data(as_text=True)) == ["Jürgen Özdemir"]
    assert _names(signed_in.get("/employees/?q=anna@").get_data(as_text=True)) == ["Anna Berg"]
    page = signed_in.get("/employees/?q=nobody").get_data(as_text=True)
    assert "No employees match." in page


def test_filters_by_department_source_and_state(signed_in, db, org):
    anna, ben, cleo = (Employee(organization_id=org.id, email=f"{n}@acme.example", first_name=n.title(), source=s,
                                status=st) for n, s, st in [("anna", "m365", "active"), ("ben", "manual", "paused"),
                                                           ("cleo", "m365", "paused")])
    sales = Department(organization_id=org.id, name="Sales")
    db.add_all([anna, ben, cleo, sales])
    db.commit()
    db.add_all([EmployeeDepartment(employee_id=anna.id, department_id=sales.id, source="sync"),
                EmployeeDepartment(employee_id=cleo.id, department_id=sales.id, source="manual")])
    db.commit()

    assert _names(signed_in.get(f"/employees/?department={sales.id}").get_data(as_text=True)) == ["Anna", "Cleo"]
    assert _names(signed_in.get("/employees/?state=paused").get_data(as_text=True)) == ["Ben", "Cleo"]
    assert _names(signed_in.get("/employees/?source=m365&state=paused").get_data(as_text=True)) == ["Cleo"]
    page = signed_in.get(f"/employees/?department={sales.id}").get_data(as_text=True)
    assert f'<option value="{sales.id}" selected>Sales</option>' in page
    assert "<td>Sales</td>" in page


def test_sort_by_recently_changed(signed_in, db, org):
    from datetime import timedelta

    from portal.models import utcnow

    now = utcnow()
    db.add_all(Employee(organization_id=org.id, email=f"{n}@acme.example", first_name=n,
                        updated_at=now - timedelta(days=d)) for n, d in [("Old", 9), ("New", 0), ("Mid", 3)])
    db.commit()
    assert _names(signed_in.get("/employees/?sort=updated").get_data(as_text=True)) == ["New", "Mid", "Old"]
    assert _names(signed_in.get("/employees/?sort=email").get_data(as_text=True)) == ["Mid", "New", "Old"]


@pytest.mark.parametrize("query", ["department=abc", "source=ldap", "state=gone", "sort=salary"])
def test_a_filter_that_does_not_exist_is_not_found(signed_in, query):
    assert signed_in.get(f"/employees/?{query}").status_code == 404


def test_another_organisations_department_is_not_found(signed_in, db, org, other_org):
    theirs = Department(organization_id=other_org.id, name="Secret")
    db.add(theirs)
    db.commit()
    assert signed_in.get(f"/employees/?department={theirs.id}").status_code == 404


def test_the_list_never_shows_another_organisations_employees(signed_in, db, org, other_org):
    _people(db, other_org, 2)
    _people(db, org, 1)
    page = signed_in.get("/employees/?q=person").get_data(as_text=True)
    assert "globex" not in page and "1 employee match." in page


# -- pages ----------------------------------------------------------------------------------------


def test_load_more_appends_the_next_page_and_moves_the_button(signed_in, db, org):
    _people(db, org, 120)
    page = signed_in.get("/employees/").get_data(as_text=True)
    assert len(_names(page)) == 50 and "120 employees." in page
    more = re.search(r'hx-get="(/employees/more\?after=[^"]+)"', page).group(1)
    next_page = re.search(r'<a class="button" href="(/employees/\?after=[^"]+)"', page).group(1)

    fragment = signed_in.get(more, headers=hx()).get_data(as_text=True)
    assert _names(fragment) == [f"Person{i:03d} Example" for i in range(50, 100)]
    assert '<div id="load-more" class="load-more" hx-swap-oob="true">' in fragment
    last = signed_in.get(re.search(r'hx-get="(/employees/more\?after=[^"]+)"', fragment).group(1), headers=hx())
    body = last.get_data(as_text=True)
    assert len(_names(body)) == 20 and "Load more" not in body

    # Without JavaScript the same button opens the next page, with a way back to the first.
    plain = signed_in.get(next_page).get_data(as_text=True)
    assert _names(plain)[0] == "Person050 Example" and "Back to the first page" in plain
    assert signed_in.get(more).status_code == 303  # /more outside htmx: to the full page


def test_load_more_keeps_the_search(signed_in, db, org):
    _people(db, org, 60)
    page = signed_in.get("/employees/?q=example&sort=email").get_data(as_text=True)
    more = re.search(r'hx-get="(/employees/more\?[^"]+)"', page).group(1).replace("&amp;", "&")
    assert "q=example" in more and "sort=email" in more
    fragment = signed_in.get(more, headers=hx()).get_data(as_text=True)
    assert _names(fragment) == [f"Person{i:03d} Example" for i in range(50, 60)]


def test_an_outdated_page_link_starts_again_from_the_first_page(signed_in, db, org):
    _people(db, org, 3)
    response = signed_in.get("/employees/?after=not-a-cursor")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "That page link is out of date" in page and len(_names(page)) == 3


def test_load_more_with_an_outdated_cursor_appends_nothing_and_says_why(signed_in, db, org):
    _people(db, org, 3)
    body = signed_in.get("/employees/more?after=not-a-cursor", headers=hx()).get_data(as_text=True)
    assert _names(body) == [] and "Load more" not in body
    assert "That page link is out of date" in body


# -- bulk actions ---------------------------------------------------------------------------------


def test_bulk_pause_refreshes_the_rows_and_announces_each_refusal(signed_in, csrf_token, db, org):
    active = _people(db, org, 3)
    [excluded] = [Employee(organization_id=org.id, email="gone@acme.example", first_name="Gone", status="excluded")]
    db.add(excluded)
    db.commit()
    token = csrf_token(signed_in, "/employees/")

    response = signed_in.post("/employees/actions", headers=hx(token),
                              data={"action": "pause", "ids": [e.id for e in active] + [excluded.id]})
    body = response.get_data(as_text=True)

    assert response.status_code == 200
    assert _reload(db, active + [excluded]) == ["paused", "paused", "paused", "excluded"]
    for employee in active:
        assert re.search(rf'<tr id="employee-row-{employee.id}" hx-swap-oob="true">.*?Sync paused', body, flags=re.S)
    assert f'<tr id="employee-row-{excluded.id}" hx-swap-oob="true">' in body
    status = re.search(r'<div id="status"[^>]*aria-live="polite"[^>]*>(.*?)</div>', body, flags=re.S).group(1)
    assert "Paused sync for 3 employees (person000@acme.example, person001@acme.example, person002@acme.example)." \
        in status
    assert "1 employee not changed." in status
    assert "Not changed, excluded from sync; include it first: gone@acme.example." in status
    [event] = db.exec(select(AuditEvent).where(AuditEvent.action == "employee_paused")).all()
    assert event.details["employees"] == [e.email for e in active]


def test_bulk_exclude_and_resume_without_javascript_go_back_to_the_same_list(signed_in, csrf_token, db, org):
    employees = _people(db, org, 2)
    token = csrf_token(signed_in, "/employees/")
    response = signed_in.post("/employees/actions", data={
        "csrf_token": token, "action": "exclude", "ids": [employees[0].id],
        "back": "/employees/?q=person&state=active"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/employees/?q=person&state=active"
    assert _reload(db, employees) == ["excluded", "active"]
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Excluded from sync person000@acme.example." in page


def test_bulk_back_link_never_leaves_the_portal(signed_in, csrf_token, db, org):
    [anna] = _people(db, org, 1)
    token = csrf_token(signed_in, "/employees/")
    response = signed_in.post("/employees/actions", data={
        "csrf_token": token, "action": "pause", "ids": [anna.id], "back": "https://evil.example/"})
    assert response.headers["Location"] == "/employees/"


def test_bulk_action_on_another_organisations_employees_changes_nothing(signed_in, csrf_token, db, org, other_org):
    theirs = _people(db, other_org, 2)
    token = csrf_token(signed_in, "/employees/")
    response = signed_in.post("/employees/actions", headers=hx(token),
                              data={"action": "exclude", "ids": [e.id for e in theirs]})
    body = response.get_data(as_text=True)
    assert _reload(db, theirs) == ["active", "active"]
    assert "globex" not in body and "2 employees no longer found" in body
    assert all(event.action != "employee_excluded" for event in db.exec(select(AuditEvent)).all())


def test_bulk_action_with_nothing_selected_says_what_to_do(signed_in, csrf_token, db, org):
    token = csrf_token(signed_in, "/employees/")
    body = signed_in.post("/employees/actions", headers=hx(token), data={"action": "pause"}).get_data(as_text=True)
    assert "Select at least one employee first" in body


def test_bulk_action_that_is_unknown_or_too_big_is_refused(signed_in, csrf_token, db, org):
    token = csrf_token(signed_in, "/employees/")
    assert signed_in.post("/employees/actions", headers=hx(token), data={"action": "delete", "ids": ["1"]}
                          ).status_code == 400
    body = signed_in.post("/employees/actions", headers=hx(token),
                          data={"action": "pause", "ids": [str(i) for i in range(1, 600)]}).get_data(as_text=True)
    assert "Select at most 500 employees at a time" in body
