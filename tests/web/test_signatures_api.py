"""The signature API: tokens (created once, hashed, revoked, last use), ETag/304, 404s, paused still served,
another organisation's employees never readable, and the OpenAPI description matching the answers."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from portal.api.signatures import OPENAPI
from portal.models import ApiToken, Employee, Organization, SignatureAssignment, SignatureTemplate


def _setup(db: Session, org: Organization) -> None:
    template = SignatureTemplate(organization_id=org.id, name="Standard",
                                 html="<p><b>{{ full_name }}</b><br>Mobile: {{ mobile }}</p>")
    reply = SignatureTemplate(organization_id=org.id, name="Short", html="<p>{{ first_name }}</p>")
    db.add_all([template, reply])
    db.commit()
    db.add_all([SignatureAssignment(organization_id=org.id, target="default", compose="new", template_id=template.id),
                SignatureAssignment(organization_id=org.id, target="default", compose="reply", template_id=reply.id)])
    for email, status in (("ada@acme.example", "active"), ("pat@acme.example", "paused"),
                          ("ex@acme.example", "excluded"), ("gone@acme.example", "inactive")):
        db.add(Employee(organization_id=org.id, email=email, first_name="Ada", display_name="Ada <i>L</i>",
                        status=status))
    db.commit()


@pytest.fixture
def token(signed_in, csrf_token, db, org) -> str:
    _setup(db, org)
    form_token = csrf_token(signed_in, "/signatures/")
    page = signed_in.post("/signatures/tokens", data={"token-name": "Outlook add-in", "csrf_token": form_token})
    match = re.search(r'id="new-token" type="text" readonly value="([^"]+)"', page.get_data(as_text=True))
    assert match, "the new token is shown once"
    # shown once: the list page does not have it, the database holds only its hash
    assert match.group(1) not in signed_in.get("/signatures/").get_data(as_text=True)
    row = db.exec(select(ApiToken)).one()
    assert row.token_hash != match.group(1) and match.group(1) not in row.token_hash
    return match.group(1)


def _get(client, path: str, token: str | None, **headers: str):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(path, headers=headers)


def test_a_signature_with_etag_and_304(client, token, db) -> None:
    response = _get(client, "/api/v1/signatures/ADA@acme.example", token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["html"] == "<p><b>Ada &lt;i&gt;L&lt;/i&gt;</b></p>" and body["text"] == "Ada <i>L</i>"
    assert body["signature"] == "Standard" and body["compose"] == "new"
    assert _get(client, "/api/v1/signatures/ada@acme.example?compose=reply", token).get_json()["html"] == "<p>Ada</p>"
    etag = response.headers["ETag"]
    again = _get(client, "/api/v1/signatures/ada@acme.example", token, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    db.exec(select(Employee).where(Employee.email == "ada@acme.example")).one().mobile = "0170"
    db.commit()
    changed = _get(client, "/api/v1/signatures/ada@acme.example", token, **{"If-None-Match": etag})
    assert changed.status_code == 200 and "Mobile: 0170" in changed.get_json()["html"]
    assert db.exec(select(ApiToken)).one().last_used_at is not None


def test_paused_is_served_and_unknown_excluded_inactive_are_404(client, token) -> None:
    assert _get(client, "/api/v1/signatures/pat@acme.example", token).status_code == 200
    for email in ("nobody@acme.example", "ex@acme.example", "gone@acme.example"):
        assert _get(client, f"/api/v1/signatures/{email}", token).status_code == 404, email
    assert _get(client, "/api/v1/signatures/ada@acme.example?compose=forward", token).status_code == 400


def test_missing_wrong_and_revoked_tokens_are_401(client, signed_in, csrf_token, token, db) -> None:
    assert _get(client, "/api/v1/signatures/ada@acme.example", None).status_code == 401
    assert _get(client, "/api/v1/signatures/ada@acme.example", token + "x").status_code == 401
    row = db.exec(select(ApiToken)).one()
    form_token = csrf_token(signed_in, "/signatures/")
    assert signed_in.post(f"/signatures/tokens/{row.id}/revoke", data={"csrf_token": form_token}).status_code == 303
    assert _get(client, "/api/v1/signatures/ada@acme.example", token).status_code == 401


def test_a_token_never_reads_another_organisations_employee(client, token, db, other_org) -> None:
    db.add(Employee(organization_id=other_org.id, email="secret@globex.example", display_name="Secret"))
    db.commit()
    _setup_other = SignatureTemplate(organization_id=other_org.id, name="Theirs", html="<p>{{ full_name }}</p>")
    db.add(_setup_other)
    db.commit()
    db.add(SignatureAssignment(organization_id=other_org.id, target="default", compose="new",
                               template_id=_setup_other.id))
    db.commit()
    assert _get(client, "/api/v1/signatures/secret@globex.example", token).status_code == 404


def test_the_openapi_description_matches_the_answers(client, token) -> None:
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.get_json() == OPENAPI
    operation = OPENAPI["paths"]["/api/v1/signatures/{email}"]["get"]
    schema = OPENAPI["components"]["schemas"]["Signature"]
    body = _get(client, "/api/v1/signatures/ada@acme.example", token).get_json()
    assert set(body) == set(schema["properties"]) == set(schema["required"])
    for name, _status in (("nobody@acme.example", 404), ("ada@acme.example?compose=x", 400)):
        response = _get(client, f"/api/v1/signatures/{name}", token)
        assert str(response.status_code) in operation["responses"]
        assert set(response.get_json()) == {"error"}
    assert "401" in operation["responses"] and "304" in operation["responses"]
