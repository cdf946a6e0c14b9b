"""The signature editor in headless Chromium with the app's real Content-Security-Policy: typing changes the
live preview (as a chosen employee, empty lines gone, no console errors); assigning a department works.
``SIGSYNC_SCREENSHOTS=1`` also refreshes docs/screenshots/signature-editor.png."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from portal.models import Department, Employee, EmployeeDepartment, Organization
from portal.signatures.resolve import for_employee
from tests.web.browser import served_portal, signed_in_tab

playwright_api = pytest.importorskip("playwright.sync_api")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "signature-editor.png"
pytestmark = pytest.mark.slow


@pytest.fixture
def portal_url(config, admin) -> Iterator[str]:
    with served_portal(config) as url:
        yield url


@pytest.fixture
def page(portal_url: str):
    with signed_in_tab(portal_url) as tab:
        yield tab


def test_typing_changes_the_preview_as_the_chosen_employee(page, portal_url, db: Session, org: Organization,
) -> None:
    jorg = Employee(organization_id=org.id, email="jorg@acme.example", display_name="Jörg Größe", job_title="CTO",
                    mobile="", phone="+49 30 1234")
    db.add(jorg)
    db.commit()
    page.goto(portal_url + "/signatures/new")
    preview = page.frame_locator("[data-testid=signature-frame]").locator("body")
    playwright_api.expect(preview).to_contain_text("Ada Lovelace")
    page.get_by_label("Preview as").select_option(str(jorg.id))
    playwright_api.expect(preview).to_contain_text("Jörg Größe")
    playwright_api.expect(preview).not_to_contain_text("Mobile")  # Jörg has no mobile: the line went
    page.get_by_label("HTML").fill('<p style="color: #0b5394"><b>{{ full_name }}</b> · {{ job_title }}<br>'
                                   'Mobile: {{ mobile }}<br>Phone: {{ phone }}</p>')
    playwright_api.expect(preview).to_contain_text("Jörg Größe · CTO")
    # the inline style reaches the preview (the preview is its own document with its own policy)
    playwright_api.expect(preview.locator("p")).to_have_css("color", "rgb(11, 83, 148)")
    page.get_by_label("Name").fill("Standard")
    if os.environ.get("SIGSYNC_SCREENSHOTS") == "1":
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.get_by_role("button", name="Save signature").click()
    page.wait_for_url("**/signatures/*")
    assert "Signature “Standard” saved." in page.locator("#status").inner_text()
    assert page.problems == []


def test_assigning_a_department_decides_an_employees_signature(page, portal_url, db: Session, org) -> None:
    from portal.models import SignatureTemplate

    template = SignatureTemplate(organization_id=org.id, name="Sales look", html="<p>{{ full_name }}</p>")
    sales = Department(organization_id=org.id, name="Sales")
    employee = Employee(organization_id=org.id, email="e@acme.example")
    db.add_all([template, sales, employee])
    db.commit()
    db.add(EmployeeDepartment(employee_id=employee.id, department_id=sales.id))
    db.commit()
    page.goto(portal_url + "/signatures/")
    page.get_by_label("New e-mails for Sales").select_option(str(template.id))
    page.get_by_role("button", name="Save Sales").click()
    playwright_api.expect(page.locator("#status")).to_contain_text("Signatures of department Sales saved.")
    resolved = for_employee(db, org.id, employee.id)
    assert resolved["new"].template_id == template.id and resolved["reply"].template_id == template.id
    assert page.problems == []
