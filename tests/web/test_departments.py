"""The Departments pages: list with member counts, create, rename, delete (after saying what it does), members."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlmodel import Session

from portal.models import AuditEvent, Department, Employee, EmployeeDepartment, Organization
from tests.web.conftest import read_csrf_token


def department(db: Session, org: Organization, name: str, source: str = "manual", members: int = 0,
               link_source: str | None = None) -> Department:
    """A department with ``members`` employees in it (made by the sync when ``source`` is "sync")."""
    row = Department(organization_id=org.id, name=name, source=source)
    db.add(row)
    db.commit()
    slug = re.sub(r"[^a-z]", "", name.lower())
    people = [Employee(organization_id=org.id, email=f"{slug}-{i:03}@{org.slug}.example",
                       display_name=f"{name} Person {i:03}", job_title="Clerk",
                       source="m365" if source == "sync" else "manual", status="active") for i in range(members)]
    db.add_all(people)
    db.commit()
    db.add_all(EmployeeDepartment(employee_id=p.id, department_id=row.id, source=link_source or source)
               for p in people)
    db.commit()
    return row


def rows(page: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', page, flags=re.S).group(1)
    return re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>", 1)[1], flags=re.S)


def names(db: Session, org: Organization) -> list[str]:
    db.expire_all()
    return sorted(db.exec(select(Department.name).where(Department.organization_id == org.id)).scalars())


def audit_of(db: Session, org: Organization, action: str) -> list[AuditEvent]:
    return list(db.exec(select(AuditEvent).where(AuditEvent.organization_id == org.id,
                                                 AuditEvent.action == action)).scalars())


def post(client, path: str, data: dict | None = None, **kwargs):
    token = read_csrf_token(client, "/departments/")
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)


# -- who may see what -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/departments/", "/departments/1", "/departments/1/delete"])
def test_anonymous_visitors_are_sent_to_sign_in(client, admin, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin?next=")


def test_anonymous_posts_change_nothing(client, db, org, admin):
    sales = department(db, org, "Sales", members=2)
    token = read_csrf_token(client, "/signin")
    for path, data in (("/departments/", {"name": "Legal"}), (f"/departments/{sales.id}/rename", {"name": "X"}),
                       (f"/departments/{sales.id}/delete", {})):
        response = client.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 302 and response.headers["Location"].startswith("/signin")
    assert names(db, org) == ["Sales"]


@pytest.mark.parametrize(("path", "data"), [("/departments/", {"name": "Legal"}),
                                            ("/departments/{id}/rename", {"name": "Vertrieb"}),
                                            ("/departments/{id}/delete", {})])
def test_posts_without_the_csrf_token_are_refused(signed_in, db, org, path, data):
    sales = department(db, org, "Sales", members=1)
    response = signed_in.post(path.format(id=sales.id), data=data)
    assert response.status_code == 400 and "This form has expired" in response.get_data(as_text=True)
    assert names(db, org) == ["Sales"]


def test_another_organisations_department_is_not_found_by_a_guessed_id(signed_in, db, org, other_org):
    theirs = department(db, other_org, "Globex Secret Lab", members=3)
    mine = department(db, org, "Sales")
    for path in (f"/departments/{theirs.id}", f"/departments/{theirs.id}/delete", f"/departments/{mine.id + 999}"):
        assert signed_in.get(path).status_code == 404, path
    assert post(signed_in, f"/departments/{theirs.id}/rename", {"name": "Mine now"}).status_code == 404
    assert post(signed_in, f"/departments/{theirs.id}/delete").status_code == 404
    assert names(db, other_org) == ["Globex Secret Lab"]
    assert "Globex Secret Lab" not in signed_in.get("/departments/").get_data(as_text=True)


# -- the list and creating ----------------------------------------------------------------------------


def test_the_list_is_a_table_with_member_counts_and_who_made_each(signed_in, db, org, other_org):
    department(db, org, "Sales", source="sync", members=3)
    department(db, org, "Board", members=1)
    department(db, org, "Empty")
    department(db, other_org, "Globex", members=5)
    page = signed_in.get("/departments/").get_data(as_text=True)
    assert '<th scope="col">Members</th>' in page
    got = [(re.search(r'<th scope="row"><a href="/departments/\d+">(.*?)</a>', r).group(1),
            re.search(r'<td class="num">([\d,]+)</td>', r).group(1)) for r in rows(page, "departments-table")]
    assert got == [("Board", "1"), ("Empty", "0"), ("Sales", "3")]
    assert "Microsoft 365 sync" in rows(page, "departments-table")[2]
    assert "Added in Sigsync" in rows(page, "departments-table")[0]


def test_with_no_departments_the_list_says_how_they_come(signed_in):
    page = signed_in.get("/departments/").get_data(as_text=True)
    assert "There are no departments yet." in page
    assert '<label for="name">Department name</label>' in page and ">Create department</button>" in page


def test_creating_a_department_lists_it_and_records_it(signed_in, db, org):
    response = post(signed_in, "/departments/", {"name": "  Legal  "}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Department “Legal” created." in page
    assert names(db, org) == ["Legal"]
    assert any("Legal" in r and '<td class="num">0</td>' in r for r in rows(page, "departments-table"))
    [event] = audit_of(db, org, "department_created")
    assert event.actor == "ada@acme.example" and "Legal" in event.summary


@pytest.mark.parametrize(("name", "problem"), [
    ("", "A department needs a name."),
    ("   ", "A department needs a name."),
    ("x" * 201, "Department name is too long (201 characters; at most 200)."),
    ("SALES", "There is already a department “Sales”"),
])
def test_a_bad_name_shows_the_form_again_with_the_problem_beside_it(signed_in, db, org, name, problem):
    department(db, org, "Sales")
    response = post(signed_in, "/departments/", {"name": name})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<p class="field-error" id="name-error">{problem}' in page
    assert 'aria-describedby="name-error" aria-invalid="true"' in page
    assert f'value="{name}"' in page  # nothing typed is lost
    assert names(db, org) == ["Sales"] and audit_of(db, org, "department_created") == []


# -- one department -----------------------------------------------------------------------------------


def test_a_department_lists_its_members_a_page_at_a_time_with_links(signed_in, db, org):
    sales = department(db, org, "Sales", members=60)
    department(db, org, "Board", members=2)
    page = signed_in.get(f"/departments/{sales.id}").get_data(as_text=True)
    assert "<h1>Sales</h1>" in page and "<dt>Members</dt><dd>60</dd>" in page
    first = rows(page, "members-table")
    assert len(first) == 50
    employee = next(e for e in db.exec(select(Employee).where(Employee.email == "sales-000@acme.example")).scalars())
    assert f'<a href="/employees/{employee.id}">Sales Person 000</a>' in first[0]
    seen = re.findall(r"(sales-\d+)@acme\.example", page)
    found = re.search(r'<a href="([^"]+)" rel="next">Next members</a>', page)
    second = signed_in.get(found.group(1).replace("&amp;", "&")).get_data(as_text=True)
    seen += re.findall(r"(sales-\d+)@acme\.example", second)
    assert seen == [f"sales-{i:03}" for i in range(60)]
    assert 'rel="next"' not in second and "board-" not in page + second
    assert f'<a href="/departments/{sales.id}" rel="prev">First members</a>' in second


def test_a_forged_member_cursor_is_404(signed_in, db, org):
    sales = department(db, org, "Sales", members=1)
    assert signed_in.get(f"/departments/{sales.id}?after=not-a-cursor").status_code == 404


def test_renaming_keeps_the_members_and_is_recorded(signed_in, db, org):
    sales = department(db, org, "Sales", members=2)
    response = post(signed_in, f"/departments/{sales.id}/rename", {"name": "Vertrieb"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Department “Sales” renamed to “Vertrieb”." in page and "<h1>Vertrieb</h1>" in page
    assert len(rows(page, "members-table")) == 2
    [event] = audit_of(db, org, "department_renamed")
    assert event.details == {"department_id": sales.id, "from": "Sales", "to": "Vertrieb"}


def test_renaming_a_sync_made_department_says_what_the_next_sync_does(signed_in, db, org):
    sales = department(db, org, "Sales", source="sync", members=2)
    page = signed_in.get(f"/departments/{sales.id}").get_data(as_text=True)
    assert "The sync made this department from Microsoft 365 data" in page
    assert "the next sync that assigns its Microsoft 365 name creates that department again" in " ".join(page.split())
    response = post(signed_in, f"/departments/{sales.id}/rename", {"name": "Vertrieb"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "“Sales” came from Microsoft 365." in page and "creates that department again" in page
    assert "notice-warning" in page


@pytest.mark.parametrize(("name", "problem"), [("", "A department needs a name."),
                                               ("board", "There is already a department “Board”")])
def test_a_bad_new_name_shows_the_department_again_with_the_problem(signed_in, db, org, name, problem):
    sales = department(db, org, "Sales", members=3)
    department(db, org, "Board")
    response = post(signed_in, f"/departments/{sales.id}/rename", {"name": name})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<p class="field-error" id="name-error">{problem}' in page
    assert 'aria-invalid="true"' in page and f'value="{name}"' in page
    assert "<h1>Sales</h1>" in page and len(rows(page, "members-table")) == 3
    assert names(db, org) == ["Board", "Sales"]


# -- deleting -----------------------------------------------------------------------------------------


def test_deleting_says_first_what_happens_to_the_members(signed_in, db, org):
    sales = department(db, org, "Sales", members=3)
    detail = signed_in.get(f"/departments/{sales.id}").get_data(as_text=True)
    assert "3 employees lose this department; nobody is deleted." in detail
    confirm = signed_in.get(f"/departments/{sales.id}/delete").get_data(as_text=True)
    assert "Delete the department “Sales”?" in confirm
    assert "3 employees lose this department; nobody is deleted." in confirm
    assert ">Delete department</button>" in confirm
    assert names(db, org) == ["Sales"]  # asking changes nothing


def test_deleting_keeps_every_employee_and_is_recorded(signed_in, db, org):
    sales_id = department(db, org, "Sales", members=3).id
    board_id = department(db, org, "Board", members=1).id
    response = post(signed_in, f"/departments/{sales_id}/delete", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Department “Sales” deleted. 3 employee(s) lost it; nobody was deleted." in page
    assert names(db, org) == ["Board"]
    assert len(db.exec(select(Employee).where(Employee.organization_id == org.id)).scalars().all()) == 4
    assert [link.department_id for link in db.exec(select(EmployeeDepartment)).scalars()] == [board_id]
    [event] = audit_of(db, org, "department_deleted")
    assert event.details == {"department_id": sales_id, "name": "Sales", "members": 3}
    assert signed_in.get(f"/departments/{sales_id}").status_code == 404


def test_deleting_a_sync_made_department_says_the_sync_makes_it_again(signed_in, db, org):
    sales = department(db, org, "Sales", source="sync", members=1)
    confirm = signed_in.get(f"/departments/{sales.id}/delete").get_data(as_text=True)
    assert "1 employee loses this department; nobody is deleted." in confirm
    assert "1 of them was put in it by the sync" in confirm
    assert "puts that employee back in it" in " ".join(confirm.split())


def test_deleting_a_department_made_by_hand_says_nothing_about_the_sync(signed_in, db, org):
    board = department(db, org, "Board", members=2)
    confirm = signed_in.get(f"/departments/{board.id}/delete").get_data(as_text=True)
    assert "2 employees lose this department; nobody is deleted." in confirm
    assert 'id="delete-sync"' not in confirm
