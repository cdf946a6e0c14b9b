"""Bearer tokens, permissions, the read-only rule, response headers and the request log."""

from __future__ import annotations

import time

import pytest

from simulator.tokens import UserClaims
from tests.simulator.graph_helpers import ODATA_JSON, Graph, simulator_of, token
from tests.simulator.samples import sample

RECORDED_200_HEADERS = {"Content-Type", "Cache-Control", "Strict-Transport-Security", "request-id",
                        "client-request-id", "x-ms-ags-diagnostic", "x-ms-resource-unit", "OData-Version"}


def assert_invalid_token(answer, message: str) -> None:
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="", authorization_uri="https://login.')
    assert 'client_id="00000003-0000-0000-c000-000000000000"' in answer.headers["WWW-Authenticate"]
    error = answer.get_json()["error"]
    recorded = sample("graph-error-401-cae-invalidauthenticationtoken-recorded.json")["error"]
    assert error["code"] == recorded["code"] and error["message"] == message
    assert set(error["innerError"]) == set(recorded["innerError"])


def test_missing_token_is_401(graph_client):
    assert_invalid_token(graph_client.get("/v1.0/users"), "Access token is empty.")


def test_unknown_token_is_401(graph_client):
    answer = graph_client.get("/v1.0/users", headers={"Authorization": "Bearer aaa.bbb.ccc"})
    assert_invalid_token(answer, "Access token validation failure.")
    answer = graph_client.get("/v1.0/users", headers={"Authorization": "Bearer not-even-a-jwt"})
    assert_invalid_token(answer, "CompactToken parsing failed with error code: 80049217")


def test_expired_token_is_401(graph_client, graph_app):
    bearer = token(graph_app, lifetime=0)
    time.sleep(0.01)
    answer = Graph(graph_client, bearer).get("/v1.0/users")
    assert_invalid_token(answer, "Access token has expired or is not yet valid.")


def test_users_need_user_read_all(graph_client, graph_app):
    answer = Graph(graph_client, token(graph_app, ["Group.Read.All"])).get("/v1.0/users")
    assert answer.status_code == 403
    assert answer.get_json()["error"]["message"] == "Insufficient privileges to complete the operation."


@pytest.mark.parametrize("permission", ["User.Read.All", "Directory.Read.All", "User.ReadWrite.All"])
def test_any_documented_user_permission_reads_users(graph_client, graph_app, permission):
    assert Graph(graph_client, token(graph_app, [permission])).get("/v1.0/users?$top=1").status_code == 200


@pytest.mark.parametrize("method, path", [
    ("POST", "/v1.0/users"),
    ("PATCH", "/v1.0/users/Zoe@contoso.example"),
    ("PUT", "/v1.0/users/Zoe@contoso.example/manager/$ref"),
    ("DELETE", "/v1.0/users/Zoe@contoso.example"),
    ("POST", "/v1.0/groups/x/members/$ref"),
    ("PATCH", "/v1.0/users('Zoe@contoso.example')"),
    ("POST", "/v1.0/users/Zoe@contoso.example/revokeSignInSessions"),
    ("DELETE", "/v1.0/nowhere"),
])
def test_every_write_is_refused_and_logged(graph_client, graph_app, app_token, method, path):
    answer = Graph(graph_client, app_token).send(method, path, json={"city": "Lyon"})
    assert answer.status_code == 403
    error = answer.get_json()["error"]
    assert (error["code"], error["message"]) == ("Authorization_RequestDenied",
                                                 "Insufficient privileges to complete the operation.")
    logged = simulator_of(graph_app).log.items("graph")[-1]
    assert (logged.method, logged.path, logged.status) == (method, path, 403)
    assert simulator_of(graph_app).tenant.get_user("Zoe@contoso.example")["city"] == "Paris"


def test_success_carries_the_recorded_graph_headers(graph_client, app_token):
    answer = Graph(graph_client, app_token).get("/v1.0/users?$top=1")
    assert RECORDED_200_HEADERS <= set(answer.headers.keys())
    assert answer.headers["Content-Type"] == ODATA_JSON
    assert answer.headers["OData-Version"] == "4.0"
    assert answer.headers["request-id"] == answer.headers["client-request-id"]


def test_client_request_id_is_echoed(graph_client, app_token):
    graph = Graph(graph_client, app_token)
    ok = graph.get("/v1.0/users?$top=1", **{"client-request-id": "my-id-1"})
    assert ok.headers["client-request-id"] == "my-id-1" and ok.headers["request-id"] != "my-id-1"
    bad = graph.get("/v1.0/users/nobody", **{"client-request-id": "my-id-2"})
    assert bad.headers["client-request-id"] == "my-id-2"
    assert bad.get_json()["error"]["innerError"]["client-request-id"] == "my-id-2"
    assert bad.get_json()["error"]["innerError"]["request-id"] == bad.headers["request-id"]


def test_resource_units_follow_the_documented_costs(graph_client, app_token):
    graph = Graph(graph_client, app_token)
    assert graph.get("/v1.0/users").headers["x-ms-resource-unit"] == "2"
    assert graph.get("/v1.0/users?$select=id").headers["x-ms-resource-unit"] == "1"
    assert graph.get("/v1.0/users?$top=5").headers["x-ms-resource-unit"] == "1"


def test_unknown_segment_is_a_bad_request(graph_client, app_token):
    answer = Graph(graph_client, app_token).get("/v1.0/contacts")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"] == "Resource not found for the segment 'contacts'."


def test_me_works_for_delegated_tokens_only(graph_client, graph_app, app_token):
    sim = simulator_of(graph_app)
    admin = sim.tenant.get_user("admin@contoso.example")
    claims = UserClaims(oid=admin["id"], upn=admin["userPrincipalName"], name=admin["displayName"])
    delegated = sim.tokens.issue_user_token("test-client", claims, ["User.Read.All", "Group.Read.All"]).token
    me = Graph(graph_client, delegated).get("/v1.0/me?$select=displayName")
    assert me.status_code == 200 and me.get_json()["displayName"] == "MOD Administrator"
    answer = Graph(graph_client, app_token).get("/v1.0/me")
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"] == "/me request is only valid with delegated authentication flow."


def test_every_request_is_logged_with_its_status(graph_client, graph_app, app_token):
    sim = simulator_of(graph_app)
    sim.log.clear()
    graph = Graph(graph_client, app_token)
    graph.get("/v1.0/users?$top=2")
    graph.get("/v1.0/users/nobody")
    graph_client.get("/v1.0/users")
    logged = [(r.method, r.path, r.query, r.status, r.surface) for r in sim.log.items()]
    assert logged == [("GET", "/v1.0/users", "$top=2", 200, "graph"), ("GET", "/v1.0/users/nobody", "", 404, "graph"),
                      ("GET", "/v1.0/users", "", 401, "graph")]
