"""Where an employee's values came from, giving a field back to Microsoft 365, and the employee's history."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from portal.db import session_scope
from portal.employees import provenance
from portal.employees.provenance import Origin, field_origins, give_back, origin_of
from portal.errors import InvalidTransition
from portal.models import Employee, Organization, SyncDecision, SyncRun
from tests.engine.conftest import Harness, m365_config, sim, sim_server_engine  # noqa: F401  (fixtures)

M365, TYPED, KEPT, EMPTY = Origin.MICROSOFT_365, Origin.TYPED, Origin.TYPED_KEPT, Origin.EMPTY


@pytest.mark.parametrize(("value", "synced", "m365", "origin"), [
    # never synced (a hand-made employee, or a field the mapping leaves out)
    ("", None, None, EMPTY),
    ("Sales Lead", None, None, TYPED),
    ("Sales Lead", None, "Head of Sales", KEPT),  # Microsoft 365 fills it now, the typed value stays
    ("Sales Lead", None, "", TYPED),
    # synced, unchanged since
    ("Head of Sales", "Head of Sales", "Head of Sales", M365),
    ("", "", "", EMPTY),
    ("Head of Sales", "Head of Sales", "Sales Director", M365),  # Graph moved on (a paused employee)
    ("Head of Sales", "Head of Sales", None, M365),
    # synced, then typed over
    ("Sales Lead", "Head of Sales", "Head of Sales", KEPT),
    ("Sales Lead", "Head of Sales", "Sales Director", KEPT),
    ("Sales Lead", "", "", TYPED),  # Microsoft 365 has nothing there: nothing is kept over
    ("", "Head of Sales", "Head of Sales", KEPT),  # cleared by hand: the empty value is kept over it
    ("Sales Lead", "Head of Sales", "Sales Lead", TYPED),  # Microsoft 365 now agrees with the typed value
])
def test_origin_table(value, synced, m365, origin):
    assert origin_of(value, synced, m365) is origin


def test_origin_labels_are_the_words_the_page_shows():
    assert [o.label for o in Origin] == ["Microsoft 365", "Typed in Sigsync", "Typed, kept over Microsoft 365",
                                         "No value"]


def _employee(**values) -> Employee:
    defaults = {"organization_id": 1, "email": "anna@acme.example", "source": "m365", "m365_id": "u-1"}
    return Employee(**{**defaults, **values})


def test_field_origins_use_the_graph_record_under_the_mapping():
    employee = _employee(
        first_name="Anna", job_title="Sales Lead", city="Berlin", custom={"cost_centre": "42"},
        synced_values={"first_name": "Anna", "job_title": "Head of Sales", "city": "Berlin",
                       "email": "anna@acme.example", "custom.cost_centre": "17"},
        m365_snapshot={"id": "u-1", "givenName": "Anna", "jobTitle": "Sales Director", "city": "Berlin",
                       "extension_abc_costCentre": "17"},
    )
    mapping = {"first_name": "givenName", "job_title": "jobTitle", "city": "city", "email": "mail",
               "custom.cost_centre": "extension_abc_costCentre"}
    rows = {row.name: row for row in field_origins(employee, mapping)}

    assert (rows["first_name"].origin, rows["first_name"].can_give_back) == (M365, False)
    assert rows["job_title"].origin is KEPT
    assert rows["job_title"].m365_value == "Sales Director"  # the Graph record is newer than the synced value
    assert rows["job_title"].can_give_back
    assert rows["custom.cost_centre"].label == "Custom: cost_centre"
    assert (rows["custom.cost_centre"].origin, rows["custom.cost_centre"].m365_value) == (KEPT, "17")
    assert rows["email"].origin is M365 and not rows["email"].can_give_back
    assert rows["phone"].origin is EMPTY
    assert list(rows)[:4] == ["first_name", "last_name", "display_name", "email"]


def test_without_a_mapping_microsoft_365s_value_is_the_synced_one():
    employee = _employee(job_title="Sales Lead", synced_values={"job_title": "Head of Sales"},
                         m365_snapshot={"jobTitle": "Sales Director"})
    [row] = [r for r in field_origins(employee, None) if r.name == "job_title"]
    assert (row.origin, row.m365_value, row.can_give_back) == (KEPT, "Head of Sales", True)


def test_a_hand_made_employee_has_only_typed_values_and_nothing_to_give_back():
    employee = _employee(source="manual", m365_id=None, job_title="Founder")
    rows = {row.name: row for row in field_origins(employee, {"job_title": "jobTitle"})}
    assert rows["job_title"].origin is TYPED
    assert rows["email"].origin is TYPED
    assert not any(row.can_give_back for row in rows.values())


def test_a_field_microsoft_365_does_not_fill_cannot_be_given_back():
    employee = _employee(office="Room 4", synced_values={"job_title": "X"})
    [row] = [r for r in field_origins(employee, {"job_title": "jobTitle"}) if r.name == "office"]
    assert (row.origin, row.m365_value, row.can_give_back) == (TYPED, None, False)


# -- against the real database and the real sync --------------------------------------------------

JUERGEN = "juergen.mueller@contoso.example"
JUERGEN_UPN = "Juergen.Mueller@contoso.example"


@pytest.fixture
def acme(m365_config, sim):  # noqa: F811
    return Harness(m365_config, sim)


def _give_back(acme, email: str, name: str) -> None:
    with session_scope(acme.config.database_url) as session:
        org = session.get(Organization, acme.org.id)
        employee = session.exec(select(Employee).where(Employee.email == email)).one()
        give_back(session, org, employee, name, provenance.connection_mapping(session, org))


def _origins(acme, email: str) -> dict[str, provenance.FieldOrigin]:
    with session_scope(acme.config.database_url) as session:
        org = session.get(Organization, acme.org.id)
        employee = session.exec(select(Employee).where(Employee.email == email)).one()
        return {row.name: row for row in field_origins(employee, provenance.connection_mapping(session, org))}


def test_a_field_given_back_takes_microsoft_365s_value_now_and_follows_it_from_the_next_sync(acme):
    acme.sync()
    acme.edit(JUERGEN, job_title="Head of Sales DACH")
    acme.sim.tenant.update_user(JUERGEN_UPN, jobTitle="Vertriebsdirektor")
    kept = acme.sync()
    assert acme.employee(JUERGEN).job_title == "Head of Sales DACH"
    assert [d.email for d in acme.decisions(kept["run_id"], "kept_manual")] == [JUERGEN]
    row = _origins(acme, JUERGEN)["job_title"]
    assert (row.origin, row.m365_value, row.can_give_back) == (KEPT, "Vertriebsdirektor", True)

    _give_back(acme, JUERGEN, "job_title")

    assert acme.employee(JUERGEN).job_title == "Vertriebsdirektor"  # at once, not at the next sync
    assert _origins(acme, JUERGEN)["job_title"].origin is M365
    acme.sim.tenant.update_user(JUERGEN_UPN, jobTitle="Geschäftsführer")
    followed = acme.sync()
    assert acme.employee(JUERGEN).job_title == "Geschäftsführer"
    assert acme.decisions(followed["run_id"], "kept_manual") == []
    assert [d.email for d in acme.decisions(followed["run_id"], "updated")] == [JUERGEN]


def test_giving_back_refuses_a_field_that_is_microsoft_365s_or_unmapped(acme):
    acme.configure(mapping={"office": ""})
    acme.sync()
    acme.edit(JUERGEN, office="Room 4")
    with pytest.raises(InvalidTransition, match="already comes from Microsoft 365"):
        _give_back(acme, JUERGEN, "job_title")
    with pytest.raises(InvalidTransition, match="Microsoft 365 does not fill Office"):
        _give_back(acme, JUERGEN, "office")
    with pytest.raises(InvalidTransition, match="always follows Microsoft 365"):
        _give_back(acme, JUERGEN, "email")
    assert acme.employee(JUERGEN).office == "Room 4"


def test_the_history_lists_the_employees_decisions_newest_first_in_pages(db: Session, org):
    employee = Employee(organization_id=org.id, email="anna@acme.example")
    other = Employee(organization_id=org.id, email="ben@acme.example")
    db.add_all([employee, other])
    db.commit()
    run = SyncRun(connection_id=_connection_id(db, org), organization_id=org.id, mode="delta")
    db.add(run)
    db.commit()
    db.add_all(SyncDecision(run_id=run.id, kind="updated", employee_id=employee.id, email=employee.email,
                            details={"n": i}) for i in range(5))
    db.add(SyncDecision(run_id=run.id, kind="created", employee_id=other.id, email=other.email))
    db.commit()

    first = provenance.employee_decisions(db, org, employee.id, limit=3)
    assert [d.details["n"] for d in first.decisions] == [4, 3, 2]
    assert all(d.run_mode == "delta" and d.run_id == run.id for d in first.decisions)
    second = provenance.employee_decisions(db, org, employee.id, before_id=first.older, limit=3)
    assert [d.details["n"] for d in second.decisions] == [1, 0]
    assert second.older is None


def test_the_history_never_shows_another_organisations_runs(db: Session, org, other_org):
    theirs = SyncRun(connection_id=_connection_id(db, other_org), organization_id=other_org.id)
    db.add(theirs)
    db.commit()
    db.add(SyncDecision(run_id=theirs.id, kind="updated", employee_id=12345))
    db.commit()
    assert provenance.employee_decisions(db, org, 12345).decisions == []


def _connection_id(db: Session, org) -> int:
    from portal.models import Connection

    connection = Connection(organization_id=org.id, tenant_id="t")
    db.add(connection)
    db.commit()
    return connection.id
