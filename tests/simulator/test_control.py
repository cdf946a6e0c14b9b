"""The /_sim control API: health, request log, faults, directory changes, reset."""

from __future__ import annotations

import pytest

from tests.simulator.graph_helpers import Graph, simulator_of


@pytest.fixture
def graph(graph_client, app_token) -> Graph:
    return Graph(graph_client, app_token)


def test_health(graph_client):
    body = graph_client.get("/_sim/health").get_json()
    assert body["status"] == "ok" and body["users"] == 300 and body["faults"] == 0


def test_request_log_with_filters_and_clear(graph, graph_client):
    graph.get("/v1.0/users?$top=1")
    graph.get("/v1.0/users/nobody")
    graph.send("PATCH", "/v1.0/users/Zoe@contoso.example", json={"city": "x"})
    writes = graph_client.get("/_sim/requests?surface=graph&method=PATCH").get_json()
    assert writes["count"] == 1 and writes["value"][0]["status"] == 403
    missing = graph_client.get("/_sim/requests?surface=graph&status=404").get_json()
    assert [r["path"] for r in missing["value"]] == ["/v1.0/users/nobody"]
    assert graph_client.get("/_sim/requests?path=/v1.0/users&limit=1").get_json()["count"] == 1
    assert graph_client.delete("/_sim/requests").status_code == 204
    assert graph_client.get("/_sim/requests?surface=graph").get_json()["count"] == 0
    assert graph_client.get("/_sim/requests?surface=control").get_json()["count"] >= 1  # control calls are logged


def test_faults_through_the_api(graph, graph_client):
    created = graph_client.post("/_sim/faults", json={"kind": "throttle", "count": 1, "retry_after": 9})
    assert created.status_code == 201
    rule = created.get_json()["value"][0]
    assert rule["kind"] == "throttle" and rule["status"] == 429
    assert graph_client.get("/_sim/faults").get_json()["value"][0]["id"] == rule["id"]
    answer = graph.get("/v1.0/users")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "9"
    assert graph.get("/v1.0/users").status_code == 200
    graph_client.post("/_sim/faults", json={"faults": [{"kind": "unavailable", "status": 504},
                                                       {"kind": "latency", "latency_ms": 1}]})
    assert graph.get("/v1.0/users").status_code == 504
    one = graph_client.get("/_sim/faults").get_json()["value"][0]["id"]
    assert graph_client.delete(f"/_sim/faults/{one}").status_code == 204
    assert graph_client.delete(f"/_sim/faults/{one}").status_code == 404
    assert graph_client.delete("/_sim/faults").status_code == 204
    assert graph.get("/v1.0/users").status_code == 200


@pytest.mark.parametrize("body", [{"kind": "explode"}, {"kind": "throttle", "colour": "red"}, [1], {}])
def test_bad_faults_are_400(graph_client, body):
    assert graph_client.post("/_sim/faults", json=body).status_code == 400


def test_fault_actions_expire_delta_tokens_and_revoke_refresh_tokens(graph, graph_client, graph_app):
    link = graph.delta_round("/v1.0/users/delta?$select=displayName")[1]
    answer = graph_client.post("/_sim/faults", json={"kind": "expire_delta_tokens"})
    assert answer.status_code == 201
    assert graph.get(link).get_json()["error"]["code"] == "syncStateNotFound"
    revoked = graph_client.post("/_sim/faults", json={"kind": "revoke_refresh_tokens"}).get_json()
    assert revoked["actions"] == [{"kind": "revoke_refresh_tokens", "affected": 0}]


def test_user_lifecycle_through_the_api(graph, graph_client):
    created = graph_client.post("/_sim/users", json={"displayName": "Test Person",
                                                     "userPrincipalName": "test.person@contoso.example",
                                                     "mail": "test.person@contoso.example", "department": "IT"})
    assert created.status_code == 201
    uid = created.get_json()["id"]
    assert graph.get(f"/v1.0/users/{uid}?$select=department").get_json()["department"] == "IT"
    patched = graph_client.patch(f"/_sim/users/{uid}", json={"jobTitle": "Tester", "department": "QA"})
    assert patched.get_json()["user"]["jobTitle"] == "Tester"
    assert graph_client.delete(f"/_sim/users/{uid}").status_code == 204
    assert graph.get(f"/v1.0/users/{uid}").status_code == 404
    assert graph_client.get(f"/_sim/users/{uid}").get_json()["state"] == "soft"
    assert graph_client.post(f"/_sim/users/{uid}/restore").status_code == 200
    assert graph.get(f"/v1.0/users/{uid}").status_code == 200
    assert graph_client.delete(f"/_sim/users/{uid}?hard=1").status_code == 204
    assert graph_client.get(f"/_sim/users/{uid}").get_json()["state"] == "hard"
    assert graph_client.post(f"/_sim/users/{uid}/restore").status_code == 404


def test_user_errors(graph_client):
    assert graph_client.post("/_sim/users", json={"displayName": "No UPN"}).status_code == 400
    assert graph_client.post("/_sim/users", json={"displayName": "Dup", "userPrincipalName":
                                                  "Zoe@contoso.example"}).status_code == 400
    assert graph_client.patch("/_sim/users/nobody@contoso.example", json={"city": "x"}).status_code == 404
    assert graph_client.patch("/_sim/users/Zoe@contoso.example", json={"shoeSize": 42}).status_code == 400


def test_rename_manager_and_photo(graph, graph_client):
    renamed = graph_client.post("/_sim/users/Zoe@contoso.example/rename",
                                json={"mail": "zoe.dubois@contoso.example",
                                      "userPrincipalName": "zoe.d@contoso.example"})
    user = renamed.get_json()["user"]
    assert user["mail"] == "zoe.dubois@contoso.example" and user["userPrincipalName"] == "zoe.d@contoso.example"
    assert user["proxyAddresses"][0] == "SMTP:zoe.dubois@contoso.example"
    assert "smtp:zoe@contoso.example" in user["proxyAddresses"]  # the old address stays as an alias
    assert graph.get("/v1.0/users/Zoe@contoso.example").status_code == 404
    assert graph.get("/v1.0/users/zoe.d@contoso.example").status_code == 200
    assert graph_client.put("/_sim/users/zoe.d@contoso.example/manager",
                            json={"id": "Anna.Schmidt@contoso.example"}).status_code == 204
    manager = graph.get("/v1.0/users/zoe.d@contoso.example/manager").get_json()
    assert manager["displayName"] == "Anna Schmidt"
    graph_client.put("/_sim/users/zoe.d@contoso.example/manager", json={"id": None})
    assert graph.get("/v1.0/users/zoe.d@contoso.example/manager").status_code == 404
    jpeg = graph.get("/v1.0/users/Juergen.Mueller@contoso.example/photo/$value").data
    assert graph_client.put("/_sim/users/Dmitry.Ivanov@contoso.example/photo", data=jpeg,
                            content_type="image/jpeg").status_code == 204
    assert graph.get("/v1.0/users/Dmitry.Ivanov@contoso.example/photo/$value").data == jpeg
    assert graph_client.delete("/_sim/users/Juergen.Mueller@contoso.example/photo").status_code == 204
    assert graph.get("/v1.0/users/Juergen.Mueller@contoso.example/photo/$value").status_code == 404


def test_groups_through_the_api(graph, graph_client):
    created = graph_client.post("/_sim/groups", json={"displayName": "Signature Beta", "members":
                                                      ["Zoe@contoso.example"]})
    gid = created.get_json()["id"]
    assert created.status_code == 201
    assert graph_client.post(f"/_sim/groups/{gid}/members/Jose.Garcia@contoso.example").status_code == 204
    members = graph.get(f"/v1.0/groups/{gid}/members?$select=displayName").get_json()["value"]
    assert [m["displayName"] for m in members] == ["Zoë", "José García"]
    assert graph_client.delete(f"/_sim/groups/{gid}/members/Zoe@contoso.example").status_code == 204
    members = graph.get(f"/v1.0/groups/{gid}/members?$select=displayName").get_json()["value"]
    assert [m["displayName"] for m in members] == ["José García"]
    assert graph_client.post("/_sim/groups/nope/members/Zoe@contoso.example").status_code == 404


def test_reset_restores_the_generated_tenant(graph, graph_client, graph_app):
    graph_client.patch("/_sim/users/Zoe@contoso.example", json={"city": "Lyon"})
    graph_client.post("/_sim/faults", json={"kind": "latency", "latency_ms": 1})
    body = graph_client.post("/_sim/reset").get_json()
    assert body["users"] == 300
    assert graph.get("/v1.0/users/Zoe@contoso.example?$select=city").get_json()["city"] == "Paris"
    assert simulator_of(graph_app).faults.active() == []


def test_reset_can_regenerate_at_another_size(graph, graph_client):
    assert graph_client.post("/_sim/reset", json={"users": 50, "seed": 7}).get_json()["users"] == 50
    assert graph.get("/v1.0/users/$count", ConsistencyLevel="eventual").get_data(as_text=True) == "50"
    assert graph_client.post("/_sim/reset", json={"users": -1}).status_code == 400
