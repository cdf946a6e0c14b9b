"""The admins' "Outlook add-in" page in headless Chromium under the portal's real policy: reached from the main
navigation, its sections are headings, its links and buttons have names, the manifest downloads, nothing breaks
in the console. ``SIGSYNC_SCREENSHOTS=1`` also refreshes docs/screenshots/outlook-addin.png."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal import create_app
from portal.models import Connection
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "outlook-addin.png"
pytestmark = pytest.mark.slow


@pytest.fixture
def portal_url(config, admin, db, org):
    db.add(Connection(organization_id=org.id, tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47", mode="app"))
    db.commit()
    server = make_server("127.0.0.1", 0, create_app(config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_an_admin_finds_the_add_in_page_and_downloads_the_manifest(portal_url):
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.goto(portal_url + "/signin")
        page.get_by_label("Email").fill(ADMIN_EMAIL)
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(portal_url + "/")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Outlook add-in").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Outlook add-in")
        for name in ("Before you deploy", "1. Download the manifest", "2. Grant consent for the whole organisation",
                     "3. Deploy it in the Microsoft 365 admin center"):
            expect(page.get_by_role("heading", level=2, name=name)).to_be_visible()
        expect(page.get_by_role("link", name="Open Microsoft's admin-consent page")).to_have_attribute(
            "href", "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/adminconsent"
                    "?client_id=5d3c8d1e-2f0a-4b7c-9e61-0a4f3b2c1d00")
        expect(page.locator("#checks")).to_contain_text("OK: The user sync is active")
        if os.environ.get("SIGSYNC_SCREENSHOTS") == "1":
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        download_link = page.get_by_role("link", name="Download the manifest (XML)")
        download_link.focus()
        with page.expect_download() as download:
            page.keyboard.press("Enter")
        assert download.value.suggested_filename == "sigsync-outlook-manifest.xml"
        assert "<OfficeApp" in Path(download.value.path()).read_text()
        assert problems == []
        browser.close()
