"""The sign-in service failing: outages and throttling become typed, actionable errors."""

from __future__ import annotations

import pytest

from portal.m365 import auth
from portal.m365.errors import GraphUnavailable, M365Error
from portal.m365.graph import GraphClient
from simulator.faults import Fault
from tests.m365.support import app_connection


@pytest.mark.parametrize("status", [503, 504])
def test_sign_in_outage_is_unavailable(sim, m365_config, status):
    sim.sim.faults.add(Fault("unavailable", status=status, surface="identity", path_prefix="/", method="POST"))
    with pytest.raises(GraphUnavailable) as info:
        auth.TokenProvider(m365_config, app_connection(sim)).access_token()
    assert "sign-in" in info.value.admin_message


def test_sign_in_throttling_is_a_typed_error(sim, m365_config):
    sim.sim.faults.add(Fault("throttle", retry_after=5, surface="identity", method="POST"))
    with pytest.raises(M365Error) as info:
        auth.TokenProvider(m365_config, app_connection(sim)).access_token()
    assert isinstance(info.value, GraphUnavailable) and "HTTP 429" in info.value.admin_message


def test_dropped_token_request_is_unavailable(sim, m365_config):
    sim.sim.faults.add(Fault("drop", count=1, surface="identity", method="POST"))
    with pytest.raises(GraphUnavailable):
        auth.TokenProvider(m365_config, app_connection(sim)).access_token()


def test_dropped_discovery_request_is_retried(sim, m365_config):
    sim.sim.faults.add(Fault("drop", count=1, surface="identity", method="GET"))
    provider = auth.TokenProvider(m365_config, app_connection(sim))
    with GraphClient(m365_config, provider) as graph:
        graph.get("users", {"$top": 1})
