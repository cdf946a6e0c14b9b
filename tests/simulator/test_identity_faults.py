"""Faults on the identity surface: Entra throttling (429), outages (503/504), latency, dropped connections."""

from __future__ import annotations

import time

import pytest
import requests
from msal.exceptions import MsalServiceError

from simulator.faults import Fault

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


@pytest.fixture
def faults(sim_server):
    sim_server.sim.faults.clear()
    yield sim_server.sim.faults
    sim_server.sim.faults.clear()


@pytest.fixture
def token_request(sim_server, sim_http):
    settings = sim_server.sim.settings
    form = {"client_id": settings.client_id, "client_secret": settings.client_secret,
            "grant_type": "client_credentials", "scope": GRAPH_DEFAULT}
    return lambda: sim_http.post(f"{sim_server.authority}/oauth2/v2.0/token", data=form)


def test_throttled_token_request_is_429_with_retry_after(faults, token_request):
    faults.add(Fault("throttle", retry_after=60, count=1, surface="identity"))
    throttled = token_request()
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "60"
    assert token_request().status_code == 200


@pytest.mark.parametrize("status", [503, 504])
def test_outage_is_temporarily_unavailable(faults, token_request, status):
    faults.add(Fault("unavailable", status=status, retry_after=5, count=1, surface="identity"))
    answer = token_request()
    assert answer.status_code == status
    assert answer.json()["error"] == "temporarily_unavailable"
    assert answer.headers["Retry-After"] == "5"


def test_latency(faults, sim_server, sim_http):
    faults.add(Fault("latency", latency_ms=200, count=1, surface="identity"))
    began = time.perf_counter()
    sim_http.get(f"{sim_server.authority}/v2.0/.well-known/openid-configuration")
    assert time.perf_counter() - began >= 0.2


def test_dropped_connection(faults, token_request):
    faults.add(Fault("drop", count=1, surface="identity"))
    with pytest.raises(requests.exceptions.ConnectionError):
        token_request()
    assert token_request().status_code == 200


def test_graph_faults_leave_identity_alone(faults, token_request):
    faults.add(Fault("throttle", retry_after=1, count=1))  # surface "graph"
    assert token_request().status_code == 200


def test_msal_sees_an_entra_outage(faults, msal_app, sim_server):
    app = msal_app()
    token_path = f"/{sim_server.sim.settings.tenant_id}/oauth2/v2.0/token"
    faults.add(Fault("unavailable", status=503, retry_after=1, count=1, surface="identity", path_prefix=token_path))
    with pytest.raises(MsalServiceError, match="503"):
        app.acquire_token_for_client([GRAPH_DEFAULT])
    # MSAL remembers a 5xx for its Retry-After: a fresh application object asks again.
    assert "access_token" in msal_app().acquire_token_for_client([GRAPH_DEFAULT])
