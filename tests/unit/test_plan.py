"""The per-user plan: create, link, update, keep hand-typed values, hold paused employees, removals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.sync.config import RemovalThreshold, SyncSettings
from portal.sync.plan import EmployeeState, Plan, apply_plan, plan_user, removal_plan

UID = "7d54cb02-aaa3-4016-9f9c-a4b49422dd9b"
EMAIL = "ada@contoso.com"


def incoming(**values):
    return {"email": EMAIL, **values}


def employee(values=None, synced=None, **kw):
    defaults = dict(id=1, email=EMAIL, status="active", source="m365", m365_id=UID)
    return EmployeeState(values=values or {}, synced_values=synced if synced is not None else {}, **{**defaults, **kw})


def settings(**kw):
    return SyncSettings(**kw)


def plan(new, existing, departments=(), **kw):
    return plan_user(new, departments, existing, settings(**kw), UID)


def replan(new, existing, first, departments=(), **kw):
    """Plan again over the employee as the first plan left it."""
    return plan_user(new, departments, apply_plan(existing, first, UID), settings(**kw), UID)


# -- new users --------------------------------------------------------------------------------------------


def test_a_new_user_is_created_with_every_value_and_its_departments():
    result = plan_user(incoming(first_name="Ada", fax=""), ("Sales",), None, settings())
    assert result.action == "create" and result.decisions == ("created",)
    assert result.changes == {"email": ("", EMAIL), "first_name": ("", "Ada")}
    # The departments are a synced field too, so a later run can tell one removed by hand.
    assert result.new_synced_values == {"email": EMAIL, "first_name": "Ada", "fax": "", "departments": "sales"}
    assert result.departments == ("Sales",) and result.status == "active" and result.link


def test_a_new_user_is_skipped_when_import_of_new_users_is_off():
    result = plan_user(incoming(first_name="Ada"), (), None, settings(import_new_users=False))
    assert (result.action, result.decisions, result.reason) == ("skip", ("skipped",), "import of new users is off")
    assert result.changes == {}


def test_a_created_employee_is_unchanged_on_the_next_run():
    new = incoming(first_name="Ada", job_title="Analyst", fax="")
    first = plan_user(new, ("Sales", "Ops"), None, settings())
    second = replan(new, None, first, ("Sales", "Ops"))
    assert (second.action, second.decisions) == ("none", ())


# -- the field policy ----------------------------------------------------------------------------------------

MISSING = object()


@pytest.mark.parametrize(
    ("overwrite", "empty", "current", "synced", "m365", "written", "decision", "synced_after"),
    [
        # Graph changed, nobody touched the field: it follows Graph.
        (False, "keep", "Analyst", "Analyst", "Lead", "Lead", "updated", "Lead"),
        # A hand-typed job title survives when overwrite is off; both values are recorded.
        (False, "keep", "Boss", "Analyst", "Lead", None, "kept_manual", "Lead"),
        # Graph unchanged since the last sync: the hand-typed value stays, quietly.
        (False, "keep", "Boss", "Analyst", "Analyst", None, None, "Analyst"),
        # Someone typed what Graph now says: nothing to write.
        (False, "keep", "Lead", "Analyst", "Lead", None, None, "Lead"),
        # Overwrite on: Graph wins and the hand-typed value is reported.
        (True, "keep", "Boss", "Analyst", "Analyst", "Analyst", "overwrote_manual", "Analyst"),
        (True, "keep", "Boss", "Analyst", "Lead", "Lead", "overwrote_manual", "Lead"),
        (True, "keep", "Analyst", "Analyst", "Lead", "Lead", "updated", "Lead"),
        # Graph emptied it: "keep" leaves value and synced value alone, "clear" clears.
        (False, "keep", "Analyst", "Analyst", "", None, None, "Analyst"),
        (True, "keep", "Boss", "Analyst", "", None, None, "Analyst"),
        (False, "clear", "Analyst", "Analyst", "", "", "updated", ""),
        (False, "clear", "Boss", "Analyst", "", None, "kept_manual", ""),
        (True, "clear", "Boss", "Analyst", "", "", "overwrote_manual", ""),
        # Cleared by hand counts as typed by hand.
        (False, "keep", "", "Analyst", "Lead", None, "kept_manual", "Lead"),
        (True, "keep", "", "Analyst", "Lead", "Lead", "overwrote_manual", "Lead"),
        # Never synced before (e.g. the field was just mapped).
        (False, "keep", "", MISSING, "Lead", "Lead", "updated", "Lead"),
        (False, "keep", "Boss", MISSING, "Lead", None, "kept_manual", "Lead"),
        (True, "keep", "Boss", MISSING, "Lead", "Lead", "overwrote_manual", "Lead"),
        (False, "keep", "Boss", MISSING, "", None, None, MISSING),
        (False, "clear", "", MISSING, "", None, None, ""),
    ],
)
def test_field_policy(overwrite, empty, current, synced, m365, written, decision, synced_after):
    existing = employee({"job_title": current}, {"email": EMAIL} | ({} if synced is MISSING else {"job_title": synced}))
    new = incoming(job_title=m365)
    result = plan(new, existing, overwrite_manual=overwrite, empty_values=empty)
    assert result.changes.get("job_title", (None, None))[1] == written
    assert result.decisions == ((decision,) if decision else ())
    assert result.new_synced_values.get("job_title", MISSING) == synced_after
    if decision == "kept_manual":
        assert result.manual_kept == {"job_title": (current, m365)}
    if decision == "overwrote_manual":
        assert result.manual_overwritten == {"job_title": (current, m365)}
    # A second plan over the result is unchanged.
    second = replan(new, existing, result, overwrite_manual=overwrite, empty_values=empty)
    assert (second.action, second.decisions) == ("none", ())


def test_several_fields_give_several_decision_kinds_in_a_fixed_order():
    existing = employee(
        {"job_title": "Boss", "city": "Oslo", "phone": "1"},
        {"email": EMAIL, "job_title": "Analyst", "city": "Oslo", "phone": "2"},
    )
    result = plan(incoming(job_title="Lead", city="Bergen", phone="3"), existing)
    assert result.decisions == ("updated", "kept_manual")
    assert result.changes == {"city": ("Oslo", "Bergen")}
    assert result.manual_kept == {"job_title": ("Boss", "Lead"), "phone": ("1", "3")}


def test_custom_fields_follow_the_same_policy():
    existing = employee({"custom.team": "Rockets"}, {"email": EMAIL, "custom.team": "Engines"})
    result = plan(incoming(**{"custom.team": "Wheels"}), existing)
    assert result.manual_kept == {"custom.team": ("Rockets", "Wheels")}


def test_the_email_always_follows_microsoft_365():
    existing = employee({}, {"email": "old@contoso.com"}, email="ada.old@contoso.com")
    result = plan(incoming(), existing)
    assert result.changes == {"email": ("ada.old@contoso.com", EMAIL)} and result.decisions == ("updated",)
    assert apply_plan(existing, result, UID).email == EMAIL


def test_an_unchanged_user_writes_nothing():
    existing = employee({"job_title": "Analyst"}, {"email": EMAIL, "job_title": "Analyst"})
    result = plan(incoming(job_title="Analyst"), existing)
    assert result == Plan(action="none", new_synced_values=existing.synced_values)


# -- linking, reactivating, holding --------------------------------------------------------------------------


def test_a_hand_made_employee_matched_by_email_is_linked_and_its_typed_values_are_manual():
    existing = employee(
        {"job_title": "Boss", "city": "Oslo", "first_name": ""},
        {"job_title": "stale"},  # ignored: a hand-made employee was never synced
        source="manual",
        m365_id=None,
    )
    result = plan(incoming(job_title="Lead", city="Oslo", first_name="Ada"), existing)
    assert result.link and result.action == "update"
    assert result.decisions == ("linked", "updated", "kept_manual")
    assert result.changes == {"first_name": ("", "Ada")}
    assert result.manual_kept == {"job_title": ("Boss", "Lead")}
    assert result.new_synced_values == {"email": EMAIL, "job_title": "Lead", "city": "Oslo", "first_name": "Ada",
                                        "departments": ""}
    linked = apply_plan(existing, result, UID)
    assert (linked.source, linked.m365_id) == ("m365", UID)


def test_linking_an_identical_employee_is_just_linked():
    existing = employee({"city": "Oslo"}, {}, source="manual", m365_id=None)
    result = plan(incoming(city="Oslo"), existing)
    assert (result.action, result.decisions) == ("update", ("linked",))


def test_an_employee_linked_to_an_old_user_is_relinked_keeping_its_sync_history():
    existing = employee({"job_title": "Analyst"}, {"email": EMAIL, "job_title": "Analyst"}, m365_id="old-user")
    result = plan(incoming(job_title="Lead"), existing)
    assert result.decisions == ("linked", "updated") and result.changes == {"job_title": ("Analyst", "Lead")}


def test_without_a_user_id_only_an_unlinked_employee_is_linked():
    linked = employee({}, {"email": EMAIL}, m365_id="someone")
    assert not plan_user(incoming(), (), linked, settings()).link
    assert plan_user(incoming(), (), employee({}, {}, source="manual", m365_id=None), settings()).link


def test_an_inactive_employee_whose_user_is_back_is_reactivated():
    existing = employee({"job_title": "Analyst"}, {"email": EMAIL, "job_title": "Analyst"}, status="inactive")
    result = plan(incoming(job_title="Lead"), existing)
    assert result.decisions == ("reactivated", "updated") and result.status == "active"
    assert replan(incoming(job_title="Lead"), existing, result).decisions == ()


@pytest.mark.parametrize("status", ["paused", "excluded"])
def test_paused_and_excluded_employees_are_left_alone_and_only_reported_when_graph_differs(status):
    existing = employee({"job_title": "Boss"}, {"email": EMAIL, "job_title": "Analyst"}, status=status)
    quiet = plan(incoming(job_title="Analyst"), existing)
    assert quiet == Plan(action="none", new_synced_values=existing.synced_values)
    changed = plan(incoming(job_title="Lead"), existing)
    assert (changed.action, changed.decisions) == ("skip", (status,))
    assert changed.changes == {} and changed.new_synced_values == existing.synced_values
    assert changed.pending == {"job_title": ("Analyst", "Lead")}


def test_a_held_employee_is_quiet_when_graph_only_emptied_a_kept_field():
    existing = employee({"job_title": "Analyst"}, {"email": EMAIL, "job_title": "Analyst"}, status="paused")
    assert plan(incoming(job_title=""), existing).decisions == ()
    assert plan(incoming(job_title=""), existing, empty_values="clear").decisions == ("paused",)


# -- departments ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("department_sync", "before", "after", "link", "departments", "decisions"),
    [
        ("always", {"Sales"}, ("Sales", "Marketing"), False, ("Sales", "Marketing"), ("updated",)),
        ("always", {"Sales", "Marketing"}, ("marketing", "SALES"), False, None, ()),  # same set
        ("always", {"Sales"}, (), False, (), ("updated",)),  # left every department rule
        ("on_create", {"Sales"}, ("Sales", "Marketing"), False, None, ()),
        ("on_create", set(), ("Sales",), True, ("Sales",), ("linked", "updated")),
    ],
)
def test_department_sync(department_sync, before, after, link, departments, decisions):
    existing = employee({}, {"email": EMAIL}, departments_from_sync=frozenset(before), m365_id=None if link else UID)
    result = plan(incoming(), existing, after, department_sync=department_sync)
    assert (result.departments, result.decisions) == (departments, decisions)
    assert replan(incoming(), existing, result, after, department_sync=department_sync).decisions == ()


# -- idempotence -----------------------------------------------------------------------------------------------

FIELDS = ("job_title", "city", "custom.team")
texts = st.sampled_from(["", "A", "B"])
field_values = st.dictionaries(st.sampled_from(FIELDS), texts)
departments = st.lists(st.sampled_from(["Sales", "Ops", "R&D"]), unique=True, max_size=3).map(tuple)
existing_employees = st.none() | st.builds(
    EmployeeState,
    id=st.just(1),
    email=st.sampled_from([EMAIL, "old@contoso.com"]),
    values=field_values,
    synced_values=field_values,
    status=st.sampled_from(["active", "inactive"]),
    source=st.sampled_from(["m365", "manual"]),
    m365_id=st.sampled_from([UID, None, "old-user"]),
    departments_from_sync=st.frozensets(st.sampled_from(["Sales", "sales", "Ops", "Legal"])),
)
all_settings = st.builds(
    SyncSettings,
    overwrite_manual=st.booleans(),
    empty_values=st.sampled_from(["keep", "clear"]),
    department_sync=st.sampled_from(["always", "on_create"]),
)


@given(existing_employees, st.fixed_dictionaries({f: texts for f in FIELDS}), departments, all_settings)
def test_applying_a_plan_then_planning_again_yields_no_decisions(existing, values, verdict_departments, config):
    new = incoming(**values)
    first = plan_user(new, verdict_departments, existing, config, UID)
    after = apply_plan(existing, first, UID)
    second = plan_user(new, verdict_departments, after, config, UID)
    assert (second.action, second.decisions) == ("none", ())


@given(existing_employees, st.fixed_dictionaries({f: texts for f in FIELDS}), all_settings)
def test_kept_values_and_empty_values_are_never_written(existing, values, config):
    result = plan_user(incoming(**values), (), existing, config, UID)
    assert set(result.manual_kept).isdisjoint(result.changes)
    if not config.overwrite_manual:
        assert result.manual_overwritten == {}
    if config.empty_values == "keep" and existing is not None:
        # Leaving every department rule is no emptied value: the departments follow the rules.
        assert all(after != "" for name, (_, after) in result.changes.items() if name != "departments")


# -- removals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidates", "employees", "count", "percent", "expected"),
    [
        (0, 0, 50, 10, "apply"),  # nothing to remove, even with no employees at all
        (0, 100, 0, 0, "apply"),
        (5, 100, 50, 10, "apply"),
        (10, 100, 50, 10, "apply"),  # exactly 10 % is not above it
        (11, 100, 50, 10, "hold"),  # above the percentage
        (50, 10_000, 50, 10, "apply"),
        (51, 10_000, 50, 10, "hold"),  # above the count
        (1, 10, 50, 10, "apply"),
        (1, 9, 50, 10, "hold"),  # small connections: the percentage bites first
        (1, 100, 0, 10, "hold"),  # count 0: every removal needs approval
        (1, 1000, 50, 0, "hold"),
        (3, 3, 50, 100, "apply"),  # 100 %: only the count limits
        (4, 3, 50, 100, "hold"),  # more candidates than employees cannot be right
        (1, 0, 50, 100, "hold"),
        (2, 16, 50, 12.5, "apply"),
        (3, 16, 50, 12.5, "hold"),
    ],
)
def test_removal_threshold(candidates, employees, count, percent, expected):
    config = SyncSettings(removal_threshold=RemovalThreshold(count=count, percent=percent))
    assert removal_plan(candidates, employees, config) == expected
