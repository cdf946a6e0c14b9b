"""Throttling, outages, dropped connections and dead tokens, injected by the simulator."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from portal.m365 import auth
from portal.m365.crypto import TokenCipher
from portal.m365.errors import ConsentRequired, GraphThrottled, GraphUnavailable
from portal.m365.graph import GraphClient
from portal.m365.retry import RetryPolicy
from tests.m365.support import RecordingSleep, app_connection

USERS = {"$select": "id", "$top": 999}


def _users(graph: GraphClient) -> list[str]:
    return [u["id"] for u in graph.iter_values("users", USERS)]


def test_throttling_storm_ends_in_success_with_waits_honoured(sim, graph, sleeps):
    sim.sim.faults.throttle(count=4, retry_after=7)
    assert len(_users(graph)) == sim.sim.tenant.count_users()
    assert sleeps.waits == [7, 7, 7, 7]
    assert (graph.stats.throttled, graph.stats.retries, graph.stats.waited) == (4, 4, 28)


def test_decimal_retry_after_is_honoured(sim, graph, sleeps):
    sim.sim.faults.throttle(count=2, retry_after=2.128, decimal=True)
    graph.get("users", {"$top": 1})
    assert sleeps.waits == [pytest.approx(2.128)] * 2


def test_a_storm_that_never_ends_gives_up_clearly(sim, graph, sleeps):
    sim.sim.faults.throttle(retry_after=30)
    with pytest.raises(GraphThrottled) as info:
        graph.get("users")
    assert sleeps.waits == [30] * 6  # six retries, then the budget of attempts is spent
    assert "slow down (HTTP 429)" in info.value.admin_message and "7 attempts" in info.value.admin_message


def test_a_retry_after_beyond_the_budget_is_not_waited_out(sim, graph, sleeps):
    sim.sim.faults.throttle(retry_after=200)
    with pytest.raises(GraphThrottled):
        graph.get("users")
    assert sleeps.waits == [200]  # a second 200 s wait would pass the 300 s budget


@pytest.mark.parametrize("status", [503, 504])
def test_unavailable_is_retried_with_jittered_backoff(sim, graph, sleeps, status):
    sim.sim.faults.unavailable(status=status, count=3)
    assert graph.get("users", {"$top": 1})["value"]
    assert len(sleeps.waits) == 3
    for retry, wait in enumerate(sleeps.waits, start=1):
        ceiling = 2 ** (retry - 1)
        assert ceiling / 2 <= wait <= ceiling


def test_unavailable_with_retry_after_waits_as_told(sim, graph, sleeps):
    sim.sim.faults.unavailable(status=503, count=1, retry_after=5)
    graph.get("users", {"$top": 1})
    assert sleeps.waits == [5]


def test_an_outage_that_never_ends_is_unavailable(sim, graph, sleeps):
    sim.sim.faults.unavailable(status=503)
    with pytest.raises(GraphUnavailable) as info:
        graph.get("users")
    assert len(sleeps.waits) == 6 and "HTTP 503" in info.value.admin_message


def test_dropped_connection_mid_paging_is_retried(sim, graph, sleeps):
    sim.sim.faults.drop(after=2, count=1, path_prefix="/v1.0/users")
    ids = [u["id"] for u in graph.iter_values("users", {"$select": "id", "$top": 40})]
    assert len(ids) == len(set(ids)) == sim.sim.tenant.count_users()
    assert len(sleeps.waits) == 1


def test_read_timeout_is_retried(sim, m365_config, sleeps):
    config = replace(m365_config, http_timeout=1)
    provider = auth.TokenProvider(config, app_connection(sim))
    sim.sim.faults.latency(1500, count=1, path_prefix="/v1.0/users")
    with GraphClient(config, provider, sleep=sleeps) as graph:
        assert graph.get("users", {"$top": 1})["value"]
    assert len(sleeps.waits) == 1


def test_batch_items_throttled_alone_are_retried_after_their_retry_after(sim, graph, sleeps):
    ids = _users(graph)[:5]
    sim.sim.faults.throttle(count=2, retry_after=3, path_prefix="/v1.0/users/")
    answers = graph.batch_get([f"/users/{uid}?$select=id" for uid in ids])
    assert [answers[str(i)].body["id"] for i in range(5)] == ids
    assert all(a.status == 200 for a in answers.values())
    assert sleeps.waits == [3] and graph.stats.throttled == 2


def test_expired_access_token_is_refreshed_once(sim, graph, sleeps):
    graph.get("users", {"$top": 1})
    token_posts = len([r for r in sim.sim.log.items("identity") if r.path.endswith("/token")])
    sim.sim.tokens.expire_access_tokens()  # Graph now answers 401 while MSAL still trusts its cache
    assert graph.get("users", {"$top": 1})["value"]
    assert len([r for r in sim.sim.log.items("identity") if r.path.endswith("/token")]) == token_posts + 1
    assert sleeps.waits == []


def test_revoked_refresh_token_needs_consent(sim, m365_config, delegated_connection, sleeps):
    provider = auth.TokenProvider(m365_config, delegated_connection)
    with GraphClient(m365_config, provider, sleep=sleeps) as graph:
        assert graph.get("users", {"$top": 1})["value"]
        sim.sim.tokens.expire_access_tokens()
        sim.sim.tokens.revoke_refresh_tokens()  # e.g. the admin's password was reset
        with pytest.raises(ConsentRequired) as info:
            graph.get("users", {"$top": 1})
    assert "invalid_grant" in info.value.reason and "reconnect" in info.value.admin_message


def test_budget_and_attempts_are_configurable(sim, m365_config):
    sleeps = RecordingSleep()
    provider = auth.TokenProvider(m365_config, app_connection(sim))
    sim.sim.faults.throttle(retry_after=1)
    with GraphClient(m365_config, provider, sleep=sleeps, policy=RetryPolicy(max_retries=2)) as graph:
        with pytest.raises(GraphThrottled):
            graph.get("users")
    assert sleeps.waits == [1, 1]


def test_no_token_or_secret_reaches_the_log(sim, m365_config, delegated_connection, caplog):
    caplog.set_level(logging.DEBUG)
    provider = auth.TokenProvider(m365_config, delegated_connection)
    sim.sim.faults.throttle(count=1, retry_after=0)
    with GraphClient(m365_config, provider, sleep=lambda s: None) as graph:
        graph.get("users", {"$top": 1})
        sim.sim.tokens.expire_access_tokens()
        graph.get("users", {"$top": 1})  # 401, refresh, retry
        token = provider.access_token()
    cache = json.loads(TokenCipher(m365_config.token_encryption_key).decrypt(delegated_connection.token_cache))
    secrets = [token, m365_config.ms_client_secret, *(rt["secret"] for rt in cache["RefreshToken"].values())]
    assert caplog.records and "retry 1" in caplog.text
    for secret in secrets:
        assert secret not in caplog.text
    assert "Bearer ey" not in caplog.text and "Authorization" not in caplog.text
