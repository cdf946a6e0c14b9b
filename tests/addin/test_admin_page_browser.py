"""The admins' "Outlook add-in" page in headless Chromium under the portal's real policy: reached from the main
navigation, its sections are headings, its links and buttons have names, the manifest downloads, nothing breaks
in the console. ``SIGSYNC_SCREENSHOTS=1`` also refreshes docs/screenshots/outlook-addin.png."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portal.models import Connection
from tests.web.browser import served_portal, signed_in_tab

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "outlook-addin.png"
pytestmark = pytest.mark.slow


@pytest.fixture
def portal_url(config, admin, db, org):
    db.add(Connection(organization_id=org.id, tenant_id="72f988bf-86f1-41af-91ab-2d7cd011db47", mode="app"))
    db.commit()
    with served_portal(config) as url:
        yield url


def test_an_admin_finds_the_add_in_page_and_downloads_the_manifest(portal_url):
    with signed_in_tab(portal_url, accept_downloads=True) as page:
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
        assert page.problems == []
