"""The handler file as classic Outlook on Windows runs it: alone, in a bare JavaScript context (Node's vm) with no
window, no document, no navigator and no module loader; only timers, console, fetch and the Office stub."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.addin.conftest import CLIENT_ID, HERE

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def run(handler_path, scenario: dict, msal: str, api: str = "ok") -> dict:
    """``msal``: "stub" (tests/addin/msal_stub.js), "alone" (the real MSAL.js, no window) or "bridge" (the real
    MSAL.js with the host's nested app authentication bridge; see node_runner.js)."""
    stub = {"stub": str(HERE / "msal_stub.js"), "alone": "-", "bridge": "bridge"}[msal]
    done = subprocess.run([NODE, str(HERE / "node_runner.js"), str(handler_path), str(HERE / "office_stub.js"), stub,
                           json.dumps(scenario), api], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


@pytest.fixture
def handler_path(handler_source, tmp_path):
    path = tmp_path / "launchevent.js"
    path.write_text(handler_source)
    return path


def test_the_served_file_loads_and_inserts_a_signature_without_any_dom(handler_path):
    out = run(handler_path, {"itemType": "message", "composeType": "reply"}, msal="stub")
    assert out["globals"] == {"window": "undefined", "document": "undefined", "navigator": "undefined",
                              "importScripts": "undefined"}
    assert out["associated"] == ["onNewAppointmentOrganizer", "onNewMessageCompose"]
    assert out["record"]["completed"] == 1
    assert out["record"]["signature"] == {"data": "<p>Ada Lovelace</p>", "coercionType": "html"}
    assert out["requests"] == [{"url": "https://sigsync.test/api/v1/me/signature?compose=reply",
                                "authorization": "Bearer token-for-ada"}]


def test_real_msal_without_the_hosts_bridge_asks_for_sign_in_and_completes(handler_path):
    # MSAL.js's nested app authentication needs the host's window.nestedAppAuthBridge (not a DOM): with none it
    # refuses (non_browser_environment), and the handler shows the sign-in notification and completes.
    out = run(handler_path, {"itemType": "message", "composeType": "newMail"}, msal="alone")
    assert out["record"]["completed"] == 1
    assert out["record"]["signature"] is None and out["requests"] == []
    assert [n["key"] for n in out["record"]["notifications"]] == ["sigsyncSignIn"]


def test_offline_in_the_javascript_only_runtime_the_event_still_completes(handler_path):
    out = run(handler_path, {"itemType": "appointment"}, msal="stub", api="down")
    assert out["record"]["completed"] == 1
    assert out["record"]["signature"] is None and out["record"]["notifications"] == []


def test_real_msal_nested_app_authentication_through_the_hosts_bridge_needs_no_dom(handler_path):
    # What Outlook's host gives MSAL.js: `window` (the global object) with window.nestedAppAuthBridge, and crypto,
    # atob and TextDecoder. No document, no navigator, no storage: the real bundle gets the token through the bridge.
    out = run(handler_path, {"itemType": "message", "composeType": "newMail"}, msal="bridge")
    assert out["globals"]["document"] == "undefined" and out["globals"]["navigator"] == "undefined"
    assert out["bridgeRequests"] == [
        {"method": "GetInitContext"},
        {"method": "GetToken", "scope": f"api://{CLIENT_ID}/access_as_user", "clientId": CLIENT_ID}]
    assert out["requests"] == [{"url": "https://sigsync.test/api/v1/me/signature?compose=new",
                                "authorization": "Bearer token-from-the-host"}]
    assert out["record"]["completed"] == 1
    assert out["record"]["signature"] == {"data": "<p>Ada Lovelace</p>", "coercionType": "html"}
