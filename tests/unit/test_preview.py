"""The preview's counting and explaining: the engine's rules and mapping applied to plain user dicts."""

from __future__ import annotations

from portal.preview import explain, judge
from portal.sync.config import parse_config

SALES_GROUP = "11111111-2222-4333-8444-555555555555"


def user(uid: str, name: str, mail: str | None, **props) -> dict:
    return {"id": uid, "displayName": name, "mail": mail, "userPrincipalName": f"{uid}@contoso.example",
            "accountEnabled": True, "userType": "Member", **props}


USERS = [
    user("u1", "Ann", "ann@contoso.example", department="Sales;Marketing", city="Paris"),
    user("u2", "Bob", "bob@contoso.example", department="Engineering", city="Berlin"),
    user("u3", "Cid", None, userPrincipalName="cid#EXT#@contoso.example", department="Sales"),  # no address
    user("u4", "Dee", "dee@contoso.example", department="Sales", accountEnabled=False),
    user("u5", "Eve", "ANN@contoso.example", department="Sales"),  # Ann's address again
    user("u6", "Fay", "fay@contoso.example", department="Legal", city="Paris"),
]


def config(*rules: dict):
    return parse_config({"import_rules": list(rules)})


def test_without_rules_every_enabled_member_with_an_address_is_counted():
    preview = judge(USERS, config(), {})
    assert preview.read == 6
    assert preview.imported == 3  # Ann, Bob, Fay; Eve has Ann's address (one employee per address)
    assert preview.no_address == 1
    assert preview.left_out == {"account disabled": 1}
    assert preview.shared_address == 1
    assert preview.total is None and not preview.partial


def test_departments_are_the_union_over_matching_rules_and_counted_per_employee():
    cfg = config(
        {"name": "Sales", "conditions": [{"attribute": "memberOf", "operator": "member_of", "value": SALES_GROUP}],
         "departments": {"from_attribute": "department", "split": ";"}},
        {"name": "Paris", "conditions": [{"attribute": "city", "operator": "equals", "value": "paris"}],
         "departments": {"names": ["Paris office"]}},
    )
    preview = judge(USERS, cfg, {"u1": frozenset({SALES_GROUP}), "u5": frozenset({SALES_GROUP})})
    assert preview.imported == 2  # Ann (both rules), Fay (Paris); Eve shares Ann's address
    assert preview.by_rule == {"Sales": 1, "Paris": 1}
    assert preview.top_departments() == [("Paris office", 2), ("Marketing", 1), ("Sales", 1)]
    assert preview.left_out == {"no import rule matched": 1, "account disabled": 1}
    assert [s.email for s in preview.sample] == ["ann@contoso.example", "fay@contoso.example"]


def test_a_sample_of_a_larger_tenant_says_how_many_users_it_is_based_on():
    preview = judge(USERS, config(), {}, total=100_000)
    assert preview.partial and preview.total == 100_000 and preview.read == 6


def test_explain_names_the_matching_rule_and_each_condition():
    cfg = config({"name": "Sales in Paris", "conditions": [
        {"attribute": "department", "operator": "contains", "value": "sales"},
        {"attribute": "city", "operator": "equals", "value": "Berlin"}]},
        {"name": "Engineers", "conditions": [{"attribute": "department", "operator": "equals", "value": "engineering"}],
         "departments": {"names": ["R&D"]}})
    ann = explain(USERS[0], cfg, frozenset())
    assert not ann.imported and ann.reason == "no import rule matched"
    first = ann.rules[0]
    assert not first.matched
    assert [(c.met, c.actual) for c in first.conditions] == [(True, "Sales;Marketing"), (False, "Paris")]
    bob = explain(USERS[1], cfg, frozenset())
    assert bob.imported and bob.verdict.rule == "Engineers" and bob.verdict.departments == ("R&D",)


def test_explain_gives_the_address_problem_before_any_rule():
    cid = explain(USERS[2], config(), frozenset())
    assert not cid.imported and cid.verdict is None
    assert cid.reason.startswith("no usable e-mail address")


def test_a_disabled_account_is_explained_as_such_even_when_a_rule_matches():
    dee = explain(USERS[3], config({"name": "Sales", "conditions": [
        {"attribute": "department", "operator": "equals", "value": "Sales"}]}), frozenset())
    assert not dee.imported and dee.reason == "account disabled"
    assert dee.rules[0].matched  # the rule itself would match: the account being off is the reason
