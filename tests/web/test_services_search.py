"""Employee search, filters, sorts and keyset pages (portal.employees.search) against the real database."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from portal.db import session_scope
from portal.employees import add_employee, assign_department, edit_employee, search
from portal.employees.search import (
    count_employees,
    fold,
    refresh_search_text,
    search_employees,
    search_text_for,
)
from portal.errors import InvalidValue
from portal.models import Department, Employee, EmployeeDepartment, utcnow
from portal.organizations import create_organization


@pytest.fixture
def session(config):
    with session_scope(config.database_url) as session:
        yield session


@pytest.fixture
def acme(session):
    return create_organization(session, "acme", "Acme GmbH")


def emails(page) -> list[str]:
    return [row.email for row in page.rows]


def everything(session, org, **kw) -> list[int]:
    """Every id the pages give, following the cursors; fails on a repeated row."""
    ids: list[int] = []
    after = None
    while True:
        page = search_employees(session, org, after=after, **kw)
        ids += [row.id for row in page.rows]
        assert len(ids) == len(set(ids)), "a row came twice"
        if not page.has_more:
            return ids
        after = page.next_cursor


@pytest.mark.parametrize(("text", "folded"), [
    ("Jürgen MÜLLER", "jurgen muller"), ("Søren  Ørsted", "soren orsted"), ("Łukasz Straße", "lukasz strasse"),
    ("Zoë Núñez-Çelik", "zoe nunez-celik"), ("ÆSIR Œuvre", "aesir oeuvre"), ("", ""),
])
def test_fold_drops_case_and_accents(text, folded):
    assert fold(text) == folded


def test_search_finds_names_with_umlauts_whatever_the_case_or_accents(session, acme):
    add_employee(session, acme, "juergen.mueller@example.com", {"first_name": "Jürgen", "last_name": "Müller",
                                                                "display_name": "Jürgen Müller"})
    add_employee(session, acme, "soren@example.com", {"display_name": "Søren Ørsted"})
    add_employee(session, acme, "anna@example.com", {"first_name": "Anna", "last_name": "Schmidt"})
    add_employee(session, acme, "noname@example.com", {})
    for q in ("müller", "MÜLLER", "muller", "Mül", "jürgen mü", "mueller@", "EXAMPLE.COM juer"):
        assert emails(search_employees(session, acme, q=q)) == ["juergen.mueller@example.com"], q
    assert emails(search_employees(session, acme, q="ørsted")) == ["soren@example.com"]
    assert emails(search_employees(session, acme, q="ORSTED soren")) == ["soren@example.com"]
    assert emails(search_employees(session, acme, q="ann sch")) == ["anna@example.com"]
    assert emails(search_employees(session, acme, q="NONAME")) == ["noname@example.com"]
    assert emails(search_employees(session, acme, q="zzzz")) == []
    assert emails(search_employees(session, acme, q="100%")) == []  # no pattern characters leak through
    assert emails(search_employees(session, acme, q="_")) == []
    assert [r.name for r in search_employees(session, acme).rows] == ["Anna Schmidt", "Jürgen Müller",
                                                                         "noname@example.com", "Søren Ørsted"]


def test_one_or_two_letters_find_words_that_start_with_them(session, acme, monkeypatch):
    add_employee(session, acme, "anna@example.com", {"first_name": "Anna", "last_name": "Schmidt"})
    add_employee(session, acme, "soren@example.com", {"display_name": "Søren Ørsted"})
    add_employee(session, acme, "noname@example.com", {})
    assert emails(search_employees(session, acme, q="s")) == ["anna@example.com", "soren@example.com"]
    assert emails(search_employees(session, acme, q="Ør")) == ["soren@example.com"]
    assert emails(search_employees(session, acme, q="rs")) == []  # inside "orsted": not a word's start
    assert emails(search_employees(session, acme, q="rst")) == ["soren@example.com"]  # three letters: anywhere
    assert emails(search_employees(session, acme, q="no")) == ["noname@example.com"]
    # PostgreSQL first reads a window of the list in order; a window too small for a page goes to the index.
    monkeypatch.setattr(search, "DENSE_WINDOW", 1)
    assert emails(search_employees(session, acme, q="ample", limit=1)) == ["anna@example.com"]
    assert emails(search_employees(session, acme, q="rste s")) == ["soren@example.com"]


def test_search_text_follows_edits_and_core_updates(session, acme):
    employee = add_employee(session, acme, "a@example.com", {"display_name": "Alpha"})
    assert employee.search_text == search_text_for({"display_name": "Alpha", "email": "a@example.com"})
    edit_employee(session, acme, "a@example.com", {"display_name": "Ödön Bravo"})
    assert emails(search_employees(session, acme, q="odon")) == ["a@example.com"]
    assert emails(search_employees(session, acme, q="alpha")) == []
    # The sync writes with Core UPDATEs and then refreshes the text, as portal.sync.writer does.
    conn = session.connection()
    conn.execute(update(Employee).where(Employee.id == employee.id).values(last_name="Çharlie"))
    refresh_search_text(conn, [employee.id])
    assert emails(search_employees(session, acme, q="charlie")) == ["a@example.com"]
    # And a Core insert (the sync's bulk insert) gets it from the column default.
    conn.execute(insert(Employee), [{"organization_id": acme.id, "email": "core@example.com", "display_name": "Ünal",
                                     "custom": {}, "synced_values": {}, "m365_snapshot": {}}])
    assert emails(search_employees(session, acme, q="unal")) == ["core@example.com"]


@pytest.fixture
def crowd(session, acme):
    """130 employees with many equal names, spread over sources, statuses, departments and update times."""
    rng = random.Random(7)
    names = ["Anna Berg", "Ärne Öst", "anna berg", "Zoë Zed", "Bob"]
    now = utcnow()
    rows = []
    for n in range(130):
        rows.append({"organization_id": acme.id, "email": f"p{n:03d}@example.com", "display_name": rng.choice(names),
                     "source": rng.choice(["m365", "manual"]), "status": rng.choice(["active", "active", "paused"]),
                     "updated_at": now - timedelta(minutes=rng.randint(0, 5)),  # many equal times
                     "custom": {}, "synced_values": {}, "m365_snapshot": {}})
    conn = session.connection()
    conn.execute(insert(Employee), rows)
    sales = Department(organization_id=acme.id, name="Sales")
    session.add(sales)
    session.flush()
    ids = conn.execute(select(Employee.id).where(Employee.organization_id == acme.id)).scalars().all()
    conn.execute(insert(EmployeeDepartment), [{"employee_id": i, "department_id": sales.id, "source": "manual"}
                                              for i in ids if i % 3 == 0])
    return sales


def expected(session, org, sort, where=lambda e: True) -> list[int]:
    employees = [e for e in session.exec(select(Employee).where(Employee.organization_id == org.id)).scalars()
                 if where(e)]
    if sort == "name":
        employees.sort(key=lambda e: (e.search_text, e.id))
    elif sort == "email":
        employees.sort(key=lambda e: (e.email, e.id))
    else:
        employees.sort(key=lambda e: (e.updated_at, e.id), reverse=True)
    return [e.id for e in employees]


@pytest.mark.parametrize("sort", ["name", "email", "updated"])
def test_pages_lose_and_repeat_no_row_and_break_ties_by_id(session, acme, crowd, sort):
    assert everything(session, acme, sort=sort, limit=7) == expected(session, acme, sort)


@pytest.mark.parametrize("large_department", [0, 10_000])  # both plans: walk the list, or start from members
@pytest.mark.parametrize("sort", ["name", "updated"])
def test_filters_and_search_page_together(session, acme, crowd, sort, large_department, monkeypatch):
    monkeypatch.setattr(search, "LARGE_DEPARTMENT", large_department)
    member_ids = set(session.connection().execute(
        select(EmployeeDepartment.employee_id).where(EmployeeDepartment.department_id == crowd.id)).scalars())
    got = everything(session, acme, q="anna", status="active", department_id=crowd.id, sort=sort, limit=4)
    want = expected(session, acme, sort, lambda e: "anna" in e.search_text and e.status == "active"
                    and e.id in member_ids)
    assert got == want and want
    assert everything(session, acme, source="manual", sort=sort, limit=9) == expected(
        session, acme, sort, lambda e: e.source == "manual")
    assert everything(session, acme, q="arne ost", sort=sort, limit=9) == expected(
        session, acme, sort, lambda e: e.display_name == "Ärne Öst")


def test_rows_carry_their_departments_sorted(session, acme):
    add_employee(session, acme, "a@example.com", {})
    for name in ("sales", "Ärzte", "Berlin"):
        assign_department(session, acme, "a@example.com", name)
    [row] = search_employees(session, acme).rows
    assert row.departments == ["Ärzte", "Berlin", "sales"]


def test_another_organisations_employees_never_show(session, acme, crowd):
    globex = create_organization(session, "globex", "Globex")
    add_employee(session, globex, "anna@globex.example", {"display_name": "Anna Berg"})
    assert "anna@globex.example" not in [e for e in emails(search_employees(session, acme, q="anna", limit=200))]
    # Filtering by a department of another organisation shows nothing of it.
    assert search_employees(session, globex, department_id=crowd.id).rows == []
    assert emails(search_employees(session, globex, q="anna")) == ["anna@globex.example"]


def test_counts_are_exact_up_to_the_cap(session, acme, crowd):
    total = count_employees(session, acme)
    assert (total.count, total.exact, str(total)) == (130, True, "130")
    capped = count_employees(session, acme, cap=50)
    assert (capped.count, capped.exact, str(capped)) == (50, False, "more than 50")
    paused = count_employees(session, acme, status="paused")
    assert paused.count == len(expected(session, acme, "name", lambda e: e.status == "paused"))


@pytest.mark.parametrize("bad", [{"sort": "salary"}, {"status": "asleep"}, {"source": "ldap"}, {"limit": 0},
                                 {"after": "not-a-cursor"}])
def test_bad_parameters_are_refused(session, acme, bad):
    with pytest.raises(InvalidValue):
        search_employees(session, acme, **bad)


def test_a_cursor_from_another_sort_is_refused(session, acme, crowd):
    cursor = search_employees(session, acme, sort="email", limit=5).next_cursor
    with pytest.raises(InvalidValue, match="out of date"):
        search_employees(session, acme, sort="name", after=cursor)


def test_the_migrations_frozen_fold_agrees_with_the_live_one():
    # The migration filled search_text for employees that existed; a drift would make them unsearchable.
    import importlib.util

    from portal.migrations import MIGRATIONS_DIR

    path = MIGRATIONS_DIR / "versions" / "0007_employee_search_and_list_indexes.py"
    spec = importlib.util.spec_from_file_location("migration_0007", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for values in [("Jürgen Müller", "Jürgen", "Müller", "j@x.example"), ("", "Åsa", "Öberg", "a@x.example"),
                   ("", "", "", "only@x.example")]:
        display, first, last, email = values
        assert migration._search_text(*values) == search_text_for(
            {"display_name": display, "first_name": first, "last_name": last, "email": email})
