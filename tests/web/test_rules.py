"""Step 3, import and department rules: the editor, the group picker and the live preview.

Against the real simulator over HTTPS (a 300-user tenant with department groups and a nested
signature chain) and a real database; every POST carries the CSRF token the page gave.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from html import unescape

import pytest
from sqlmodel import select

from config import Config
from portal import connections
from portal.db import get_engine
from portal.jobs import sync_job
from portal.models import AuditEvent, Connection, Department, Employee, EmployeeDepartment, Organization
from portal.sync.engine import create_run
from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings
from tests.web.conftest import (
    OTHER_ADMIN_EMAIL,
    OTHER_ADMIN_PASSWORD,
    AuthActions,
    hx,
    read_csrf_token,
    simulator_config,
)

TENANT_USERS = 300
SOME_ID = "00000000-0000-4000-8000-000000000000"  # a well-formed Graph object id


@pytest.fixture(scope="module")
def sim_server(tmp_path_factory) -> Iterator[SimulatorServer]:
    """One HTTPS simulator for this module; tests only read the tenant (or reset what they change)."""
    with SimulatorServer(Simulator(SimulatorSettings(users=TENANT_USERS, seed=7)),
                         state_dir=tmp_path_factory.mktemp("rules-sim")) as server:
        yield server


@pytest.fixture
def config(clean_db: str, sim_server: SimulatorServer) -> Config:
    """The portal pointed at the simulator's sign-in, Graph and CA."""
    return simulator_config(clean_db, sim_server)


@pytest.fixture
def connection(config: Config, db, org: Organization, sim_server: SimulatorServer) -> Connection:
    """``org`` connected to the simulator's tenant with application permissions."""
    sim_server.sim.tenant.reset()
    return connections.connect_app_only(config, get_engine(config.database_url), org,
                                        sim_server.sim.settings.tenant_id, "test")


def group_id(sim_server: SimulatorServer, name: str) -> str:
    groups, _ = sim_server.sim.tenant.groups_page(0, 999)
    return next(g["id"] for g in groups if g["displayName"] == name)


def rule_fields(*rules: dict) -> dict[str, str]:
    """The editor's form fields for these rules, as the page names them."""
    data = {"rules_form": "1"}
    for i, rule in enumerate(rules):
        p = f"rules-{i}-"
        data.update({p + "key": f"k{i}", p + "name": rule["name"], p + "description": rule.get("description", ""),
                     p + "match": rule.get("match", "all"), p + "dept_mode": rule.get("dept_mode", "none"),
                     p + "dept_names": rule.get("dept_names", ""), p + "dept_attribute": rule.get("dept_attribute", ""),
                     p + "dept_split": rule.get("dept_split", "")})
        for j, (attribute, operator, value) in enumerate(rule.get("conditions", [])):
            c = f"{p}conditions-{j}-"
            data.update({c + "attribute": attribute, c + "operator": operator, c + "value": value})
    return data


def post(client, path: str, data: dict, htmx: bool = True):
    token = read_csrf_token(client, "/settings/rules/")
    if htmx:
        return client.post(path, data=data, headers=hx(token))
    return client.post(path, data={**data, "csrf_token": token})


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def saved_rules(db, connection: Connection) -> list[dict]:
    db.expire_all()
    return db.get(Connection, connection.id).import_rules


def test_without_a_connection_the_page_says_to_connect_first(signed_in):
    page = signed_in.get("/settings/rules/")
    assert page.status_code == 200
    assert "Connect your Microsoft 365 tenant first" in text_of(page)


def test_the_editor_shows_the_saved_rules_with_group_names(signed_in, config, connection, sim_server):
    sales = group_id(sim_server, "Dept - Sales")
    rule = {"name": "Sales team", "description": "Everyone selling", "departments": {"names": ["Sales"]},
            "conditions": [{"attribute": "memberOf", "operator": "member_of", "value": sales}]}
    connections.import_connection_config(get_engine(config.database_url), connection,
                                         json.dumps({"import_rules": [rule]}))
    page = signed_in.get("/settings/rules/")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'value="Sales team"' in body and "Everyone selling" in body
    assert "Dept - Sales" in body and sales in body  # the name shown, the id stored
    assert 'hx-trigger="load"' in body and 'aria-busy="true"' in body  # the preview loads lazily


def test_anonymous_visitors_are_sent_to_sign_in(client, admin):
    for path in ("/settings/rules/", "/settings/rules/groups?rule=0&condition=0&group_search=a",
                 "/settings/rules/users?user_search=a"):
        response = client.get(path)
        assert response.status_code == 302 and "/signin" in response.headers["Location"]
    response = client.post("/settings/rules/", headers=hx())
    assert response.status_code in (400, 401)  # CSRF first, or the sign-in redirect; never the page


@pytest.mark.parametrize("path", ["/settings/rules/", "/settings/rules/edit", "/settings/rules/preview",
                                  "/settings/rules/explain"])
def test_every_post_without_the_csrf_token_is_refused(signed_in, connection, db, path):
    before = saved_rules(db, connection)
    response = signed_in.post(path, data={**rule_fields({"name": "x"}), "op": "add_rule", "explain_user": SOME_ID})
    assert response.status_code == 400
    assert saved_rules(db, connection) == before


def test_saving_rules_stores_them_and_is_audited(signed_in, db, connection, sim_server):
    sales = group_id(sim_server, "Dept - Sales")
    data = rule_fields(
        {"name": "Sales", "description": "Sales people", "conditions": [("memberOf", "member_of", sales)],
         "dept_mode": "names", "dept_names": "Sales\nRevenue"},
        {"name": "Engineers", "match": "any", "conditions": [("department", "equals", "Engineering"),
                                                               ("jobTitle", "contains", "engineer")],
         "dept_mode": "attribute", "dept_attribute": "department", "dept_split": ";"})
    response = post(signed_in, "/settings/rules/", data, htmx=False)
    assert response.status_code == 303
    rules = saved_rules(db, connection)
    assert [r["name"] for r in rules] == ["Sales", "Engineers"]
    assert rules[0]["conditions"] == [{"attribute": "memberOf", "operator": "member_of", "value": sales}]
    assert rules[0]["departments"] == {"names": ["Sales", "Revenue"]}
    assert rules[1]["match"] == "any"
    assert rules[1]["departments"] == {"from_attribute": "department", "split": ";"}
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "rules_changed")).all()
    assert len(events) == 1 and events[0].actor == "ada@acme.example"


def test_bad_input_comes_back_inline_and_keeps_every_edit(signed_in, db, connection):
    before = saved_rules(db, connection)
    data = rule_fields(
        {"name": "Typed with care", "description": "A long explanation nobody wants to type twice",
         "conditions": [("jobTitel", "equals", "Boss"), ("department", "matches", "([")]},
        {"name": "Second", "conditions": [("memberOf", "member_of", "")]})
    response = post(signed_in, "/settings/rules/", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 200  # htmx swaps the form back in place
    assert 'value="Typed with care"' in body and "A long explanation nobody wants to type twice" in body
    assert 'id="rules-0-conditions-0-attribute"' in body and 'value="jobTitel"' in body
    assert re.search(r'id="rules-0-conditions-0-attribute"[^>]*aria-invalid="true"', body)
    assert "did you mean jobTitle?" in body
    assert "Rule 1 “Typed with care”, condition 1, attribute: jobTitel is not a Microsoft 365 user attribute" in body
    assert re.search(r'id="rules-0-conditions-1-value"[^>]*aria-invalid="true"', body)
    assert "Choose a group" in body  # the group picker says what to do
    assert saved_rules(db, connection) == before
    full = post(signed_in, "/settings/rules/", data, htmx=False)
    assert full.status_code == 422 and 'value="Typed with care"' in full.get_data(as_text=True)


def test_rules_and_conditions_are_added_removed_and_reordered_without_losing_edits(signed_in, connection):
    data = rule_fields({"name": "First", "description": "one", "conditions": [("city", "equals", "Paris")]},
                       {"name": "Second", "conditions": [("country", "equals", "France")]})
    moved = post(signed_in, "/settings/rules/edit", {**data, "op": "up:1"})
    body = moved.get_data(as_text=True)
    assert moved.status_code == 200 and body.lstrip().startswith('<div id="rules-editor">')
    assert body.index('value="Second"') < body.index('value="First"')
    assert 'Move up<span class="visually-hidden"> rule “Second”</span>' in body
    assert "moved to position 1 of 2" in body  # announced in the status region (out of band)
    assert 'id="rule-k1-up"' in body  # the moved rule keeps its button id, so focus stays on it

    added = post(signed_in, "/settings/rules/edit", {**data, "op": "add_condition:0"})
    body = added.get_data(as_text=True)
    assert 'id="rules-0-conditions-1-attribute"' in body and 'value="Paris"' in body

    removed = post(signed_in, "/settings/rules/edit", {**data, "op": "remove_condition:0:0"})
    assert 'value="Paris"' not in removed.get_data(as_text=True)
    assert "No conditions: this rule matches every user." in text_of(removed)

    new_rule = post(signed_in, "/settings/rules/edit", {**data, "op": "add_rule"})
    assert 'id="rules-2-name"' in new_rule.get_data(as_text=True)

    gone = post(signed_in, "/settings/rules/edit", {**data, "op": "remove_rule:0"})
    body = gone.get_data(as_text=True)
    assert 'value="First"' not in body and 'value="Second"' in body

    first_up = post(signed_in, "/settings/rules/edit", {**data, "op": "up:0"})
    assert "already first" in first_up.get_data(as_text=True)
    assert post(signed_in, "/settings/rules/edit", {**data, "op": "up:7"}).status_code == 400
    assert post(signed_in, "/settings/rules/edit", {**data, "op": "nonsense"}).status_code == 400


def test_choosing_the_group_operator_shows_the_group_picker(signed_in, connection):
    data = rule_fields({"name": "Groups", "conditions": [("department", "member_of", "Sales")]})
    body = post(signed_in, "/settings/rules/edit", {**data, "op": "refresh:0"}).get_data(as_text=True)
    assert 'id="rules-0-conditions-0-group_search"' in body and "Find a group by name" in body
    assert 'form="group-search"' in body  # Enter in the search box does not submit the rules
    assert 'name="rules-0-conditions-0-attribute" value="memberOf"' in body


def test_the_group_picker_searches_the_tenants_groups_and_stores_the_id(signed_in, connection, sim_server):
    found = signed_in.get("/settings/rules/groups?rule=0&condition=0&group_search=dept%20-%20s",
                          headers=hx())
    body = found.get_data(as_text=True)
    assert found.status_code == 200
    names = re.findall(r">Choose ([^<]+)</button>", body)
    assert names == ["Dept - Sales"]
    sales = group_id(sim_server, "Dept - Sales")
    assert f'value="pick:0:0:{sales}:Dept - Sales"' in body
    signature = signed_in.get("/settings/rules/groups?rule=0&condition=0&group_search=signature", headers=hx())
    assert len(re.findall(r">Choose ", signature.get_data(as_text=True))) == 6
    none = signed_in.get("/settings/rules/groups?rule=0&condition=0&group_search=zzz'x", headers=hx())
    assert "No group's name starts with “zzz'x”" in text_of(none)

    data = rule_fields({"name": "Sales", "conditions": [("memberOf", "member_of", "")]})
    picked = post(signed_in, "/settings/rules/edit", {**data, "op": f"pick:0:0:{sales}:Dept - Sales"})
    body = picked.get_data(as_text=True)
    assert f'name="rules-0-conditions-0-value" value="{sales}"' in body
    assert "Dept - Sales" in body
    assert signed_in.get("/settings/rules/groups?rule=x&condition=0&group_search=a").status_code == 400


def test_preview_counts_equal_what_a_real_sync_imports(signed_in, config, db, org, connection, sim_server):
    org.seats = None
    db.add(org)
    db.commit()
    sales = group_id(sim_server, "Dept - Sales")
    emea = group_id(sim_server, "Signature - EMEA")  # nested: DACH's members count too
    rules = ({"name": "Sales", "conditions": [("memberOf", "member_of", sales)], "dept_mode": "names",
              "dept_names": "Sales"},
             {"name": "EMEA engineers", "conditions": [("memberOf", "member_of", emea),
                                                        ("department", "starts_with", "Eng")],
              "dept_mode": "attribute", "dept_attribute": "department", "dept_split": ";"})
    preview = post(signed_in, "/settings/rules/preview", rule_fields(*rules))
    shown = text_of(preview)
    match = re.search(r"([\d,]+) of ([\d,]+) users would be imported", shown)
    assert match, shown[:2000]
    predicted, read = int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))
    assert read >= TENANT_USERS and "Based on the first" not in shown  # the whole small tenant is read
    assert 0 < predicted < read
    departments = dict((name, int(count)) for name, count in re.findall(
        r'<tr><th scope="row">([^<]+)</th><td class="num">(\d+)</td></tr>', preview.get_data(as_text=True)))

    assert post(signed_in, "/settings/rules/", rule_fields(*rules), htmx=False).status_code == 303
    run_id = create_run(get_engine(config.database_url), connection.id, trigger="manual", full=True)
    result = sync_job(run_id, config)
    assert result["status"] == "succeeded"
    db.expire_all()
    imported = db.exec(select(Employee).where(Employee.organization_id == org.id,
                                              Employee.m365_id.is_not(None))).all()
    assert len(imported) == predicted
    members = Counter(db.exec(
        select(Department.name).join(EmployeeDepartment, EmployeeDepartment.department_id == Department.id)
        .where(Department.organization_id == org.id)).all())
    assert departments == dict(members)


def test_why_a_user_is_not_imported(signed_in, connection, sim_server):
    s = sim_server.sim
    uid = s.tenant.add_user({"userPrincipalName": "nora.nomatch@contoso.example", "displayName": "Nora Nomatch",
                             "mail": "nora.nomatch@contoso.example", "department": "Catering",
                             "accountEnabled": True, "userType": "Member"})
    data = rule_fields({"name": "Sales only", "conditions": [("department", "equals", "Sales")]},
                       {"name": "Paris office", "conditions": [("city", "equals", "Paris")]})
    found = signed_in.get("/settings/rules/users?user_search=nora%20nom", headers=hx())
    assert f'value="{uid}"' in found.get_data(as_text=True) and "Explain Nora Nomatch" in text_of(found)
    answer = post(signed_in, "/settings/rules/explain", {**data, "explain_user": uid})
    shown = text_of(answer)
    assert "Not imported: no import rule matched." in shown
    assert "“Sales only” does not match" in shown and "“Paris office” does not match" in shown
    assert "the user's value: “Catering”" in shown

    matched = post(signed_in, "/settings/rules/explain", {
        **rule_fields({"name": "Caterers", "conditions": [("department", "equals", "catering")],
                       "dept_mode": "names", "dept_names": "Kitchen"}), "explain_user": uid})
    assert "Imported: matched import rule 'Caterers'. Departments: Kitchen." in text_of(matched)


def test_another_organisations_admin_cannot_reach_this_connection(client, connection, other_org_admin, db):
    AuthActions(client).sign_in(OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD)
    assert "Connect your Microsoft 365 tenant first" in text_of(client.get("/settings/rules/"))
    token = read_csrf_token(client, "/settings/rules/")
    for path in ("/settings/rules/", "/settings/rules/edit", "/settings/rules/preview", "/settings/rules/explain"):
        response = client.post(path, data={**rule_fields({"name": "x"}), "op": "add_rule", "explain_user": SOME_ID},
                               headers=hx(token))
        assert response.status_code == 404, path
    assert client.get("/settings/rules/groups?rule=0&condition=0&group_search=a").status_code == 404
    assert saved_rules(db, connection) == []


def test_explaining_a_user_who_is_gone_says_so(signed_in, connection):
    answer = post(signed_in, "/settings/rules/explain", {**rule_fields({"name": "Any"}),
                                                          "explain_user": "00000000-0000-4000-8000-000000000000"})
    assert answer.status_code == 200
    assert "Microsoft 365 has no such user or group (any more). Search for it again." in text_of(answer)


def test_a_group_too_big_to_read_whole_is_named_in_the_preview(signed_in, connection, sim_server, monkeypatch):
    from portal import preview

    monkeypatch.setattr(preview, "GROUP_MEMBER_LIMIT", 10)
    everyone = group_id(sim_server, "All Employees")
    shown = text_of(post(signed_in, "/settings/rules/preview", rule_fields(
        {"name": "Everyone", "conditions": [("memberOf", "member_of", everyone)]})))
    assert "The group “All Employees” has more than 10 members: the preview read the first 10" in shown
    match = re.search(r"(\d+) of (\d+) users would be imported", shown)
    assert match and int(match.group(1)) <= 10


def test_only_a_graph_object_id_reaches_graph(signed_in, connection, sim_server):
    sim_server.sim.log.clear()
    answer = post(signed_in, "/settings/rules/explain", {**rule_fields({"name": "Any"}),
                                                          "explain_user": "../groups?$top=1"})
    assert answer.status_code == 400
    assert list(sim_server.sim.log.items("graph")) == []


@pytest.mark.parametrize("rule, condition", [("²", "0"), ("0", "²"), ("x", "0")])
def test_the_group_picker_refuses_positions_that_are_not_plain_numbers(signed_in, connection, rule, condition):
    response = signed_in.get(f"/settings/rules/groups?rule={rule}&condition={condition}&group_search=a", headers=hx())
    assert response.status_code == 400


def test_an_editor_button_with_a_superscript_position_is_a_clear_bad_request(signed_in, connection):
    data = rule_fields({"name": "Groups", "conditions": [("department", "equals", "Sales")]})
    response = post(signed_in, "/settings/rules/edit", {**data, "op": "remove_condition:²:0"})
    assert response.status_code == 400
    assert "The request was not understood." in response.get_data(as_text=True)
