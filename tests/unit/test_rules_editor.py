"""The rules editor's form model: fields ↔ rules, the editing buttons, problems onto inputs."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from portal.sync.config import parse_config
from portal.views.rules import CHOOSE_GROUP, apply_op, input_problems, rules_from_config, rules_from_form

GROUP = "11111111-2222-4333-8444-555555555555"


def fields(**values: str) -> MultiDict:
    return MultiDict(values)


def two_rules():
    return rules_from_form(fields(**{
        "rules-0-key": "a", "rules-0-name": "First", "rules-0-conditions-0-operator": "equals",
        "rules-0-conditions-0-attribute": "city", "rules-0-conditions-0-value": "Paris",
        "rules-1-key": "b", "rules-1-name": "Second", "rules-1-dept_mode": "names", "rules-1-dept_names": "A\n\nB ",
    }))


def test_form_fields_become_the_configuration_document():
    rules = two_rules()
    assert [r.document() for r in rules] == [
        {"name": "First", "description": "", "match": "all", "departments": {},
         "conditions": [{"attribute": "city", "operator": "equals", "value": "Paris"}]},
        {"name": "Second", "description": "", "match": "all", "conditions": [], "departments": {"names": ["A", "B"]}},
    ]


def test_saved_rules_round_trip_through_the_form():
    cfg = parse_config({"import_rules": [
        {"name": "G", "match": "any", "conditions": [
            {"attribute": "memberOf", "operator": "member_of", "value": GROUP},
            {"attribute": "mail", "operator": "is_empty"}],
         "departments": {"from_attribute": "department", "split": ";"}}]})
    forms = rules_from_config(cfg.import_rules, {GROUP: "Dept - Sales"})
    assert forms[0].conditions[0].group_name == "Dept - Sales"
    assert parse_config({"import_rules": [f.document() for f in forms]}).import_rules == cfg.import_rules


def test_moving_removing_and_adding():
    rules = two_rules()
    assert apply_op(rules, "down:0") == "Rule “First” moved to position 2 of 2."
    assert [r.name for r in rules] == ["Second", "First"]
    assert "already last" in apply_op(rules, "down:1")
    apply_op(rules, "add_condition:1")
    assert len(rules[1].conditions) == 2
    apply_op(rules, "remove_condition:1:0")
    assert rules[1].conditions[0].attribute == ""
    apply_op(rules, "add_rule")
    assert rules[-1].name == "Rule 3"
    apply_op(rules, "remove_rule:0")
    assert [r.name for r in rules] == ["First", "Rule 3"]


@pytest.mark.parametrize("op", ["", "up", "up:9", "remove_condition:0:3", "pick:0", "explode:0"])
def test_a_button_that_does_not_fit_the_form_is_refused(op):
    with pytest.raises(ValueError):
        apply_op(two_rules(), op)


def test_picking_a_group_stores_its_id_and_name():
    rules = rules_from_form(fields(**{"rules-0-key": "a", "rules-0-name": "G",
                                      "rules-0-conditions-0-operator": "member_of"}))
    apply_op(rules, f"pick:0:0:{GROUP.upper()}:Sales: EMEA")
    condition = rules[0].conditions[0]
    assert (condition.value, condition.group_name) == (GROUP, "Sales: EMEA")
    assert rules[0].document()["conditions"] == [{"attribute": "memberOf", "operator": "member_of", "value": GROUP}]


def test_switching_operators_clears_what_no_longer_fits():
    to_group = rules_from_form(fields(**{"rules-0-key": "a", "rules-0-conditions-0-operator": "member_of",
                                         "rules-0-conditions-0-attribute": "city",
                                         "rules-0-conditions-0-value": "Paris"}))
    assert to_group[0].conditions[0].value == ""
    from_group = rules_from_form(fields(**{"rules-0-key": "a", "rules-0-conditions-0-operator": "equals",
                                           "rules-0-conditions-0-attribute": "memberOf"}))
    assert from_group[0].conditions[0].attribute == ""


def test_problems_land_on_the_input_they_concern():
    rules = rules_from_form(fields(**{"rules-0-key": "a", "rules-0-conditions-0-operator": "member_of",
                                      "rules-0-conditions-1-operator": "equals"}))
    found = input_problems(rules, {
        "import_rules[0].name": "must not be empty",
        "import_rules[0].conditions[0].value": "member_of needs a non-empty value (got missing)",
        "import_rules[0].conditions[1].attribute": "x is not a Microsoft 365 user attribute",
        "import_rules[0].departments.names[1]": "is longer than 200 characters",
        "import_rules[0].departments.from_attribute": "must name an attribute",
        "import_rules[7].name": "stale",
    })
    assert found == {
        "rules-0-name": "must not be empty",
        "rules-0-conditions-0-group_search": CHOOSE_GROUP,
        "rules-0-conditions-1-attribute": "x is not a Microsoft 365 user attribute",
        "rules-0-dept_names": "is longer than 200 characters",
        "rules-0-dept_attribute": "must name an attribute",
        "rules-form": "stale",
    }
