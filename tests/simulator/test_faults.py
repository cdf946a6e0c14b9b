"""Injected faults, each observed the way a plain HTTP client would see it."""

from __future__ import annotations

import time

import pytest
import requests

from simulator.faults import Fault, Faults
from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings
from tests.simulator.entra_helpers import TrustingSession
from tests.simulator.graph_helpers import Graph, simulator_of
from tests.simulator.samples import sample


@pytest.fixture
def graph(graph_client, app_token) -> Graph:
    return Graph(graph_client, app_token)


@pytest.fixture
def faults(graph_app) -> Faults:
    return simulator_of(graph_app).faults


def test_throttle_next_n_requests_with_an_integer_retry_after(graph, faults):
    faults.throttle(count=2, retry_after=3)
    first, second, third = (graph.get("/v1.0/users?$top=1") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "3"
    reference = sample("error-429-too-many-requests.json")
    body = first.get_json()
    assert list(body["error"]) == list(reference["error"])
    assert list(body["error"]["innerError"]) == list(reference["error"]["innerError"])
    assert (body["error"]["code"], body["error"]["message"]) == ("TooManyRequests", "Please retry again later.")
    assert body["error"]["innerError"]["request-id"] == first.headers["request-id"]


def test_throttle_with_the_decimal_retry_after_of_the_2021_docs(graph, faults):
    faults.throttle(count=1, retry_after=2.128, decimal=True)
    assert graph.get("/v1.0/users").headers["Retry-After"] == "2.128"


def test_fractional_retry_after_rounds_up_when_integer(graph, faults):
    faults.throttle(count=1, retry_after=0.2)
    assert graph.get("/v1.0/users").headers["Retry-After"] == "1"


def test_throttle_at_a_rate_is_repeatable(graph_app, faults):
    faults.throttle(rate=0.3)
    graph = Graph(graph_app.test_client(), simulator_of(graph_app).tokens.issue_app_token(
        "c", ["User.Read.All"]).token)
    statuses = [graph.get("/v1.0/users?$top=1").status_code for _ in range(200)]
    assert 30 < statuses.count(429) < 90 and set(statuses) == {200, 429}
    again = Faults(seed=1)
    again.throttle(rate=0.3)
    replay = [429 if again.decide("GET", "/v1.0/users").failure else 200 for _ in range(200)]
    assert replay == statuses


def test_faults_can_be_limited_to_a_path_prefix(graph, faults):
    faults.throttle(path_prefix="/v1.0/users/delta")
    assert graph.get("/v1.0/users?$top=1").status_code == 200
    assert graph.get("/v1.0/groups?$top=1").status_code == 200
    assert graph.get("/v1.0/users/delta").status_code == 429


@pytest.mark.parametrize("status, retry_after, header", [(503, 5, "5"), (503, None, None), (504, None, None),
                                                         (504, 1, "1")])
def test_service_unavailable_and_gateway_timeout(graph, faults, status, retry_after, header):
    faults.unavailable(status=status, count=1, retry_after=retry_after)
    answer = graph.get("/v1.0/users?$top=1")
    assert answer.status_code == status
    assert answer.headers.get("Retry-After") == header
    assert set(answer.get_json()["error"]) == {"code", "message", "innerError"}
    assert graph.get("/v1.0/users?$top=1").status_code == 200


def test_added_latency(graph, faults):
    faults.latency(150, count=1)
    began = time.perf_counter()
    assert graph.get("/v1.0/users?$top=1").status_code == 200
    assert time.perf_counter() - began >= 0.15
    began = time.perf_counter()
    graph.get("/v1.0/users?$top=1")
    assert time.perf_counter() - began < 0.15


def test_drop_in_the_test_client_raises(graph, faults):
    faults.drop(after=1)
    assert graph.get("/v1.0/users?$top=1").status_code == 200
    with pytest.raises(ConnectionAbortedError):
        graph.get("/v1.0/users?$top=1")
    assert graph.get("/v1.0/users?$top=1").status_code == 200  # count=1: only one connection dropped


def test_clearing_faults(graph, faults):
    rule = faults.throttle()
    assert graph.get("/v1.0/users").status_code == 429
    assert faults.remove(rule.id) and not faults.remove(rule.id)
    assert graph.get("/v1.0/users").status_code == 200
    faults.unavailable()
    faults.clear()
    assert graph.get("/v1.0/users").status_code == 200 and faults.active() == []


def test_fault_rules_count_their_hits(faults):
    rule = faults.throttle(count=3)
    for _ in range(5):
        faults.decide("GET", "/v1.0/users")
    assert rule.hits == 3 and faults.active() == []


@pytest.mark.parametrize("bad", [Fault("explode"), Fault("unavailable", status=500), Fault("throttle", rate=2)])
def test_invalid_faults_are_refused(faults, bad):
    with pytest.raises(ValueError):
        faults.add(bad)


def test_faults_never_touch_the_control_api(graph_client, faults):
    faults.unavailable()
    assert graph_client.get("/_sim/health").status_code == 200


# -- over a real HTTPS connection ------------------------------------------------------------


@pytest.fixture(scope="module")
def https_server(tmp_path_factory):
    with SimulatorServer(Simulator(SimulatorSettings(users=60)),
                         state_dir=tmp_path_factory.mktemp("graph-faults")) as server:
        yield server


def test_a_dropped_connection_is_a_connection_error_for_requests(https_server):
    sim = https_server.sim
    bearer = sim.tokens.issue_app_token("c", ["User.Read.All"]).token
    url = f"{https_server.base_url}/v1.0/users?$top=1"
    sim.faults.drop(after=2, path_prefix="/v1.0/users")
    with TrustingSession(https_server.ca_path) as http:
        http.headers["Authorization"] = f"Bearer {bearer}"
        assert http.get(url).status_code == 200
        assert http.get(url).status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError):
            http.get(url, timeout=10)
        assert http.get(url).status_code == 200  # the next connection works again
    assert [r.status for r in sim.log.items("graph")][-4:] == [200, 200, 0, 200]


def test_throttling_over_https(https_server):
    sim = https_server.sim
    bearer = sim.tokens.issue_app_token("c", ["User.Read.All"]).token
    sim.faults.throttle(count=1, retry_after=4)
    with TrustingSession(https_server.ca_path) as http:
        answer = http.get(f"{https_server.base_url}/v1.0/users?$top=1", headers={"Authorization": f"Bearer {bearer}"})
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "4"


def test_batch_items_are_never_dropped(graph, faults):
    faults.drop(count=None)
    with pytest.raises(ConnectionAbortedError):  # the batch's own connection is
        graph.send("POST", "/v1.0/$batch", json={"requests": [{"id": "1", "method": "GET", "url": "/users"}]})
    faults.clear()
    faults.add(Fault("drop", count=None, path_prefix="/v1.0/users"))
    answer = graph.send("POST", "/v1.0/$batch", json={"requests": [{"id": "1", "method": "GET", "url": "/users"}]})
    assert answer.get_json()["responses"][0]["status"] == 200
