"""The task pane in headless Chromium with its real page and policy from the portal: office.js (a stub served in
place of Microsoft's CDN), MSAL (a stub in place of the vendored bundle), the add-in API by ``page.route``.
Signed in silently it shows the account and both signatures; when the silent sign-in needs the user, the named
button signs in interactively; "Insert signature" puts the signature for the draft's compose type in."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.addin.conftest import HERE, PUBLIC_URL
from tests.web.browser import CHROMIUM_ARGS

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
OFFICE_JS = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"
pytestmark = pytest.mark.slow


@pytest.fixture
def taskpane(client):
    def open_pane(msal_mode: str, draft: dict):
        office = (HERE / "office_stub.js").read_text() + f"\n__draft({json.dumps(draft)});"
        msal = f"globalThis.__MSAL_MODE = {json.dumps(msal_mode)};\n" + (HERE / "msal_stub.js").read_text()
        requests: list[str] = []

        def serve(route, request) -> None:
            url = urlsplit(request.url)
            if url.path == "/api/v1/me/signature":
                compose = parse_qs(url.query)["compose"][0]
                requests.append(compose)
                body = {"html": f"<p>Ada Lovelace · {compose}</p>", "text": f"Ada Lovelace\n{compose}"}
                route.fulfill(status=200, content_type="application/json", body=json.dumps(body))
            elif url.path.startswith("/static/vendor/msal-browser-"):
                route.fulfill(status=200, content_type="text/javascript", body=msal)
            else:  # the portal's own answer, headers (the add-in's CSP) included
                with client.get(url.path) as response:
                    route.fulfill(status=response.status_code, headers=dict(response.headers),
                                  body=response.get_data())

        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 340, "height": 800})
        page.problems = []
        page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: page.problems.append(str(error)))
        page.route(OFFICE_JS, lambda route, request: route.fulfill(status=200, content_type="text/javascript",
                                                                  body=office))
        page.route(f"{PUBLIC_URL}/**", serve)
        page.goto(f"{PUBLIC_URL}/addin/taskpane.html")
        page.api_requests = requests
        opened.append(browser)
        return page

    opened = []
    with playwright_api.sync_playwright() as playwright:
        yield open_pane
        for browser in opened:
            browser.close()


def test_signed_in_silently_it_shows_the_account_and_both_signatures(taskpane):
    page = taskpane("ok", {"itemType": "message", "composeType": "reply"})
    expect(page.get_by_role("status")).to_have_text("Your signatures are up to date.")
    expect(page.locator("#account")).to_have_text("Ada Lovelace (ada@contoso.example)")
    expect(page.get_by_label("New e-mails")).to_have_text("Ada Lovelace\nnew")
    expect(page.get_by_label("Replies and forwards")).to_have_text("Ada Lovelace\nreply")
    expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_hidden()
    page.get_by_role("button", name="Insert signature").click()
    expect(page.get_by_role("status")).to_have_text("Signature inserted. You can edit it like any text.")
    assert page.evaluate("__record.signature") == {"data": "<p>Ada Lovelace · reply</p>", "coercionType": "html"}
    assert sorted(page.api_requests) == ["new", "reply"]
    assert page.problems == []


def test_when_the_silent_sign_in_needs_the_user_the_button_signs_in_interactively(taskpane):
    page = taskpane("interaction", {"itemType": "message", "composeType": "newMail"})
    expect(page.get_by_role("status")).to_have_text("Sign in once so Sigsync can put your signature into new mail.")
    assert page.api_requests == []
    page.get_by_role("button", name="Sign in with Microsoft").click()
    expect(page.get_by_role("status")).to_have_text("Your signatures are up to date.")
    assert page.evaluate("__msal.requests.filter(r => r.popup).length") == 1
    assert page.problems == []
