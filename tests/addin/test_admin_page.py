"""The admins' "Outlook add-in" page: manifest, consent link, deployment steps, and what stops the add-in working."""

from __future__ import annotations

import re
from dataclasses import replace

from portal import create_app
from portal.addin import deployment
from portal.models import Connection
from tests.addin.conftest import CLIENT_ID, PUBLIC_URL
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


def _connect(db, org, state="active") -> Connection:
    connection = Connection(organization_id=org.id, tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47", state=state,
                            mode="app")
    db.add(connection)
    db.commit()
    return connection


def test_the_page_needs_a_signed_in_admin(client, admin):
    response = client.get("/outlook-add-in")
    assert response.status_code == 302 and "/signin" in response.headers["Location"]


def test_the_main_navigation_leads_to_it(signed_in):
    page = signed_in.get("/outlook-add-in").get_data(as_text=True)
    assert '<a href="/outlook-add-in" aria-current="page">Outlook add-in</a>' in page
    assert re.findall(r"<h1[ >].*?</h1>", page) == ["<h1>Outlook add-in</h1>"]


def test_the_page_gives_the_manifest_the_consent_link_and_the_steps(signed_in, db, org):
    _connect(db, org)
    page = signed_in.get("/outlook-add-in").get_data(as_text=True)
    assert f'<code id="manifest-url">{PUBLIC_URL}/addin/manifest.xml</code>' in page
    assert ('<a class="button button-primary" href="/addin/manifest.xml?download=1" download>'
            "Download the manifest (XML)</a>") in page
    consent = f"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/adminconsent?client_id={CLIENT_ID}"
    assert f'href="{consent}"' in page
    assert f"<code>api://{CLIENT_ID}</code>" in page and "<code>access_as_user</code>" in page
    assert '<code id="broker-redirect">brk-multihub://sigsync.test</code>' in page
    for words in ("Settings → Integrated apps", "Upload custom apps", "everyone", "groups", "up to 24 hours"):
        assert words in page, words
    assert "OK: The public URL uses HTTPS" in page and "OK: The user sync is active" in page
    assert "Needs attention" not in page


def test_a_paused_or_missing_sync_is_named_as_what_stops_the_add_in(signed_in, db, org):
    page = signed_in.get("/outlook-add-in").get_data(as_text=True)
    assert "Needs attention: Microsoft 365 is not connected" in page
    assert "adminconsent" not in page
    _connect(db, org, state="paused")
    page = signed_in.get("/outlook-add-in").get_data(as_text=True)
    assert "Needs attention: The user sync is paused" in page and "answers 409" in page


def test_an_http_public_url_is_called_out_because_office_requires_https(config, admin):
    client = create_app(replace(config, public_url="http://127.0.0.1:5000")).test_client()
    client.post("/signin", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
                                 "csrf_token": _token(client)})
    page = client.get("/outlook-add-in").get_data(as_text=True)
    assert "Needs attention: The public URL is not HTTPS: Outlook will refuse the add-in" in page
    assert "Office loads add-ins only over HTTPS" in page
    assert "Needs attention: The public URL points at this computer" in page


def test_public_url_checks(config):
    assert [c.ok for c in deployment.public_url_checks(config)] == [True]
    checks = deployment.public_url_checks(replace(config, public_url="https://localhost:8443", ms_client_id=""))
    assert [(c.ok, c.title) for c in checks] == [
        (True, "The public URL uses HTTPS"), (False, "The public URL points at this computer"),
        (False, "No Entra ID app registration is configured")]


def _token(client) -> str:
    page = client.get("/signin").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
