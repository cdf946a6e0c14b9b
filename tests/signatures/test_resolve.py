"""Which signature applies: employee override > departments in the admin's order > default, new and reply."""

from __future__ import annotations

import pytest

from portal.signatures.resolve import Membership, resolve

SALES = Membership(1, "Sales", 2)
BERLIN = Membership(2, "Berlin", 1)
UNPLACED_A = Membership(3, "Apac", None)
UNPLACED_Z = Membership(4, "Zurich", None)
EMPLOYEE = 7


@pytest.mark.parametrize(("slots", "memberships", "new", "reply", "kind"), [
    # nothing anywhere
    ({}, [SALES], None, None, "none"),
    # the default alone; reply falls back to the default's new
    ({"default": {"new": 10}}, [SALES], 10, 10, "default"),
    ({"default": {"new": 10, "reply": 11}}, [], 10, 11, "default"),
    # a department beats the default, for new and (through its new slot) for reply
    ({"default": {"new": 10, "reply": 11}, "department:1": {"new": 20}}, [SALES], 20, 20, "department"),
    ({"default": {"new": 10}, "department:1": {"new": 20, "reply": 21}}, [SALES], 20, 21, "department"),
    # the department first in the admin's order wins (Berlin at 1 over Sales at 2)
    ({"department:1": {"new": 20}, "department:2": {"new": 30}}, [SALES, BERLIN], 30, 30, "department"),
    # a placed department before unplaced ones, unplaced ones by name
    ({"department:3": {"new": 40}, "department:1": {"new": 20}}, [UNPLACED_A, SALES], 20, 20, "department"),
    ({"department:4": {"new": 50}, "department:3": {"new": 40}}, [UNPLACED_Z, UNPLACED_A], 40, 40, "department"),
    # a department without a signature is skipped
    ({"department:2": {}, "department:1": {"new": 20}}, [BERLIN, SALES], 20, 20, "department"),
    # the employee's override beats everything
    ({"default": {"new": 10}, "department:2": {"new": 30}, f"employee:{EMPLOYEE}": {"new": 90}}, [BERLIN], 90, 90,
     "override"),
    ({"department:2": {"new": 30, "reply": 31}, f"employee:{EMPLOYEE}": {"reply": 91}}, [BERLIN], 30, 91,
     "department"),
    # another employee's override does not apply
    ({"default": {"new": 10}, "employee:8": {"new": 90}}, [], 10, 10, "default"),
])
def test_precedence(slots, memberships, new, reply, kind) -> None:
    got_new = resolve("new", EMPLOYEE, memberships, slots)
    got_reply = resolve("reply", EMPLOYEE, memberships, slots)
    assert (got_new.template_id, got_reply.template_id) == (new, reply)
    assert got_new.kind == kind


def test_the_reason_names_the_department_and_its_position() -> None:
    result = resolve("reply", EMPLOYEE, [SALES, BERLIN], {"department:1": {"new": 20}})
    assert result.reason == "Department Sales at position 2 of the department order."
    assert result.position == 2 and result.department_id == 1
    assert "override" in resolve("new", EMPLOYEE, [], {f"employee:{EMPLOYEE}": {"new": 1}}).reason
    assert "replies and forwards" in resolve("reply", EMPLOYEE, [], {"default": {"new": 1}}).reason


def test_compose_must_be_new_or_reply() -> None:
    with pytest.raises(ValueError, match="compose"):
        resolve("forward", EMPLOYEE, [], {})
