"""Groups and membership endpoints, checked against Microsoft's samples."""

from __future__ import annotations

import pytest

from tests.simulator.graph_helpers import BASE, Graph, simulator_of, token, types_of
from tests.simulator.samples import sample

USER_TYPE, GROUP_TYPE = "#microsoft.graph.user", "#microsoft.graph.group"


@pytest.fixture
def graph(graph_client, app_token) -> Graph:
    return Graph(graph_client, app_token)


@pytest.fixture
def groups(graph) -> dict[str, str]:
    """displayName -> id of every generated group."""
    body = graph.get("/v1.0/groups?$select=id,displayName").get_json()
    return {g["displayName"]: g["id"] for g in body["value"]}


def test_group_list_has_the_property_set_of_the_sample(graph):
    body = graph.get("/v1.0/groups").get_json()
    reference = sample("group-list-response.json")
    assert list(body) == ["@odata.context", "value"]
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#groups"
    for group in body["value"]:
        assert list(group) == list(reference["value"][0])
        mine, theirs = types_of(group), types_of(reference["value"][0])
        assert all(mine[k] is theirs[k] for k in mine.keys() & theirs.keys())


@pytest.mark.parametrize("expr, check", [
    ("startswith(displayName,'Signature')", lambda g: g["displayName"].startswith("Signature")),
    ("displayName eq 'project falcon'", lambda g: g["displayName"] == "Project Falcon"),
    ("securityEnabled eq true", lambda g: g["securityEnabled"]),
    ("mailEnabled eq true and securityEnabled eq false", lambda g: g["mailEnabled"] and not g["securityEnabled"]),
    ("groupTypes/any(c:c eq 'Unified')", lambda g: "Unified" in g["groupTypes"]),
])
def test_group_filters(graph, expr, check):
    everything = graph.get("/v1.0/groups").get_json()["value"]
    found = graph.get(f"/v1.0/groups?$filter={expr}").get_json()["value"]
    expected = [g["id"] for g in everything if check(g)]
    assert expected and [g["id"] for g in found] == expected


def test_group_filter_with_plus_signs_as_in_the_docs(graph):
    found = graph.get("/v1.0/groups?$filter=groupTypes/any(c:c+eq+'Unified')").get_json()["value"]
    assert {g["displayName"] for g in found} == {"All Employees", "Project Falcon"}


def test_groups_page_with_top(graph):
    items, pages = graph.all_pages("/v1.0/groups?$top=5&$select=id")
    assert len(pages) > 1 and len({g["id"] for g in items}) == len(items)


def test_get_group_and_404(graph, groups):
    body = graph.get(f"/v1.0/groups/{groups['Project Falcon']}").get_json()
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#groups/$entity"
    assert body["groupTypes"] == ["Unified"] and body["mail"] == "falcon@contoso.example"
    assert graph.get("/v1.0/groups/00000000-0000-0000-0000-000000000000").status_code == 404


def test_members_are_typed_directory_objects(graph, groups):
    body = graph.get(f"/v1.0/groups/{groups['Project Falcon']}/members").get_json()
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#directoryObjects"
    assert body["value"] and all(m["@odata.type"] == USER_TYPE for m in body["value"])
    reference = sample("group-members-response.json")
    assert set(reference["value"][0]) <= set(body["value"][0])


def test_members_select_like_the_limited_info_sample(graph, groups):
    body = graph.get(f"/v1.0/groups/{groups['Signature - EMEA']}/members?$select=id,displayName,description"
                     ).get_json()
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#directoryObjects(id,displayName,description)"
    group = next(m for m in body["value"] if m["@odata.type"] == GROUP_TYPE)
    user = next(m for m in body["value"] if m["@odata.type"] == USER_TYPE)
    assert set(group) == {"@odata.type", "id", "displayName", "description"}
    assert set(user) == {"@odata.type", "id", "displayName"}  # a user has no description


def test_direct_members_of_a_nesting_group_are_its_child_groups(graph, groups):
    body = graph.get(f"/v1.0/groups/{groups['Signature - All Offices']}/members?$select=displayName").get_json()
    assert [m["displayName"] for m in body["value"]] == ["Signature - EMEA", "Signature - Americas",
                                                         "Signature - APAC"]


def test_transitive_members_resolve_the_nested_chain_and_include_the_groups(graph, groups):
    everyone, _ = graph.all_pages(f"/v1.0/groups/{groups['Signature - All Offices']}/transitiveMembers"
                                  "?$select=id,displayName,country&$top=999")
    nested = [m["displayName"] for m in everyone if m["@odata.type"] == GROUP_TYPE]
    assert nested == ["Signature - EMEA", "Signature - Americas", "Signature - APAC", "Signature - DACH"]
    users = [m for m in everyone if m["@odata.type"] == USER_TYPE]
    assert len({u["id"] for u in users}) == len(users)  # each user once, however many paths lead to them
    assert {"Germany", "United States", "China", "France"} <= {u["country"] for u in users}
    dach, _ = graph.all_pages(f"/v1.0/groups/{groups['Signature - DACH']}/members?$select=id&$top=999")
    assert {u["id"] for u in dach} <= {u["id"] for u in users}


def test_transitive_members_cast_to_users(graph, groups):
    body = graph.get(f"/v1.0/groups/{groups['Signature - All Offices']}/transitiveMembers/microsoft.graph.user"
                     "?$select=displayName,id&$top=3").get_json()
    reference = sample("group-transitivemembers-cast-user-search.json")
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#users(displayName,id)"
    assert len(body["value"]) == 3 and "@odata.nextLink" in body
    assert all(set(u) == set(reference["value"][0]) for u in body["value"])


def test_members_cast_to_groups(graph, groups):
    body = graph.get(f"/v1.0/groups/{groups['Signature - EMEA']}/members/microsoft.graph.group").get_json()
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#groups"
    assert [g["displayName"] for g in body["value"]] == ["Signature - DACH"]


def test_members_page_with_top_up_to_999(graph, groups):
    items, pages = graph.all_pages(f"/v1.0/groups/{groups['All Employees']}/members?$top=50&$select=id")
    assert len(pages) > 1 and len({m["id"] for m in items}) == len(items) > 200
    assert graph.get(f"/v1.0/groups/{groups['All Employees']}/members?$top=1000").status_code == 400


def test_members_count_needs_advanced_parameters(graph, groups):
    url = f"/v1.0/groups/{groups['External Guests']}/members?$count=true"
    assert "@odata.count" not in graph.get(url).get_json()
    body = graph.get(url, ConsistencyLevel="eventual").get_json()
    assert body["@odata.count"] == len(body["value"]) > 0


def test_transitive_member_of_lists_nested_parents(graph):
    body = graph.get("/v1.0/users/Juergen.Mueller@contoso.example/transitiveMemberOf?$select=displayName,"
                     "mailEnabled,securityEnabled").get_json()
    reference = sample("user-transitivememberof-response.json")
    names = [g["displayName"] for g in body["value"]]
    assert {"Signature - DACH", "Signature - EMEA", "Signature - All Offices"} <= set(names)
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#directoryObjects(displayName,mailEnabled,securityEnabled)"
    assert all(g["@odata.type"] == reference["value"][0]["@odata.type"] for g in body["value"])


def test_member_of_is_direct_only(graph):
    direct = graph.get("/v1.0/users/Juergen.Mueller@contoso.example/memberOf?$select=displayName").get_json()
    names = {g["displayName"] for g in direct["value"]}
    assert "Signature - DACH" in names and "Signature - All Offices" not in names


def test_transitive_member_of_cast_to_groups(graph):
    body = graph.get("/v1.0/users/Juergen.Mueller@contoso.example/transitiveMemberOf/microsoft.graph.group"
                     "?$select=displayName,mail,mailEnabled,mailNickname,securityEnabled").get_json()
    reference = sample("user-transitivememberof-cast-group-filter.json")
    assert body["@odata.context"] == f"{BASE}/v1.0/$metadata#groups(displayName,mail,mailEnabled,mailNickname," \
                                     "securityEnabled)"
    assert all(set(g) == set(reference["value"][0]) for g in body["value"])


def test_check_member_groups_is_transitive(graph, groups):
    asked = [groups["Signature - All Offices"], groups["Dept - Finance"], groups["Project Falcon"]]
    answer = graph.send("POST", "/v1.0/users/Juergen.Mueller@contoso.example/checkMemberGroups",
                        json={"groupIds": asked})
    assert answer.status_code == 200
    body = answer.get_json()
    assert set(body) == {"@odata.context"} | set(sample("checkmembergroups-response.json"))
    assert body["value"] == [groups["Signature - All Offices"], groups["Project Falcon"]]


def test_check_member_groups_takes_at_most_20(graph, groups):
    ids = list(groups.values())[:21]
    answer = graph.send("POST", "/v1.0/users/Juergen.Mueller@contoso.example/checkMemberGroups",
                        json={"groupIds": ids})
    assert answer.status_code == 400
    ok = graph.send("POST", "/v1.0/users/Juergen.Mueller@contoso.example/checkMemberGroups",
                    json={"groupIds": ids[:20]})
    assert ok.status_code == 200


def test_soft_deleted_users_leave_member_lists_and_come_back_on_restore(graph, graph_app, groups):
    tenant = simulator_of(graph_app).tenant
    url = f"/v1.0/groups/{groups['Project Falcon']}/members?$select=displayName"

    def names():
        return {m["displayName"] for m in graph.get(url).get_json()["value"]}

    assert "José García" in names()
    tenant.soft_delete("Jose.Garcia@contoso.example")
    assert "José García" not in names()
    tenant.restore("Jose.Garcia@contoso.example")
    assert "José García" in names()


def test_membership_changes_show_up(graph, graph_app, groups):
    tenant = simulator_of(graph_app).tenant
    pilot = groups["Signature Pilot"]
    assert graph.get(f"/v1.0/groups/{pilot}/members").get_json()["value"] == []
    tenant.add_member(pilot, "Zoe@contoso.example")
    tenant.add_member(pilot, groups["Signature - APAC"])
    members = graph.get(f"/v1.0/groups/{pilot}/transitiveMembers?$select=displayName").get_json()["value"]
    assert {"Zoë", "Signature - APAC", "王伟"} <= {m["displayName"] for m in members}
    tenant.remove_member(groups["Dept - Sales"], "Juergen.Mueller@contoso.example")
    body = graph.send("POST", "/v1.0/users/Juergen.Mueller@contoso.example/checkMemberGroups",
                      json={"groupIds": [groups["Dept - Sales"]]}).get_json()
    assert body["value"] == []


@pytest.mark.parametrize("path", ["/v1.0/groups", "/v1.0/groups/{gid}", "/v1.0/groups/{gid}/members",
                                  "/v1.0/groups/{gid}/transitiveMembers", "/v1.0/users/{uid}/memberOf",
                                  "/v1.0/users/{uid}/transitiveMemberOf"])
def test_group_endpoints_need_group_read_all(graph_client, graph_app, groups, path):
    only_users = Graph(graph_client, token(graph_app, ["User.Read.All"]))
    url = path.format(gid=groups["Project Falcon"], uid="Juergen.Mueller@contoso.example")
    answer = only_users.get(url)
    assert answer.status_code == 403
    reference = sample("graph-error-403-authorization-requestdenied.json")["error"]
    error = answer.get_json()["error"]
    assert (error["code"], error["message"]) == (reference["code"], reference["message"])


def test_membership_needs_user_read_all_too(graph_client, graph_app, groups):
    only_groups = Graph(graph_client, token(graph_app, ["Group.Read.All"]))
    assert only_groups.get("/v1.0/groups").status_code == 200
    assert only_groups.get(f"/v1.0/groups/{groups['Project Falcon']}/members").status_code == 403
    assert only_groups.get("/v1.0/users").status_code == 403
