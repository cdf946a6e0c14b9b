"""A newcomer's signature, in a real browser: design it, give it to a department, open an employee of that
department from their employee page and copy the signature — then read the clipboard back and find the rich
HTML (inline styles, escaped data) and the plain text on it, with ClipboardItem and without it (the copy
event), and the HTML source as text.

Runs with its own organisation and admin, so it needs nothing from the admin journey.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from portal import admins
from portal.db import get_engine
from portal.models import Department, Employee, EmployeeDepartment, SignatureTemplate
from portal.organizations import create_organization
from portal.signatures import resolve, service
from tests.e2e.conftest import VIEWPORT, sign_in

pytestmark = pytest.mark.e2e

EMAIL = "designer@northwind-sig.example"
PASSWORD = "a long password for signatures"
SIGNATURE_HTML = ('<table cellpadding="0" cellspacing="0"><tr><td style="color: #0b5394; font-family: Arial">'
                  "<b>{{ full_name }}</b><br>{{ job_title }}<br>Mobile: {{ mobile }}<br>"
                  '<a href="mailto:{{ email }}">{{ email }}</a></td></tr></table>')
READ_CLIPBOARD = """async () => {
  const items = await navigator.clipboard.read();
  const out = {};
  for (const type of items[0].types) { out[type] = await (await items[0].getType(type)).text(); }
  return out;
}"""
# Chromium parses HTML handed to ClipboardItem in the page to sanitise it, and reports the signature's style
# attributes against the portal's policy (style-src 'self'); what it puts on the clipboard keeps them (checked below).
COPIED = re.compile(r"^Signature copied — paste it into")
WAIT = 15_000  # ms for each expectation: the machine may be busy (expect's own default is 5 s)
CHROMIUM_CLIPBOARD_NOTE = "Applying inline style violates the following Content Security Policy directive"


@pytest.fixture(scope="module")
def northwind(stack) -> dict[str, int]:
    """An organisation with an admin, a department Sales and Jörg in it (with no mobile number)."""
    with Session(get_engine(stack.database_url)) as session:
        org = create_organization(session, "northwind-sig", "Northwind Signatures", seats=None)
        admins.create_admin(session, org, EMAIL, PASSWORD, name="Dana Designer", actor="test")
        sales = Department(organization_id=org.id, name="Sales")
        person = Employee(organization_id=org.id, email="jorg@northwind-sig.example", display_name="Jörg <Größe>",
                          job_title="Head of Sales", mobile="")
        session.add_all([sales, person])
        session.flush()
        session.add(EmployeeDepartment(employee_id=person.id, department_id=sales.id))
        session.commit()
        return {"employee": person.id, "sales": sales.id}


@pytest.fixture
def clipboard_page(browser, stack) -> Iterator[object]:
    """A fresh profile that may read and write the clipboard, with the console's errors collected."""
    context = browser.new_context(base_url=stack.url, viewport=VIEWPORT,
                                  permissions=["clipboard-read", "clipboard-write"])
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.console_errors = []
    tab.on("console", lambda message: tab.console_errors.append(message.text) if message.type == "error" else None)
    sign_in(tab, EMAIL, PASSWORD)
    yield tab
    context.close()


def _ensure_signature(stack, northwind: dict[str, int]) -> None:
    """The first test's result, made directly when this test runs alone."""
    with Session(get_engine(stack.database_url)) as session:
        org_id = session.get(Department, northwind["sales"]).organization_id
        if resolve.for_employee(session, org_id, northwind["employee"])["new"].template_id is None:
            template = session.exec(select(SignatureTemplate).where(SignatureTemplate.organization_id == org_id,
                                                                    SignatureTemplate.name == "Northwind standard")
                                    ).first()
            if template is None:
                checked, errors = service.check("Northwind standard", SIGNATURE_HTML)
                assert not errors, errors
                template = service.save(session, SignatureTemplate(organization_id=org_id, name="", html=""),
                                        "Northwind standard", checked)
            service.assign(session, org_id, f"department:{northwind['sales']}", "new", template.id)
            session.commit()


def _signature_page(tab, employee_id: int) -> None:
    """From the employee's page to their signatures, as an admin goes."""
    tab.goto(f"/employees/{employee_id}")
    tab.get_by_role("link", name="See the signatures ready to copy").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Signatures of Jörg <Größe>", timeout=WAIT)


def test_a_newcomer_designs_assigns_and_copies_a_signature_into_the_clipboard(clipboard_page, northwind, shots):
    page = clipboard_page
    page.goto("/signatures/")
    page.get_by_role("link", name="New signature").click()
    page.get_by_label("Name").fill("Northwind standard")
    page.get_by_label("HTML", exact=True).fill(SIGNATURE_HTML)
    page.get_by_role("button", name="Save signature").click()
    expect(page.locator("#status")).to_contain_text("Signature “Northwind standard” saved.", timeout=WAIT)
    page.get_by_role("link", name="Signatures", exact=True).first.click()
    page.get_by_label("New e-mails for Sales").select_option(label="Northwind standard")
    page.get_by_role("button", name="Save Sales").click()
    expect(page.locator("#status")).to_contain_text("Signatures of department Sales saved.", timeout=WAIT)

    _signature_page(page, northwind["employee"])
    expect(page.get_by_test_id("reason-new")).to_have_text(re.compile("Department Sales"), timeout=WAIT)
    frame = page.frame_locator("[data-testid=signature-new]").locator("body")
    expect(frame).to_contain_text("Jörg <Größe>", timeout=WAIT)
    page.get_by_role("button", name="Copy signature for new e-mails").click()
    expect(page.get_by_test_id("copy-status-new")).to_have_text(COPIED, timeout=WAIT)
    copied = page.evaluate(READ_CLIPBOARD)
    assert "Jörg &lt;Größe&gt;" in copied["text/html"]  # the data escaped, never markup
    assert re.search(r'style="[^"]*color: ?#0b5394', copied["text/html"])  # the template's inline style
    assert 'href="mailto:jorg@northwind-sig.example"' in copied["text/html"]
    assert "Mobile" not in copied["text/html"]  # Jörg has no mobile: the line is gone
    assert copied["text/plain"] == "Jörg <Größe>\nHead of Sales\njorg@northwind-sig.example"
    page.get_by_text("Apple Mail", exact=True).click()  # a client's steps open in place
    expect(page.get_by_text("Always match my default message font")).to_be_visible(timeout=WAIT)
    page.evaluate("window.scrollTo(0, 0)")  # a framed signature scrolled out of view is not painted in the shot
    expect(frame).to_contain_text("Jörg <Größe>", timeout=WAIT)
    shots(page, "signature-copy")
    assert [e for e in page.console_errors if CHROMIUM_CLIPBOARD_NOTE not in e] == []


def test_without_clipboarditem_the_copy_event_carries_the_rich_signature(clipboard_page, stack, northwind):
    page = clipboard_page
    _ensure_signature(stack, northwind)
    page.add_init_script("delete window.ClipboardItem;")
    _signature_page(page, northwind["employee"])
    assert page.evaluate("typeof window.ClipboardItem") == "undefined"
    page.evaluate("navigator.clipboard.writeText('something else')")
    page.get_by_role("button", name="Copy signature for replies and forwards").click()
    expect(page.get_by_test_id("copy-status-reply")).to_have_text(COPIED, timeout=WAIT)
    copied = page.evaluate(READ_CLIPBOARD)
    assert "<b>Jörg &lt;Größe&gt;</b>" in copied["text/html"]
    assert copied["text/plain"].startswith("Jörg <Größe>\n")

    page.get_by_role("button", name="Copy HTML source for new e-mails").click()
    expect(page.get_by_test_id("copy-status-new")).to_have_text(re.compile(r"^HTML source copied"), timeout=WAIT)
    copied = page.evaluate(READ_CLIPBOARD)
    assert list(copied) == ["text/plain"]
    assert copied["text/plain"] == page.get_by_label("HTML of the signature for new e-mails").input_value()
    assert copied["text/plain"].startswith("<table")
    assert page.console_errors == []
