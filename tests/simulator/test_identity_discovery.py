"""Entra ID discovery: the OpenID configuration, instance discovery and keys, shaped like Microsoft's."""

from __future__ import annotations

import pytest

from tests.simulator.samples import sample, shape


@pytest.mark.parametrize("tenant_kind", ["id", "domain"])
def test_openid_configuration_matches_microsoftsshape(sim_server, sim_http, tenant_kind):
    settings = sim_server.sim.settings
    tenant = settings.tenant_id if tenant_kind == "id" else settings.tenant_domain
    answer = sim_http.get(f"{sim_server.base_url}/{tenant}/v2.0/.well-known/openid-configuration")
    assert answer.status_code == 200
    doc = answer.json()
    assert shape(doc) == shape(sample("openid-configuration.json"))
    path = f"{sim_server.base_url}/{settings.tenant_id}"
    assert doc["token_endpoint"] == f"{path}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == f"{path}/oauth2/v2.0/authorize"
    assert doc["issuer"] == f"{path}/v2.0"
    assert answer.headers["Cache-Control"] == "max-age=86400, private"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("generic", ["common", "organizations"])
def test_generic_tenants_keep_their_segment_and_a_placeholder_issuer(sim_server, sim_http, generic):
    doc = sim_http.get(f"{sim_server.base_url}/{generic}/v2.0/.well-known/openid-configuration").json()
    assert doc["token_endpoint"] == f"{sim_server.base_url}/{generic}/oauth2/v2.0/token"
    assert doc["issuer"] == f"{sim_server.base_url}/{{tenantid}}/v2.0"


def test_unknown_tenant_is_invalid_tenant_90002(sim_server, sim_http):
    answer = sim_http.get(f"{sim_server.base_url}/nosuchtenant.example/v2.0/.well-known/openid-configuration")
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid_tenant"
    assert body["error_codes"] == [90002]
    assert body["error_description"].startswith("AADSTS90002: Tenant 'nosuchtenant.example' not found.")


def test_instance_discovery_answers_for_this_host_only(sim_server, sim_http):
    url = f"{sim_server.base_url}/common/discovery/instance"
    ours = sim_http.get(url, params={"api-version": "1.1", "authorization_endpoint":
                                     f"{sim_server.authority}/oauth2/v2.0/authorize"})
    assert ours.status_code == 200
    doc = ours.json()
    assert set(doc) == set(sample("instance-discovery-response.json"))
    assert doc["tenant_discovery_endpoint"] == f"{sim_server.authority}/v2.0/.well-known/openid-configuration"
    other = sim_http.get(url, params={"authorization_endpoint": "https://login.example.org/x/oauth2/v2.0/authorize"})
    assert other.status_code == 400
    assert other.json()["error"] == "invalid_instance"


def test_jwks_uri_answers(sim_server, sim_http):
    doc = sim_http.get(f"{sim_server.authority}/v2.0/.well-known/openid-configuration").json()
    keys = sim_http.get(doc["jwks_uri"]).json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["use"] == "sig" for k in keys)  # details: test_api_tokens.py


def test_every_identity_request_is_logged(sim_server, sim_http):
    sim_server.sim.log.clear()
    sim_http.get(f"{sim_server.authority}/v2.0/.well-known/openid-configuration")
    logged = sim_server.sim.log.items("identity")
    assert [(i.method, i.path, i.status) for i in logged] == [
        ("GET", f"/{sim_server.sim.settings.tenant_id}/v2.0/.well-known/openid-configuration", 200)
    ]
