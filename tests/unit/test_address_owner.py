"""``address_owner``: who gets an address a Microsoft 365 user wants (the decision table in plan.py)."""

from __future__ import annotations

import pytest

from portal.sync.plan import CONFLICT, DEFER, KEEP, LINK, OWN, REUSE, EmployeeState, address_owner

ME, OTHER = "user-me", "user-other"
EMAIL = "ada@contoso.com"


def emp(id_: int, m365_id: str | None, status: str = "active", email: str = EMAIL) -> EmployeeState:
    return EmployeeState(id=id_, email=email, values={}, synced_values={}, status=status,
                         source="manual" if m365_id is None else "m365", m365_id=m365_id)


MINE = emp(1, ME, email="old@contoso.com")
MINE_SAME = emp(1, ME)
MANUAL = emp(2, None)
OTHERS = emp(2, OTHER)
LEAVERS = emp(2, OTHER, status="inactive")
UNLINKED = emp(2, None)  # a leaver's employee kept as manual ("keep" removals)


@pytest.mark.parametrize(
    ("linked", "holder", "kw", "outcome", "employee"),
    [
        # Nobody else has it: the user's own employee, or a new one.
        (None, None, {}, OWN, None),
        (MINE, None, {}, OWN, MINE),
        (MINE_SAME, MINE_SAME, {}, OWN, MINE_SAME),
        # Another user took it earlier in this run.
        (None, None, {"claimed_by": OTHER}, CONFLICT, None),
        (MINE, None, {"claimed_by": OTHER}, KEEP, MINE),
        (None, None, {"claimed_by": ME}, OWN, None),
        # A manual employee with the address is linked; a renamed employee cannot take it.
        (None, MANUAL, {}, LINK, MANUAL),
        (MINE, MANUAL, {}, KEEP, MINE),
        # The same user's employee, unlinked earlier, comes back.
        (None, UNLINKED, {"holder_last_user": ME}, LINK, UNLINKED),
        # A leaver's employee is another person: reset, never inherited.
        (None, LEAVERS, {}, REUSE, LEAVERS),
        (None, UNLINKED, {"holder_last_user": OTHER}, REUSE, UNLINKED),
        (MINE, LEAVERS, {}, KEEP, MINE),
        # A live holder whose user the run has not met yet may still give it up: wait.
        (None, OTHERS, {"holder_settled": False}, DEFER, None),
        (MINE, OTHERS, {"holder_settled": False}, DEFER, MINE),
        # ... but not past the end of the run, nor once its user was planned.
        (None, OTHERS, {"holder_settled": False, "final": True}, CONFLICT, None),
        (None, OTHERS, {"holder_settled": True}, CONFLICT, None),
        (MINE, OTHERS, {"holder_settled": True}, KEEP, MINE),
        (None, emp(2, OTHER, status="paused"), {"holder_settled": False, "final": True}, CONFLICT, None),
    ],
)
def test_who_owns_an_address(linked, holder, kw, outcome, employee):
    claim = address_owner(ME, EMAIL, linked, holder, **kw)
    assert (claim.outcome, claim.employee) == (outcome, employee)
    if outcome in (CONFLICT, KEEP, REUSE):
        assert EMAIL in claim.reason


def test_a_reused_employee_takes_only_the_new_users_values():
    from portal.sync.config import SyncSettings
    from portal.sync.plan import plan_user

    leaver = EmployeeState(id=2, email=EMAIL, status="inactive", m365_id=OTHER,
                           values={"first_name": "Old", "job_title": "CFO", "fax": "+1 typed", "custom.pin": "7"},
                           synced_values={"first_name": "Old", "job_title": "CFO"})
    # overwrite off and empty values kept: neither may let the leaver's data survive a reset.
    settings = SyncSettings(overwrite_manual=False, empty_values="keep")
    result = plan_user({"email": EMAIL, "first_name": "New", "job_title": ""}, ("Sales",), leaver, settings, ME,
                       reset=True)
    assert result.decisions == ("replaced",) and result.link and result.reset and result.status == "active"
    assert result.changes == {"first_name": ("Old", "New"), "job_title": ("CFO", ""), "fax": ("+1 typed", ""),
                              "custom.pin": ("7", "")}
    assert result.departments == ("Sales",)
