"""Import rules: who becomes an employee, why, and in which departments."""

from __future__ import annotations

import pytest

from portal.sync.config import SyncSettings, parse_config
from portal.sync.rules import RuleSet, Verdict

SALES_GROUP = "0f5a3c2e-7d1b-4e9a-8c6f-2b4d6e8f0a1c"
ALUMNI_GROUP = "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4"

ADA = {
    "id": "u1",
    "mail": "ada@contoso.com",
    "userPrincipalName": "ada@contoso.com",
    "accountEnabled": True,
    "userType": "Member",
    "department": "  Sales ",
    "jobTitle": "Account Manager",
    "city": None,
    "country": "Germany",
    "businessPhones": ["+49 30 1234"],
    "assignedLicenses": [],
    "onPremisesExtensionAttributes": {"extensionAttribute1": "SIG", "extensionAttribute2": None},
}


def rule_set(rules, **settings):
    cfg = parse_config({"import_rules": rules, "settings": settings})
    return RuleSet(cfg.import_rules, cfg.settings)


def only(attribute, operator, value=None, name="Rule"):
    condition = {"attribute": attribute, "operator": operator}
    if value is not None:
        condition["value"] = value
    return [{"name": name, "conditions": [condition]}]


def test_without_rules_everyone_is_imported():
    assert rule_set([]).evaluate(ADA) == Verdict(True, "no import rules", None, ())


def test_users_without_a_licence_are_imported():
    assert rule_set([]).evaluate({**ADA, "assignedLicenses": []}).imported


@pytest.mark.parametrize(
    ("user", "settings", "imported", "reason"),
    [
        ({"accountEnabled": False}, {}, False, "account disabled"),
        ({"accountEnabled": False}, {"include_disabled": True}, True, "no import rules"),
        ({"accountEnabled": None}, {}, True, "no import rules"),  # unknown (e.g. a partial delta record): enabled
        ({"userType": "Guest"}, {}, False, "guest user"),
        ({"userType": "guest"}, {}, False, "guest user"),
        ({"userPrincipalName": "adele_adatum.com#EXT#@contoso.com", "userType": None}, {}, False, "guest user"),
        ({"userPrincipalName": "adele_adatum.com#ext#@contoso.com"}, {}, False, "guest user"),
        ({"userType": "Guest"}, {"include_guests": True}, True, "no import rules"),
        ({"userType": "Guest", "accountEnabled": False}, {"include_guests": True}, False, "account disabled"),
        ({"userType": "Guest", "accountEnabled": False}, {}, False, "account disabled"),
    ],
)
def test_disabled_accounts_and_guests_are_out_of_scope_unless_included(user, settings, imported, reason):
    verdict = rule_set([], **settings).evaluate({**ADA, **user})
    assert (verdict.imported, verdict.reason) == (imported, reason)


def test_scope_is_checked_before_the_rules():
    rules = only("country", "equals", "Germany")
    assert rule_set(rules).evaluate({**ADA, "userType": "Guest"}).reason == "guest user"


@pytest.mark.parametrize(
    ("attribute", "operator", "value", "user", "imported"),
    [
        ("department", "equals", "sales", {}, True),  # trimmed, case-insensitive
        ("department", "equals", "Sale", {}, False),
        ("department", "not_equals", "Marketing", {}, True),
        ("department", "not_equals", "SALES", {}, False),
        ("city", "not_equals", "Berlin", {}, True),  # a missing value is not Berlin
        ("jobTitle", "contains", "MANAGER", {}, True),
        ("jobTitle", "contains", "director", {}, False),
        ("jobTitle", "starts_with", "account", {}, True),
        ("jobTitle", "ends_with", "manager", {}, True),
        ("jobTitle", "ends_with", "account", {}, False),
        ("city", "is_empty", None, {}, True),
        ("city", "is_empty", None, {"city": "   "}, True),
        ("faxNumber", "is_empty", None, {}, True),  # not in the user at all
        ("country", "is_empty", None, {}, False),
        ("country", "is_not_empty", None, {}, True),
        ("city", "is_not_empty", None, {}, False),
        ("jobTitle", "matches", r"^account\s+man", {}, True),  # case-insensitive search
        ("jobTitle", "matches", "manager$", {}, True),
        ("jobTitle", "matches", "^manager", {}, False),
        ("accountEnabled", "equals", "true", {}, True),
        ("accountEnabled", "equals", True, {}, True),
        ("accountEnabled", "equals", "TRUE", {}, True),
        ("accountEnabled", "equals", "false", {"accountEnabled": False}, True),  # with include_disabled
        ("userType", "equals", "Member", {}, True),
        ("businessPhones[0]", "starts_with", "+49", {}, True),
        ("businessPhones[0]", "starts_with", "+44", {}, False),
        ("onPremisesExtensionAttributes.extensionAttribute1", "equals", "sig", {}, True),
        ("onPremisesExtensionAttributes.extensionAttribute2", "is_empty", None, {}, True),
        ("employeeId", "equals", 1234, {"employeeId": "1234"}, True),
        ("manager.department", "equals", "Sales", {"manager": {"department": "sales"}}, True),
        ("manager.department", "equals", "Sales", {}, False),
    ],
)
def test_each_operator_compares_like_graph_filters(attribute, operator, value, user, imported):
    verdict = rule_set(only(attribute, operator, value), include_disabled=True).evaluate({**ADA, **user})
    assert verdict.imported is imported


@pytest.mark.parametrize(
    ("operator", "groups", "imported"),
    [
        ("member_of", frozenset({SALES_GROUP}), True),  # a user in a nested group: the engine resolves it
        ("member_of", frozenset({ALUMNI_GROUP}), False),
        ("member_of", frozenset(), False),
        ("not_member_of", frozenset({ALUMNI_GROUP}), True),
        ("not_member_of", frozenset({SALES_GROUP}), False),
    ],
)
def test_group_membership(operator, groups, imported):
    rules = only("memberOf", operator, SALES_GROUP.upper())
    assert rule_set(rules).evaluate(ADA, groups).imported is imported


@pytest.mark.parametrize(
    ("match", "user", "imported"),
    [
        ("all", {}, True),
        ("all", {"country": "France"}, False),
        ("any", {"country": "France"}, True),
        ("any", {"country": "France", "department": "Ops"}, False),
    ],
)
def test_all_or_any_conditions(match, user, imported):
    rules = [
        {
            "name": "German sales",
            "match": match,
            "conditions": [
                {"attribute": "country", "operator": "equals", "value": "Germany"},
                {"attribute": "department", "operator": "equals", "value": "Sales"},
            ],
        }
    ]
    assert rule_set(rules).evaluate({**ADA, **user}).imported is imported


def test_a_rule_without_conditions_matches_everyone():
    verdict = rule_set([{"name": "Everyone", "match": "any"}]).evaluate(ADA)
    assert verdict == Verdict(True, "matched import rule 'Everyone'", "Everyone", ())


def test_no_matching_rule_means_not_imported():
    verdict = rule_set(only("country", "equals", "France")).evaluate(ADA)
    assert verdict == Verdict(False, "no import rule matched", None, ())


def test_the_first_matching_rule_is_the_reason():
    rules = [
        *only("country", "equals", "France", name="France"),
        *only("country", "equals", "Germany", name="Germany"),
        *only("department", "equals", "Sales", name="Sales"),
    ]
    verdict = rule_set(rules).evaluate(ADA)
    assert (verdict.rule, verdict.reason) == ("Germany", "matched import rule 'Germany'")


@pytest.mark.parametrize(
    ("department", "split", "departments"),
    [
        ("Sales;Marketing", ";", ("Sales", "Marketing")),  # one attribute, two departments
        (" Sales ; ; Marketing ;", ";", ("Sales", "Marketing")),  # trimmed, empty parts dropped
        ("Sales;sales;SALES", ";", ("Sales",)),  # the first spelling wins
        ("Sales;Marketing", "", ("Sales;Marketing",)),  # no separator: kept whole
        ("Sales, Marketing", ",", ("Sales", "Marketing")),
        (None, ";", ()),  # no value: imported, but no department
        ("   ", ";", ()),
        ("x" * 250, ";", ("x" * 200,)),  # cut to the department name size
    ],
)
def test_departments_from_an_attribute(department, split, departments):
    rules = [{"name": "All", "departments": {"from_attribute": "department", "split": split}}]
    verdict = rule_set(rules).evaluate({**ADA, "department": department})
    assert verdict.imported and verdict.departments == departments


def test_departments_are_the_union_over_all_matching_rules_in_rule_order():
    rules = [
        {
            "name": "Germany",
            "conditions": [{"attribute": "country", "operator": "equals", "value": "Germany"}],
            "departments": {"names": ["DACH", "Sales"]},
        },
        {
            "name": "France",
            "conditions": [{"attribute": "country", "operator": "equals", "value": "France"}],
            "departments": {"names": ["France"]},
        },
        {"name": "No departments", "conditions": []},
        {"name": "From Graph", "departments": {"from_attribute": "department", "split": ";"}},
        {"name": "Everyone", "departments": {"names": ["All staff", "dach"]}},
    ]
    verdict = rule_set(rules).evaluate({**ADA, "department": "sales;Field"})
    assert verdict == Verdict(True, "matched import rule 'Germany'", "Germany", ("DACH", "Sales", "Field", "All staff"))


def test_fixed_department_names_come_from_the_first_matching_rule_alone():
    rules = [{"name": "Sales", "departments": {"names": ["Sales"]}}]
    assert rule_set(rules).evaluate(ADA).departments == ("Sales",)


def test_a_rule_set_is_reusable_across_users():
    rules = rule_set(only("department", "equals", "Sales"))
    results = [rules.evaluate({**ADA, "department": name}).imported for name in ("Sales", "Ops", "sales ")]
    assert results == [True, False, True]


def test_settings_default_when_built_directly():
    assert RuleSet((), SyncSettings()).evaluate({"accountEnabled": False}).reason == "account disabled"
