"""Pausing, resuming, excluding and including several employees at once: each judged on its own."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from portal.employees import bulk
from portal.errors import InvalidValue
from portal.models import AuditEvent, Employee, Organization


def _add(db: Session, org: Organization, *statuses: str) -> list[Employee]:
    employees = [Employee(organization_id=org.id, email=f"e{i}-{status}@{org.slug}.example", status=status)
                 for i, status in enumerate(statuses)]
    db.add_all(employees)
    db.commit()
    return employees


def _statuses(db: Session, employees: list[Employee]) -> list[str]:
    db.expire_all()
    return [db.get(Employee, e.id).status for e in employees]


def test_pause_changes_the_active_and_refuses_the_others_with_a_reason_each(db, org):
    employees = _add(db, org, "active", "paused", "excluded", "inactive", "active")

    result = bulk.apply_action(db, org, [e.id for e in employees], "pause", actor="ada@acme.example")
    db.commit()

    assert _statuses(db, employees) == ["paused", "paused", "excluded", "inactive", "paused"]
    assert [e.email for e in result.changed] == [employees[0].email, employees[4].email]
    assert {r.email: r.reason for r in result.refused} == {
        employees[1].email: "sync is already paused",
        employees[2].email: "excluded from sync; include it first",
        employees[3].email: "gone from Microsoft 365, so there is no sync to pause; exclude it instead",
    }
    assert result.message == (f"Paused sync for 2 employees ({employees[0].email}, {employees[4].email}). "
                              "3 employees not changed.")


@pytest.mark.parametrize(("action", "before", "after"), [
    ("resume", ["paused", "active", "excluded"], ["active", "active", "excluded"]),
    ("exclude", ["active", "paused", "inactive", "excluded"], ["excluded", "excluded", "excluded", "excluded"]),
    ("include", ["excluded", "paused", "active"], ["active", "paused", "active"]),
])
def test_each_action_moves_only_the_employees_it_fits(db, org, action, before, after):
    employees = _add(db, org, *before)
    result = bulk.apply_action(db, org, [e.id for e in employees], action, actor="ada@acme.example")
    db.commit()
    assert _statuses(db, employees) == after
    assert len(result.changed) + len(result.refused) == len(before)


def test_one_audit_event_names_everyone_who_changed(db, org):
    employees = _add(db, org, "active", "active", "paused")
    bulk.apply_action(db, org, [e.id for e in employees], "exclude", actor="ada@acme.example")
    db.commit()
    [event] = db.exec(select(AuditEvent).where(AuditEvent.organization_id == org.id)).all()
    assert (event.actor, event.action) == ("ada@acme.example", "employee_excluded")
    assert event.details["employees"] == [e.email for e in employees]
    assert event.summary.startswith("Excluded from sync 3 employees")


def test_nothing_changed_records_nothing(db, org):
    employees = _add(db, org, "paused")
    result = bulk.apply_action(db, org, [employees[0].id], "pause", actor="ada@acme.example")
    db.commit()
    assert result.changed == [] and len(result.refused) == 1
    assert db.exec(select(AuditEvent)).all() == []


def test_another_organisations_employees_are_not_touched_nor_named(db, org, other_org):
    [theirs] = _add(db, other_org, "active")
    [ours] = _add(db, org, "active")
    result = bulk.apply_action(db, org, [theirs.id, ours.id, 999_999], "pause", actor="ada@acme.example")
    db.commit()
    assert _statuses(db, [theirs, ours]) == ["active", "paused"]
    assert result.missing == 2 and result.refused == []
    assert theirs.email not in result.message


def test_including_stops_at_the_seat_limit_and_says_why(db, org):
    org.seats = 3
    db.add(org)
    db.commit()
    _add(db, org, "active", "active")
    excluded = _add(db, org, "excluded", "excluded", "excluded")

    result = bulk.apply_action(db, org, [e.id for e in excluded], "include", actor="ada@acme.example")
    db.commit()

    assert _statuses(db, excluded) == ["active", "excluded", "excluded"]
    assert {r.reason for r in result.refused} == {bulk.NO_SEAT}


def test_unknown_actions_and_oversized_selections_are_refused(db, org):
    with pytest.raises(InvalidValue):
        bulk.apply_action(db, org, [1], "delete", actor="x")
    with pytest.raises(InvalidValue, match="at most 500"):
        bulk.apply_action(db, org, range(1, 502), "pause", actor="x")
