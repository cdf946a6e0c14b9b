"""GET /api/v1/me/signature with Entra ID access tokens from the simulator: the person comes from the
validated token's oid alone; every wrong token is a 401 that says why; sync state, ETag, CORS, OpenAPI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import replace

import msal
import pytest
from sqlmodel import select

from portal import create_app
from portal.addin.identity import v2_issuer
from portal.api import entra_tokens, me
from portal.api.signatures import OPENAPI
from portal.models import Connection, Employee
from tests.api.conftest import ORIGIN, bearer
from tests.simulator.entra_helpers import form_action, hidden_value, redirect_params

URL = "/api/v1/me/signature"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict, dict, str]:
    head, body, sig = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(head))), json.loads(base64.urlsafe_b64decode(pad(body))), sig


def _refused(response, reason: str) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="')
    assert reason in challenge and reason in response.get_json()["error"]
    assert set(response.get_json()) == {"error"} and response.headers["Cache-Control"] == "no-store"


def _keys_fetched(sim) -> int:
    return len([i for i in sim.sim.log.items("identity") if i.path.endswith("/discovery/v2.0/keys")])


# -- the person's signature ------------------------------------------------------------------------


def test_a_valid_token_gets_the_persons_signature_for_each_compose_type(api, people, issue):
    token = issue(people["ada"])
    answer = api.get(URL, headers=bearer(token))
    assert answer.status_code == 200
    assert answer.get_json() == {"email": "ada@acme.example", "compose": "new", "signature": "Standard",
                                 "reason": answer.get_json()["reason"], "html": "<p><b>Ada Example</b></p>",
                                 "text": "Ada Example"}
    assert answer.headers["Cache-Control"] == "private, no-cache" and "Authorization" in answer.headers["Vary"]
    reply = api.get(f"{URL}?compose=reply", headers=bearer(token)).get_json()
    forward = api.get(f"{URL}?compose=forward", headers=bearer(token)).get_json()
    assert reply["html"] == forward["html"] == "<p>Ada</p>"
    assert (reply["compose"], forward["compose"]) == ("reply", "forward")
    assert api.get(f"{URL}?compose=draft", headers=bearer(token)).status_code == 400


def test_etag_and_304(api, people, issue, db):
    token = issue(people["ada"])
    first = api.get(URL, headers=bearer(token))
    etag = first.headers["ETag"]
    again = api.get(URL, headers=bearer(token, **{"If-None-Match": etag}))
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    other = api.get(f"{URL}?compose=reply", headers=bearer(token, **{"If-None-Match": etag}))
    assert other.status_code == 200 and other.headers["ETag"] != etag


def test_paused_person_is_served_excluded_deactivated_and_unknown_are_404(api, people, issue):
    assert api.get(URL, headers=bearer(issue(people["pat"]))).status_code == 200
    for name in ("ex", "gone", "stranger"):
        answer = api.get(URL, headers=bearer(issue(people[name])))
        assert answer.status_code == 404, name
        assert "sync does not include you" in answer.get_json()["error"]


def test_the_person_is_the_tokens_oid_never_something_the_client_sends(api, people, issue):
    token = issue(people["ex"])
    for query in ("?email=ada@acme.example", "?oid=" + people["ada"], "?upn=ada@acme.example"):
        assert api.get(URL + query, headers=bearer(token)).status_code == 404


# -- tokens that are refused -----------------------------------------------------------------------


def test_no_token_is_401_with_a_bearer_challenge(api, people):
    answer = api.get(URL)
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == 'Bearer realm="sigsync"'
    assert api.get(URL, headers={"Authorization": "Basic YTpi"}).status_code == 401


def _tampered(issue, people) -> str:
    head, _, sig = issue(people["ex"]).split(".")
    body = issue(people["ada"]).split(".")[1]
    return f"{head}.{body}.{sig}"  # ada's claims under a signature made for someone else's


def _alg_none(issue, people) -> str:
    _, body, _ = issue(people["ada"]).split(".")
    return _b64(json.dumps({"typ": "JWT", "alg": "none"}).encode()) + f".{body}."


def _hs256_with_public_key(issue, people, sim, sim_http) -> str:
    token = issue(people["ada"])
    header, claims, _ = _parts(token)
    pem = sim_http.get(f"{sim.base_url}/_sim/entra/keys/{header['kid']}/public.pem").content
    head = _b64(json.dumps({**header, "alg": "HS256"}).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}." + _b64(hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest())


def _claims(**overrides):
    return lambda issue, people: issue(people["ada"], claims=overrides)


_NOW = int(time.time())
_OTHER_TENANT = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CASES = {
    "bad signature": (_tampered, "signature does not verify"),
    "wrong issuer": (_claims(iss="https://login.example.org/5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/v2.0"),
                     "another issuer (iss)"),
    "v1 issuer": (_claims(iss="https://sts.windows.net/5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f/"),
                  "another issuer (iss)"),
    "audience is Graph": (_claims(aud="00000003-0000-0000-c000-000000000000"), "another application (aud)"),
    "audience is the app id uri": (lambda issue, people: issue(people["ada"], claims={
        "aud": "api://" + _parts(issue(people["ada"]))[1]["aud"]}), "another application (aud)"),
    "another client app": (_claims(azp="00000003-0000-0000-c000-000000000000"), "another application (azp)"),
    "no client app": (_claims(azp=None), "another application (azp)"),
    "another scope": (_claims(scp="User.Read Mail.Read"), "access_as_user scope"),
    "no scope": (_claims(scp=None), "access_as_user scope"),
    "id token": (lambda issue, people: issue(people["ada"], which="id_token"), "not an ID token"),
    "expired": (_claims(iat=_NOW - 4000, nbf=_NOW - 4000, exp=_NOW - 120), "has expired"),
    "not yet valid": (_claims(iat=_NOW + 600, nbf=_NOW + 600, exp=_NOW + 4000), "not valid yet"),
    "no exp": (_claims(exp=None), "no exp claim"),
    "version 1.0": (_claims(ver="1.0"), "Only v2.0"),
    "another tenant": (_claims(tid=_OTHER_TENANT, iss=f"https://login.microsoftonline.com/{_OTHER_TENANT}/v2.0"),
                       "is not connected"),
    "no tenant": (_claims(tid=None), "names no tenant"),
    "alg none": (_alg_none, "must be signed with RS256"),
    "not a jwt": (lambda issue, people: "not-a-token", "is not a JWT"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_wrong_token_is_401_and_never_logged(case, api, people, issue, caplog):
    make, reason = CASES[case]
    token = make(issue, people)
    with caplog.at_level(logging.INFO, logger="portal"):
        _refused(api.get(URL, headers=bearer(token)), reason)
    assert any(reason in r.getMessage() for r in caplog.records)
    assert not any(token in r.getMessage() for r in caplog.records)


def test_hs256_with_the_public_key_as_secret_is_refused(api, people, issue, sim, sim_http):
    _refused(api.get(URL, headers=bearer(_hs256_with_public_key(issue, people, sim, sim_http))), "RS256")


def test_clock_skew_of_a_few_seconds_is_allowed(api, people, issue):
    now = int(time.time())
    late = issue(people["ada"], claims={"iat": now - 4000, "nbf": now - 4000, "exp": now - 20})
    early = issue(people["ada"], claims={"iat": now + 20, "nbf": now + 20})
    assert api.get(URL, headers=bearer(late)).status_code == 200
    assert api.get(URL, headers=bearer(early)).status_code == 200


def test_another_tenant_is_refused_without_asking_microsoft(api, people, issue, sim):
    token = issue(people["ada"], claims={"tid": _OTHER_TENANT,
                                         "iss": v2_issuer(sim.base_url, _OTHER_TENANT)})
    _refused(api.get(URL, headers=bearer(token)), "not connected")
    assert sim.sim.log.items("identity") == []


# -- keys: cache, rotation, keys nobody lists --------------------------------------------------------


def test_unknown_kid_refreshes_the_keys_and_the_rotated_key_works(api, api_app, people, issue, sim, sim_http):
    first = issue(people["ada"])
    assert api.get(URL, headers=bearer(first)).status_code == 200
    assert api.get(URL, headers=bearer(issue(people["pat"]))).status_code == 200
    assert _keys_fetched(sim) == 1  # cached
    rotated = sim_http.post(f"{sim.base_url}/_sim/entra/keys/rotate", json={}).json()
    second = issue(people["ada"])
    assert _parts(second)[0]["kid"] == rotated["signing_kid"] != _parts(first)[0]["kid"]
    assert api.get(URL, headers=bearer(second)).status_code == 200
    assert _keys_fetched(sim) == 2  # the unknown kid made it fetch the JWKS again
    assert api.get(URL, headers=bearer(first)).status_code == 200  # the old key is still listed
    assert _keys_fetched(sim) == 2


def test_a_key_not_in_the_jwks_is_refused_and_refreshes_are_rate_limited(api, api_app, people, issue, sim,
                                                                          sim_http):
    now = [1000.0]
    with api_app.app_context():
        me.validator().clock = lambda: now[0]
    old_kid = _parts(issue(people["ada"]))[0]["kid"]
    sim_http.post(f"{sim.base_url}/_sim/entra/keys/rotate", json={"keep_previous": False})
    unlisted = issue(people["ada"], kid=old_kid)  # signed by a real simulator key that the JWKS no longer lists
    _refused(api.get(URL, headers=bearer(unlisted)), "unknown kid")
    assert _keys_fetched(sim) == 2  # the cached set, then one refresh for the unknown kid
    _refused(api.get(URL, headers=bearer(unlisted)), "unknown kid")
    assert _keys_fetched(sim) == 2  # no second refresh within the interval
    now[0] += entra_tokens.MIN_REFRESH_INTERVAL
    _refused(api.get(URL, headers=bearer(unlisted)), "unknown kid")
    assert _keys_fetched(sim) == 3
    assert api.get(URL, headers=bearer(issue(people["ada"]))).status_code == 200  # the listed key signs fine
    assert _keys_fetched(sim) == 3


def test_entra_unreachable_is_503_not_401(api_config, people, issue):
    untrusting = create_app(replace(api_config, ca_bundle=""))  # the simulator's CA is not trusted
    answer = untrusting.test_client().get(URL, headers=bearer(issue(people["ada"])))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert "OpenID configuration could not be read" in answer.get_json()["error"]
    unconfigured = create_app(replace(api_config, ms_client_id=""))
    answer = unconfigured.test_client().get(URL, headers=bearer(issue(people["ada"])))
    assert answer.status_code == 503 and "MS_CLIENT_ID is not set" in answer.get_json()["error"]


# -- the organisation's sync --------------------------------------------------------------------------


@pytest.mark.parametrize("state,words", [("paused", "paused"), ("needs_consent", "reconnect"),
                                         ("disconnected", "disconnected")])
def test_sync_not_active_is_409(state, words, api, people, issue, db):
    connection = db.exec(select(Connection)).one()
    connection.state = state
    db.commit()
    token = issue(people["ada"])
    answer = api.get(URL, headers=bearer(token))
    assert answer.status_code == 409 and words in answer.get_json()["error"]
    _refused(api.get(URL, headers=bearer(issue(people["ada"], claims={"scp": None}))), "scope")


def test_a_reconnected_tenant_uses_the_live_connection(api, people, issue, db):
    old = db.exec(select(Connection)).one()
    db.add(Connection(organization_id=old.organization_id, tenant_id=old.tenant_id.upper(), state="disconnected"))
    db.commit()
    assert api.get(URL, headers=bearer(issue(people["ada"]))).status_code == 200


# -- CORS, CSRF, OpenAPI ---------------------------------------------------------------------------------


def test_cors_preflight_allows_only_the_addins_origin(api, people):
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    ours = api.options(URL, headers={"Origin": ORIGIN, **preflight})
    assert ours.status_code == 204 and ours.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in ours.headers["Access-Control-Allow-Headers"]
    assert ours.headers["Access-Control-Allow-Methods"] == "GET" and "Origin" in ours.headers["Vary"]
    for origin in ("https://evil.example", "http://sigsync.example:8443", "https://sigsync.example", "null"):
        theirs = api.options(URL, headers={"Origin": origin, **preflight})
        assert "Access-Control-Allow-Origin" not in theirs.headers, origin
        assert "Access-Control-Allow-Headers" not in theirs.headers


def test_cors_on_answers_and_refusals(api, people, issue):
    ok = api.get(URL, headers=bearer(issue(people["ada"]), Origin=ORIGIN))
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN and "ETag" in ok.headers["Access-Control-Expose-Headers"]
    refused = api.get(URL, headers=bearer("x.y.z", Origin=ORIGIN))
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == ORIGIN
    other = api.get(URL, headers=bearer(issue(people["ada"]), Origin="https://evil.example"))
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Set-Cookie" not in ok.headers  # bearer only: no session, so nothing for CSRF to protect


def test_the_openapi_description_matches_the_answers(api, people, issue, db):
    served = api.get("/api/v1/openapi.json").get_json()
    assert served == OPENAPI
    operation = served["paths"]["/api/v1/me/signature"]["get"]
    assert operation["security"] == [{"entra": []}]
    assert served["components"]["securitySchemes"]["entra"]["scheme"] == "bearer"
    schema = served["components"]["schemas"]["MySignature"]
    body = api.get(URL + "?compose=forward", headers=bearer(issue(people["ada"]))).get_json()
    assert set(body) == set(schema["properties"]) == set(schema["required"])
    assert body["compose"] in schema["properties"]["compose"]["enum"]
    assert operation["parameters"][0]["schema"]["enum"] == ["new", "reply", "forward"]
    seen = {api.get(URL, headers=bearer(issue(people[name]))).status_code for name in ("ada", "gone")}
    seen.add(api.get(URL).status_code)
    seen.add(api.get(URL + "?compose=x", headers=bearer(issue(people["ada"]))).status_code)
    db.exec(select(Connection)).one().state = "paused"
    db.commit()
    seen.add(api.get(URL, headers=bearer(issue(people["ada"]))).status_code)
    assert seen == {200, 400, 401, 404, 409}
    assert seen | {304, 422, 503} == {int(code) for code in operation["responses"]}


def test_a_tid_that_is_no_guid_is_refused(api, people, issue):
    _refused(api.get(URL, headers=bearer(issue(people["ada"], claims={"tid": str(uuid.uuid4())[:8]}))),
             "names no tenant")


def test_a_token_from_the_real_sign_in_flow_is_accepted(api, people, sim, sim_http, db):
    """MSAL Python through /authorize, the consent page and /token: the token the task pane's sign-in gets."""
    settings = sim.sim.settings
    admin = sim.sim.tenant.get_user(settings.admin_upn)
    ada = db.exec(select(Employee).where(Employee.email == "ada@acme.example")).one()
    ada.m365_id = admin["id"]
    db.commit()
    app = msal.ConfidentialClientApplication(settings.client_id, client_credential=settings.client_secret,
                                             authority=sim.authority, instance_discovery=False, http_client=sim_http)
    flow = app.initiate_auth_code_flow([f"api://{settings.client_id}/access_as_user"],
                                       redirect_uri=settings.redirect_uris[0], response_mode="form_post")
    page = sim_http.get(flow["auth_uri"])
    form = {"ctx": hidden_value(page.text, "ctx"), "login": settings.admin_upn, "passwd": settings.admin_password,
            "action": "accept"}
    answer = sim_http.post(form_action(page.text, sim.base_url), data=form, allow_redirects=False)
    result = app.acquire_token_by_auth_code_flow(flow, redirect_params(answer))
    got = api.get(URL, headers=bearer(result["access_token"]))
    assert got.status_code == 200 and got.get_json()["email"] == "ada@acme.example"


def test_a_tenant_connected_to_two_organisations_serves_neither(api, people, issue, db, sim):
    """Another organisation on the same tenant, with an employee of the person's oid and a phishing default,
    must never put its signature into this organisation's mail, whether the real owner is active or paused."""
    from portal.models import SignatureAssignment, SignatureTemplate
    from portal.organizations import create_organization

    other = create_organization(db, "other", "Other Ltd")
    db.commit()
    db.add(Connection(organization_id=other.id, tenant_id=sim.sim.settings.tenant_id, state="active"))
    phishing = SignatureTemplate(organization_id=other.id, name="Other",
                                 html='<p><a href="https://phish.example/login">Reset your password</a></p>')
    db.add(phishing)
    db.commit()
    db.add(SignatureAssignment(organization_id=other.id, target="default", compose="new", template_id=phishing.id))
    db.add(Employee(organization_id=other.id, email="ada@acme.example", status="active", source="m365",
                    m365_id=people["ada"]))
    db.commit()
    token = issue(people["ada"])

    both = api.get(URL, headers=bearer(token))
    assert both.status_code == 409 and "more than one Sigsync organisation" in both.get_json()["error"]
    ours = db.exec(select(Connection).where(Connection.organization_id != other.id)).one()
    ours.state = "paused"
    db.commit()
    paused = api.get(URL, headers=bearer(token))
    assert paused.status_code == 409 and "phish" not in paused.get_data(as_text=True)
    ours.state = "disconnected"  # the other organisation is now the only one connected: its data is its own
    db.commit()
    assert api.get(URL, headers=bearer(token)).get_json()["signature"] == "Other"


def test_entra_down_is_remembered_briefly_so_requests_do_not_each_wait_on_it(api_config, people, issue, sim):
    """Tenant ids are public: while Entra ID's metadata cannot be read, each request must not fetch it again."""
    from simulator.faults import Fault

    metadata = f"/{sim.sim.settings.tenant_id}/v2.0/.well-known/openid-configuration"
    sim.sim.faults.add(Fault("unavailable", status=503, surface="identity", path_prefix=metadata))
    try:
        fresh = create_app(api_config).test_client()  # its own key cache: nothing fetched yet
        answers = [fresh.get(URL, headers=bearer(issue(people["ada"]))).status_code for _ in range(3)]
    finally:
        sim.sim.faults.clear()
    assert answers == [503, 503, 503]
    assert len([i for i in sim.sim.log.items("identity") if i.path == metadata]) == 1
