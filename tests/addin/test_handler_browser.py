"""The handler in headless Chromium against a stub of the Office host and of MSAL's nested app authentication.

The page loads the handler file exactly as the portal serves it (settings, MSAL.js, handler), then the MSAL stub;
the add-in API is answered by ``page.route`` (the real one needs Entra ID tokens, tested in tests/api). Every case
ends with exactly one ``event.completed()``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.addin.conftest import HERE, PUBLIC_URL
from tests.web.browser import CHROMIUM_ARGS

playwright_api = pytest.importorskip("playwright.sync_api")
HARNESS = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Outlook stub</title>
<script src="/office_stub.js"></script><script src="/addin/launchevent.js"></script>
<script src="/msal_stub.js"></script></head><body></body></html>"""
pytestmark = pytest.mark.slow


class Api:
    """The add-in API as the handler sees it: ``mode`` ok | down | offline | hang | 401 | 404 | 409 | 500."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict[str, str]] = []

    def answer(self, route, request) -> None:
        compose = parse_qs(urlsplit(request.url).query).get("compose", [""])[0]
        self.requests.append({"compose": compose, "authorization": request.headers.get("authorization", "")})
        if self.mode == "down":
            route.abort("connectionrefused")
        elif self.mode == "offline":
            route.abort("internetdisconnected")
        elif self.mode == "hang":
            return  # never answered: the handler's timer has to finish the event
        elif self.mode == "ok":
            body = {"html": f"<p>Ada Lovelace · {compose}</p>", "text": f"Ada Lovelace · {compose}"}
            route.fulfill(status=200, content_type="application/json", body=json.dumps(body),
                          headers={"ETag": '"abc"'})
        else:
            route.fulfill(status=int(self.mode), content_type="application/json",
                          body=json.dumps({"error": "no signature"}))


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def outlook(browser, handler_source):
    """A Chromium page that plays Outlook: ``outlook.compose(scenario)`` fires the event and returns the record."""
    api = Api()
    files = {"/office_stub.js": (HERE / "office_stub.js").read_text(),
             "/msal_stub.js": (HERE / "msal_stub.js").read_text(), "/addin/launchevent.js": handler_source}

    def serve(route, request) -> None:
        path = urlsplit(request.url).path
        if path == "/api/v1/me/signature":
            api.answer(route, request)
        elif path == "/harness.html":
            route.fulfill(status=200, content_type="text/html", body=HARNESS)
        elif path in files:
            route.fulfill(status=200, content_type="text/javascript", body=files[path])
        else:
            route.fulfill(status=404, body="")

    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route(f"{PUBLIC_URL}/**", serve)
    page.goto(f"{PUBLIC_URL}/harness.html")
    page.api = api
    page.compose = lambda scenario: page.evaluate("scenario => __compose(scenario)", scenario)
    yield page
    context.close()
    assert errors == []


def test_a_new_message_gets_the_signature_for_new_mail_and_outlooks_own_is_turned_off(outlook):
    record = outlook.compose({"itemType": "message", "composeType": "newMail"})
    assert record["completed"] == 1
    assert record["signature"] == {"data": "<p>Ada Lovelace · new</p>", "coercionType": "html"}
    assert record["calls"] == ["getComposeTypeAsync", "setSignatureAsync", "disableClientSignatureAsync"]
    assert outlook.api.requests == [{"compose": "new", "authorization": "Bearer token-for-ada"}]
    assert outlook.evaluate("__msal.requests") == [{"scopes": ["api://5d3c8d1e-2f0a-4b7c-9e61-0a4f3b2c1d00/access_as_user"]}]
    assert outlook.evaluate("__msal.configs[0].auth.clientId") == "5d3c8d1e-2f0a-4b7c-9e61-0a4f3b2c1d00"


@pytest.mark.parametrize("compose_type, compose", [("reply", "reply"), ("forward", "forward")])
def test_a_reply_or_forward_asks_for_its_own_signature(outlook, compose_type, compose):
    record = outlook.compose({"itemType": "message", "composeType": compose_type})
    assert record["completed"] == 1
    assert record["signature"]["data"] == f"<p>Ada Lovelace · {compose}</p>"
    assert [r["compose"] for r in outlook.api.requests] == [compose]


def test_a_plain_text_draft_gets_the_text_signature(outlook):
    record = outlook.compose({"itemType": "message", "composeType": "newMail", "bodyType": "text"})
    assert record["signature"] == {"data": "Ada Lovelace · new", "coercionType": "text"}


def test_an_appointment_on_the_web_gets_its_body_set_not_a_signature(outlook):
    record = outlook.compose({"itemType": "appointment", "platform": "OfficeOnline"})
    assert record["completed"] == 1
    assert "setSignatureAsync" not in record["calls"] and "getComposeTypeAsync" not in record["calls"]
    assert record["body"] == {"data": "<br><br><p>Ada Lovelace · new</p>", "coercionType": "html"}
    assert outlook.api.requests[0]["compose"] == "new"


def test_an_appointment_on_the_web_keeps_what_is_already_in_its_body(outlook):
    teams = ('<html><body><p><a href="https://teams.microsoft.com/l/meetup-join/1">Join the meeting</a></p>'
             "</body></html>")
    record = outlook.compose({"itemType": "appointment", "platform": "OfficeOnline", "existingBody": teams})
    assert record["completed"] == 1 and "setAsync" not in record["calls"]
    assert record["body"] == {"data": "<br><br><p>Ada Lovelace · new</p><br><br>", "coercionType": "html",
                              "prepended": True}


def test_an_appointment_in_classic_outlook_gets_a_signature(outlook):
    record = outlook.compose({"itemType": "appointment", "platform": "PC"})
    assert record["completed"] == 1
    assert record["signature"]["data"] == "<p>Ada Lovelace · new</p>" and record["body"] is None


def test_a_token_that_needs_the_user_shows_a_notification_that_opens_the_task_pane(outlook):
    outlook.evaluate("__msal.mode = 'interaction'")
    record = outlook.compose({"itemType": "message", "composeType": "newMail"})
    assert record["completed"] == 1
    assert record["signature"] is None and outlook.api.requests == []
    [notice] = record["notifications"]
    assert notice["message"]["type"] == "insightMessage"
    assert notice["message"]["actions"] == [{"actionType": "showTaskPane", "actionText": "Sign in",
                                             "commandId": "SigsyncMessageButton", "contextData": "{}"}]


def test_an_appointment_notification_opens_the_appointment_task_pane(outlook):
    outlook.evaluate("__msal.mode = 'interaction'")
    record = outlook.compose({"itemType": "appointment", "platform": "OfficeOnline"})
    assert record["notifications"][0]["message"]["actions"][0]["commandId"] == "SigsyncAppointmentButton"


def test_a_token_the_api_refuses_asks_for_sign_in_too(outlook):
    outlook.api.mode = "401"
    record = outlook.compose({"itemType": "message", "composeType": "newMail"})
    assert record["completed"] == 1 and record["signature"] is None
    assert [n["key"] for n in record["notifications"]] == ["sigsyncSignIn"]


@pytest.mark.parametrize("mode", ["down", "500", "404", "409"])
def test_when_the_api_is_down_or_has_no_signature_the_mail_is_left_as_it_is(outlook, mode):
    outlook.api.mode = mode
    record = outlook.compose({"itemType": "message", "composeType": "newMail"})
    assert record["completed"] == 1
    assert record["calls"] == ["getComposeTypeAsync"]
    assert record["notifications"] == []


def test_when_the_api_does_not_answer_the_timer_completes_the_event(outlook):
    outlook.api.mode = "hang"
    outlook.evaluate("SIGSYNC_ADDIN.timeoutMs = 200")
    record = outlook.compose({"itemType": "message", "composeType": "newMail"})
    assert record["completed"] == 1
    assert record["signature"] is None and record["notifications"] == []
    assert len(outlook.api.requests) == 1


def test_offline_the_mail_is_left_as_it_is(outlook):
    outlook.api.mode = "offline"
    record = outlook.compose({"itemType": "message", "composeType": "newMail"})
    assert record["completed"] == 1 and record["signature"] is None and record["notifications"] == []


def test_the_handler_registers_both_events_by_the_manifests_names(outlook):
    assert outlook.evaluate("__associated()") == ["onNewAppointmentOrganizer", "onNewMessageCompose"]


def test_handler_file_is_written_for_the_javascript_only_runtime():
    source = (Path(__file__).resolve().parents[2] / "static" / "addin" / "launchevent.js").read_text()
    source = re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.S)  # the code, not its comments
    for forbidden in ("document.", "window.", "import ", "require(", "Office.onReady", "Office.initialize"):
        assert forbidden not in source, forbidden
