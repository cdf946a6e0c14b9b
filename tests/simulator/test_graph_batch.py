"""POST /v1.0/$batch: limits, dependencies, per-item answers and per-item throttling."""

from __future__ import annotations

import base64

import pytest

from tests.simulator.graph_helpers import ODATA_JSON, Graph, simulator_of
from tests.simulator.samples import sample


@pytest.fixture
def graph(graph_client, app_token) -> Graph:
    return Graph(graph_client, app_token)


def batch(graph: Graph, requests: list[dict]):
    return graph.send("POST", "/v1.0/$batch", json={"requests": requests})


def by_id(answer) -> dict[str, dict]:
    return {item["id"]: item for item in answer.get_json()["responses"]}


def test_batch_answers_each_item_with_status_headers_and_body(graph):
    answer = batch(graph, [
        {"id": "1", "method": "GET", "url": "/users?$select=id,displayName&$top=2"},
        {"id": "2", "method": "GET", "url": "users/Juergen.Mueller@contoso.example/manager?$select=id"},
        {"id": "3", "method": "GET", "url": "/users/$count", "headers": {"ConsistencyLevel": "eventual"}},
        {"id": "4", "method": "GET", "url": "/users/nobody@contoso.example"},
    ])
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == ODATA_JSON
    items = by_id(answer)
    reference = sample("batch-response.json")["responses"]
    assert all(set(item) <= {"id", "status", "headers", "body"} for item in reference)
    assert all(set(item) == {"id", "status", "headers", "body"} for item in items.values())
    assert items["1"]["status"] == 200 and len(items["1"]["body"]["value"]) == 2
    assert items["1"]["headers"]["Content-Type"] == ODATA_JSON and items["1"]["headers"]["OData-Version"] == "4.0"
    assert items["1"]["body"]["@odata.nextLink"].startswith("http://localhost/v1.0/users?")
    assert items["2"]["body"]["@odata.type"] == "#microsoft.graph.user"
    assert items["3"]["body"] == "300"
    assert items["4"]["status"] == 404 and items["4"]["body"]["error"]["code"] == "Request_ResourceNotFound"


def test_answers_come_back_out_of_order(graph):
    answer = batch(graph, [{"id": str(n), "method": "GET", "url": "/users?$top=1&$select=id"} for n in range(1, 11)])
    order = [item["id"] for item in answer.get_json()["responses"]]
    assert sorted(order, key=int) == [str(n) for n in range(1, 11)] and order != sorted(order, key=int)


def test_photo_bytes_travel_base64_encoded(graph):
    item = by_id(batch(graph, [{"id": "p", "method": "GET",
                                "url": "/users/Juergen.Mueller@contoso.example/photo/$value"}]))["p"]
    assert item["headers"]["Content-Type"] == "image/jpeg"
    assert base64.b64decode(item["body"])[:2] == b"\xff\xd8"


def test_dependents_of_a_failed_request_get_424(graph):
    answer = batch(graph, [
        {"id": "1", "method": "GET", "url": "/users/nobody@contoso.example"},
        {"id": "2", "method": "GET", "url": "/users?$top=1", "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": "/groups?$top=1"},
        {"id": "4", "method": "GET", "url": "/users?$top=1", "dependsOn": ["2"]},
    ])
    items = by_id(answer)
    assert [items[i]["status"] for i in "1234"] == [404, 424, 200, 424]


def test_dependencies_run_in_order(graph):
    answer = batch(graph, [
        {"id": "b", "method": "GET", "url": "/groups?$top=1", "dependsOn": ["a"]},
        {"id": "a", "method": "GET", "url": "/users?$top=1"},
    ])
    assert {i["id"]: i["status"] for i in answer.get_json()["responses"]} == {"a": 200, "b": 200}


@pytest.mark.parametrize("requests", [
    [{"id": str(n), "method": "GET", "url": "/users"} for n in range(21)],
    [{"id": "1", "method": "GET", "url": "/users"}, {"id": "1", "method": "GET", "url": "/groups"}],
    [{"id": "A", "method": "GET", "url": "/users"}, {"id": "a", "method": "GET", "url": "/groups"}],
    [{"id": "1", "method": "GET"}],
    [{"id": "1", "method": "GET", "url": "/users", "dependsOn": ["9"]}],
    [{"id": "1", "method": "GET", "url": "/users", "dependsOn": ["2"]},
     {"id": "2", "method": "GET", "url": "/users", "dependsOn": ["1"]}],
    [],
])
def test_malformed_batches_are_a_400(graph, requests):
    answer = batch(graph, requests)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "BadRequest"


def test_twenty_requests_are_fine(graph):
    answer = batch(graph, [{"id": str(n), "method": "GET", "url": "/users?$top=1"} for n in range(20)])
    assert answer.status_code == 200 and len(answer.get_json()["responses"]) == 20


def test_writes_inside_a_batch_are_refused_and_logged(graph, graph_app):
    answer = batch(graph, [
        {"id": "1", "method": "PATCH", "url": "/users/Zoe@contoso.example", "body": {"city": "Lyon"},
         "headers": {"Content-Type": "application/json"}},
        {"id": "2", "method": "DELETE", "url": "/users/Zoe@contoso.example"},
        {"id": "3", "method": "POST", "url": "/users/Zoe@contoso.example/checkMemberGroups",
         "body": {"groupIds": []}, "headers": {"Content-Type": "application/json"}},
    ])
    items = by_id(answer)
    assert items["1"]["status"] == items["2"]["status"] == 403
    assert items["1"]["body"]["error"]["code"] == "Authorization_RequestDenied"
    assert items["3"]["status"] == 200  # checkMemberGroups is a read
    writes = [r for r in simulator_of(graph_app).log.items("graph") if r.via == "$batch" and r.method != "GET"]
    assert [(r.method, r.status) for r in writes] == [("PATCH", 403), ("DELETE", 403), ("POST", 200)]
    assert simulator_of(graph_app).tenant.get_user("Zoe@contoso.example")["city"] == "Paris"


def test_throttling_is_per_item_with_retry_after_in_the_item_headers(graph, graph_app):
    simulator_of(graph_app).faults.throttle(count=2, retry_after=7)
    answer = batch(graph, [{"id": str(n), "method": "GET", "url": "/users?$top=1"} for n in range(1, 5)])
    assert answer.status_code == 200  # the batch itself is never throttled as a whole
    items = by_id(answer)
    throttled = [i for i in items.values() if i["status"] == 429]
    assert len(throttled) == 2 and sum(i["status"] == 200 for i in items.values()) == 2
    reference = sample("error-429-too-many-requests.json")["error"]
    for item in throttled:
        assert item["headers"]["Retry-After"] == "7"
        assert list(item["body"]["error"]) == list(reference)
        assert set(item["body"]["error"]["innerError"]) == set(reference["innerError"])


def test_nested_batches_are_refused(graph):
    items = by_id(batch(graph, [{"id": "1", "method": "POST", "url": "/$batch", "body": {"requests": []},
                                 "headers": {"Content-Type": "application/json"}}]))
    assert items["1"]["status"] == 400


def test_batch_needs_a_token_once(graph_client):
    answer = graph_client.post("/v1.0/$batch", json={"requests": [{"id": "1", "method": "GET", "url": "/users"}]})
    assert answer.status_code == 401
