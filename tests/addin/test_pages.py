"""The add-in's files as the portal serves them: the manifest, the handler file, the runtime page, the task pane,
the well-known list of allowed files, and the policy that lets Outlook (only Outlook) frame them."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

from lxml import etree

from portal import create_app
from portal.addin import manifest
from portal.app import CONTENT_SECURITY_POLICY
from tests.addin.conftest import CLIENT_ID, PUBLIC_URL

NS = {"o": "http://schemas.microsoft.com/office/appforoffice/1.1",
      "v": "http://schemas.microsoft.com/office/mailappversionoverrides/1.1",
      "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0",
      "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def _policy(response) -> dict[str, str]:
    value = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in value.split(";") if part.strip())


def _manifest(client):
    response = client.get("/addin/manifest.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    return etree.fromstring(response.get_data())


def test_every_url_in_the_manifest_is_under_the_public_url(client):
    root = _manifest(client)
    values = [e.get("DefaultValue") for e in root.iter() if e.get("DefaultValue", "").startswith(("http:", "https:"))]
    values += [e.text for e in root.iter(f"{{{NS['o']}}}AppDomain")]
    assert len(values) >= 10
    assert all(value.startswith(PUBLIC_URL + "/") or value == PUBLIC_URL for value in values), values
    urls = {e.get("id"): e.get("DefaultValue") for e in root.iterfind(".//bt:Url", NS)}
    assert urls == {"Runtime.Url": f"{PUBLIC_URL}/addin/commands.html",
                    "Runtime.Js.Url": f"{PUBLIC_URL}/addin/launchevent.js",
                    "Taskpane.Url": f"{PUBLIC_URL}/addin/taskpane.html"}


def test_the_manifest_launches_on_new_mail_and_appointments_on_desktop_and_mail_on_mobile(client):
    root = _manifest(client)
    assert root.findtext("o:Permissions", namespaces=NS) == "ReadWriteItem"
    host = root.find(".//v:Host", NS)
    desktop_events = {(e.get("Type"), e.get("FunctionName"))
                      for e in host.iterfind("v:DesktopFormFactor/v:ExtensionPoint/v:LaunchEvents/v:LaunchEvent", NS)}
    assert desktop_events == {("OnNewMessageCompose", "onNewMessageCompose"),
                              ("OnNewAppointmentOrganizer", "onNewAppointmentOrganizer")}
    mobile = "v:MobileFormFactor/v:ExtensionPoint/v:LaunchEvents/v:LaunchEvent"
    mobile_events = {e.get("Type") for e in host.iterfind(mobile, NS)}
    assert mobile_events == {"OnNewMessageCompose"}
    override = host.find("v:Runtimes/v:Runtime/v:Override", NS)
    assert (override.get("type"), override.get("resid")) == ("javascript", "Runtime.Js.Url")
    surfaces = [p.get(XSI_TYPE) for p in host.iterfind("v:DesktopFormFactor/v:ExtensionPoint", NS)]
    assert surfaces == ["MessageComposeCommandSurface", "AppointmentOrganizerCommandSurface", "LaunchEvent"]
    # The notification's "Sign in" opens the task pane by these button ids (static/addin/launchevent.js).
    buttons = {c.get("id") for c in host.iterfind(".//v:Control", NS)}
    assert buttons == {manifest.MESSAGE_BUTTON, manifest.APPOINTMENT_BUTTON}
    icons = {e.get("id") for e in root.iterfind(".//bt:Image[@id]", NS)}
    assert "Icon.16x16" in icons  # the notification's icon


def test_the_manifest_id_is_stable_for_the_installation_and_differs_for_another(app, config):
    first = _manifest(app.test_client()).findtext("o:Id", namespaces=NS)
    again = _manifest(create_app(config).test_client()).findtext("o:Id", namespaces=NS)
    other = _manifest(create_app(replace(config, public_url="https://sig.other.example")).test_client())
    assert first == again == manifest.addin_id(config)
    assert other.findtext("o:Id", namespaces=NS) != first
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first)


def test_the_manifest_downloads_as_a_file_when_asked(client):
    response = client.get("/addin/manifest.xml?download=1")
    assert response.headers["Content-Disposition"] == 'attachment; filename="sigsync-outlook-manifest.xml"'


def test_the_handler_file_carries_its_settings_msal_and_the_handler(client, handler_source):
    first_line, rest = handler_source.split("\n", 1)
    settings = json.loads(first_line.removeprefix("var SIGSYNC_ADDIN = ").removesuffix(";"))
    assert settings["apiUrl"] == f"{PUBLIC_URL}/api/v1/me/signature"
    assert settings["clientId"] == CLIENT_ID and settings["scope"] == f"api://{CLIENT_ID}/access_as_user"
    assert settings["authority"] == "https://login.microsoftonline.com/organizations"
    assert rest.startswith("/*! @azure/msal-browser v5.30.0")
    assert 'root.Office.actions.associate("onNewMessageCompose", onCompose);' in rest
    response = client.get("/addin/launchevent.js")
    assert response.mimetype == "text/javascript"
    assert client.get("/addin/launchevent.js", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_the_well_known_file_lists_the_handler_file_the_manifest_names(client):
    response = client.get("/.well-known/microsoft-officeaddins-allowed.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    allowed = response.get_json()["allowed"]
    runtime_js = _manifest(client).find(".//bt:Url[@id='Runtime.Js.Url']", NS).get("DefaultValue")
    assert allowed == [runtime_js]


def test_the_runtime_page_loads_office_js_from_microsoft_and_the_handler(client):
    page = client.get("/addin/commands.html").get_data(as_text=True)
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts == ["https://appsforoffice.microsoft.com/lib/1/hosted/office.js", "/static/addin/commands.js",
                       "/addin/launchevent.js"]


def test_the_task_pane_is_labelled_and_announces_its_status(client):
    page = client.get("/addin/taskpane.html").get_data(as_text=True)
    assert '<p id="status" role="status" aria-live="polite">' in page
    assert '<button type="button" id="insert" disabled>Insert signature</button>' in page
    assert f'data-api-url="{PUBLIC_URL}/api/v1/me/signature"' in page
    assert "/static/vendor/msal-browser-5.30.0.min.js" in page
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", page) and "<style" not in page


def test_outlook_may_frame_the_add_in_and_nobody_may_frame_the_portal(client, signed_in):
    for path in ("/addin/commands.html", "/addin/taskpane.html", "/addin/launchevent.js", "/addin/manifest.xml"):
        response = client.get(path)
        policy = _policy(response)
        assert "X-Frame-Options" not in response.headers, path
        assert "https://outlook.office.com" in policy["frame-ancestors"].split(), path
        assert "'none'" not in policy["frame-ancestors"]
        assert policy["script-src"] == "'self' https://appsforoffice.microsoft.com"
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    for path in ("/", "/outlook-add-in", "/.well-known/microsoft-officeaddins-allowed.json"):
        response = signed_in.get(path)
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["X-Frame-Options"] == "DENY"


def test_the_vendored_msal_bundle_is_the_pinned_release():
    # npm pack @azure/msal-browser@5.30.0 → package/lib/msal-browser.min.js, with its MIT licence beside it.
    vendor = Path(__file__).resolve().parents[2] / "static" / "vendor"
    bundle = (vendor / "msal-browser-5.30.0.min.js").read_bytes()
    assert hashlib.sha256(bundle).hexdigest() == "1115b080498b79b0b4b621dd3df478b0a9b1035f5d076d5741d1888f06923b84"
    assert bundle.startswith(b"/*! @azure/msal-browser v5.30.0")
    assert "MIT License" in (vendor / "msal-browser-5.30.0.LICENSE").read_text()
