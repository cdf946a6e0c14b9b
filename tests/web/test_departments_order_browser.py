"""The signature order in headless Chromium, by keyboard alone: Enter on "Move … up" moves the department, the
focus stays on that row's button (its other one when it reached the top) and the status region says the new
position; no console errors under the app's CSP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from portal.models import Department, Organization
from tests.web.browser import served_portal, signed_in_tab

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
pytestmark = pytest.mark.slow
WAIT = 15_000  # ms for each expectation: the machine may be busy (expect's own default is 5 s)


@pytest.fixture
def portal_url(config, admin) -> Iterator[str]:
    with served_portal(config) as url:
        yield url


@pytest.fixture
def page(portal_url: str):
    with signed_in_tab(portal_url) as tab:
        tab.set_default_timeout(15_000)
        yield tab


def test_moving_a_department_by_keyboard_keeps_the_focus_and_announces_the_position(page, portal_url, db: Session,
                                                                                    org: Organization) -> None:
    rows = [Department(organization_id=org.id, name=name) for name in ("Berlin", "Research", "Sales")]
    db.add_all(rows)
    db.commit()
    sales = rows[2].id
    page.goto(portal_url + "/departments/")
    order = page.get_by_role("table", name="Signature order, first to last")
    status = page.locator("#status")

    def names() -> list[str]:
        return order.locator("tbody th").all_inner_texts()

    page.get_by_role("button", name="Move Sales up").focus()
    page.keyboard.press("Enter")
    expect(status).to_have_text("Sales is now 2 of 3 in the signature order, above Research.", timeout=WAIT)
    assert names() == ["Berlin", "Sales", "Research"]
    expect(page.get_by_role("button", name="Move Sales up")).to_be_focused(timeout=WAIT)

    page.keyboard.press("Enter")  # to the top: no "up" any more, the row's "down" keeps the focus
    expect(status).to_have_text("Sales is now 1 of 3 in the signature order, above Berlin.", timeout=WAIT)
    assert names() == ["Sales", "Berlin", "Research"]
    expect(page.get_by_role("button", name="Move Sales down")).to_be_focused(timeout=WAIT)
    assert page.evaluate("document.activeElement.id") == f"order-down-{sales}"

    page.keyboard.press("Enter")
    expect(status).to_have_text("Sales is now 2 of 3 in the signature order, below Berlin.", timeout=WAIT)
    expect(page.get_by_role("button", name="Move Sales down")).to_be_focused(timeout=WAIT)
    assert page.url == portal_url + "/departments/"  # htmx swapped the order in place: no page load
    assert page.problems == []
