"""Import rules decide who becomes an employee; group rules are resolved in bulk and followed on delta runs."""

from __future__ import annotations

import re

import pytest

from portal.sync.mapping import user_email
from tests.engine.support import group_id, uid


def _tenant_members(sim) -> list[dict]:
    """Enabled member users with an address: who the default scope would import."""
    users, _ = sim.tenant.users_page(0, 100_000)
    return [u for u in users if u["accountEnabled"] and u["userType"] == "Member" and user_email(u)]


def _text(value) -> str:
    return (value or "").strip().casefold()


CONDITION_CASES = {
    "equals": ({"attribute": "department", "operator": "equals", "value": " SALES "},
               lambda u: _text(u["department"]) == "sales"),
    "not_equals": ({"attribute": "city", "operator": "not_equals", "value": "Berlin"},
                   lambda u: _text(u["city"]) != "berlin"),
    "contains": ({"attribute": "jobTitle", "operator": "contains", "value": "engineer"},
                 lambda u: "engineer" in _text(u["jobTitle"])),
    "starts_with": ({"attribute": "userPrincipalName", "operator": "starts_with", "value": "svc-"},
                    lambda u: _text(u["userPrincipalName"]).startswith("svc-")),
    "ends_with": ({"attribute": "jobTitle", "operator": "ends_with", "value": "Manager"},
                  lambda u: _text(u["jobTitle"]).endswith("manager")),
    "matches": ({"attribute": "jobTitle", "operator": "matches", "value": r"^(senior|lead)\b"},
                lambda u: re.search(r"^(senior|lead)\b", (u["jobTitle"] or "").strip(), re.I) is not None),
    "is_empty": ({"attribute": "department", "operator": "is_empty"}, lambda u: not _text(u["department"])),
    "is_not_empty": ({"attribute": "mobilePhone", "operator": "is_not_empty"}, lambda u: bool(_text(u["mobilePhone"]))),
    "custom attribute": ({"attribute": "onPremisesExtensionAttributes.extensionAttribute1", "operator": "equals",
                          "value": "CC-1000"},
                         lambda u: _text((u["onPremisesExtensionAttributes"] or {}).get("extensionAttribute1"))
                         == "cc-1000"),
}


@pytest.mark.parametrize("case", CONDITION_CASES, ids=list(CONDITION_CASES))
def test_condition_operators_import_exactly_the_matching_users(acme, case):
    condition, expected = CONDITION_CASES[case]
    acme.configure(import_rules=[{"name": "Only these", "conditions": [condition]}])

    result = acme.sync()

    want = {user_email(u) for u in _tenant_members(acme.sim) if expected(u)}
    assert want, "the case must import someone"
    assert set(acme.employees()) == want
    assert result["counts"]["created"] == len(want)
    assert {d.reason for d in acme.decisions(result["run_id"], "created")} == {"matched import rule 'Only these'"}
    reasons = {d.reason for d in acme.decisions(result["run_id"], "out_of_scope")}
    assert "no import rule matched" in reasons


@pytest.mark.parametrize(("match", "expected"), [
    ("all", lambda u: _text(u["department"]) == "sales" and _text(u["country"]) == "germany"),
    ("any", lambda u: _text(u["department"]) == "legal" or _text(u["city"]) == "paris"),
])
def test_all_and_any_combine_conditions(acme, match, expected):
    values = {"all": ("department", "Sales", "country", "Germany"), "any": ("department", "Legal", "city", "Paris")}
    a, va, b, vb = values[match]
    acme.configure(import_rules=[{"name": "Combined", "match": match, "conditions": [
        {"attribute": a, "operator": "equals", "value": va}, {"attribute": b, "operator": "equals", "value": vb}]}])

    acme.sync()

    want = {user_email(u) for u in _tenant_members(acme.sim) if expected(u)}
    assert want and set(acme.employees()) == want


def _transitive_members(sim, name: str) -> set[str]:
    page, _ = sim.tenant.members_page(group_id(sim, name), 0, 100_000, transitive=True, kinds=("user",))
    return {ref.data["id"] for ref in page}


def test_member_of_counts_nested_membership_and_fixed_departments_are_given(acme):
    chain = group_id(acme.sim, "Signature - All Offices")  # All Offices > EMEA > DACH > users
    acme.configure(import_rules=[{"name": "Signature offices", "departments": {"names": ["Corporate Signature"]},
                                  "conditions": [{"attribute": "memberOf", "operator": "member_of",
                                                  "value": chain.upper()}]}])

    acme.sync()

    rows = acme.export()
    members = _transitive_members(acme.sim, "Signature - All Offices")
    want = {user_email(u) for u in _tenant_members(acme.sim) if u["id"] in members}
    assert set(rows) == want
    assert "juergen.mueller@contoso.example" in rows  # DACH: three levels down
    assert {tuple(r["departments"]) for r in rows.values()} == {("Corporate Signature",)}


def test_not_member_of_leaves_out_the_group(acme):
    sales = group_id(acme.sim, "Dept - Sales")
    acme.configure(import_rules=[{"name": "Not sales", "conditions": [
        {"attribute": "memberOf", "operator": "not_member_of", "value": sales}]}])

    acme.sync()

    members = _transitive_members(acme.sim, "Dept - Sales")
    want = {user_email(u) for u in _tenant_members(acme.sim) if u["id"] not in members}
    assert set(acme.employees()) == want
    assert "jose.garcia@contoso.example" not in want  # "Sales;Marketing" is in the Sales group


def test_first_matching_rule_is_the_reason_and_departments_add_up(acme):
    acme.configure(import_rules=[
        {"name": "Berlin", "conditions": [{"attribute": "city", "operator": "equals", "value": "Berlin"}],
         "departments": {"names": ["Berlin"]}},
        {"name": "Sales", "conditions": [{"attribute": "department", "operator": "equals", "value": "Sales"}],
         "departments": {"from_attribute": "department"}},
    ])

    result = acme.sync()

    reasons = {d.email: d.reason for d in acme.decisions(result["run_id"], "created")}
    assert reasons["juergen.mueller@contoso.example"] == "matched import rule 'Berlin'"  # both rules match
    assert reasons["katharina.vonhohenzollern@contoso.example"] == "matched import rule 'Sales'"  # MUC
    assert reasons["anna.schmidt@contoso.example"] == "matched import rule 'Berlin'"  # HR in Berlin
    rows = acme.export()
    assert rows["juergen.mueller@contoso.example"]["departments"] == ["Berlin", "Sales"]
    assert rows["anna.schmidt@contoso.example"]["departments"] == ["Berlin"]


@pytest.mark.parametrize("page_size", [25, 200])
def test_group_membership_costs_a_few_requests_whatever_the_number_of_users(acme, page_size):
    acme.sim.settings.delta_page_size = page_size
    rules = [{"name": f"Group {n}", "conditions": [{"attribute": "memberOf", "operator": "member_of",
                                                    "value": group_id(acme.sim, n)}]}
             for n in ("Signature - All Offices", "Dept - Sales", "Project Falcon")]
    # Without manager fields (their cost is counted in test_managers.py), only users and groups are read.
    acme.configure(import_rules=rules, mapping={"manager_name": "", "manager_email": ""})
    acme.sim.log.clear()

    acme.sync()

    graph = [i for i in acme.sim.log.items("graph") if not i.via]  # what went over the wire
    delta_pages = sum(1 for i in graph if i.path == "/v1.0/users/delta")
    assert delta_pages == -(-300 // page_size)
    group_listings = sum(1 for i in graph if "/transitiveMembers" in i.path)
    assert group_listings == 3  # one page of up to 999 members per group
    assert len(graph) <= delta_pages + group_listings + 2  # plus /users/$count and slack
    assert not [i for i in graph if "/memberOf" in i.path or "checkMemberGroups" in i.path]


def test_user_leaving_or_joining_a_rule_group_is_followed_by_the_next_delta_run(acme):
    falcon = group_id(acme.sim, "Project Falcon")
    acme.configure(settings={"removal_threshold": {"count": 50, "percent": 50}},
                   import_rules=[{"name": "Falcon", "conditions": [
                       {"attribute": "memberOf", "operator": "member_of", "value": falcon}]}])
    acme.sync()
    assert "juergen.mueller@contoso.example" in acme.employees()
    assert "ole.nordmann@contoso.example" not in acme.employees()

    acme.sim.tenant.remove_member(falcon, "Juergen.Mueller@contoso.example")  # no change to the user itself
    acme.sim.tenant.add_member(falcon, "Ole.Nordmann@contoso.example")
    result = acme.sync()

    assert result["mode"] == "delta"
    assert result["counts"] == {"out_of_scope": 1, "deactivated": 1, "created": 1}
    [gone] = acme.decisions(result["run_id"], "deactivated")
    assert gone.m365_id == uid(acme.sim, "Juergen.Mueller@contoso.example")
    assert gone.reason == "left the import scope: no import rule matched"
    assert acme.employee("juergen.mueller@contoso.example").status == "inactive"
    ole = acme.employee("ole.nordmann@contoso.example")  # read from Graph by id: no delta record brought him
    assert (ole.status, ole.job_title) == ("active", "Facilities Coordinator")
    assert ole.manager_name == acme.sim.tenant.manager_of("Ole.Nordmann@contoso.example")["displayName"]

    assert acme.sync()["counts"] == {}  # the new membership snapshot was kept

    acme.sim.tenant.add_member(falcon, "Juergen.Mueller@contoso.example")
    back = acme.sync()
    assert back["counts"] == {"reactivated": 1}
    assert acme.employee("juergen.mueller@contoso.example").status == "active"
