"""An admin's first day, in a real browser: each test starts where the one before left the organisation
(pytest runs them in this order), and finds everything by its role and visible label.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select
from sqlmodel import Session

from portal.db import get_engine
from portal.models import Employee
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_NAME, ADMIN_PASSWORD, ORG_NAME, sign_in

pytestmark = pytest.mark.e2e


def test_first_run_setup_creates_the_organisation_and_its_admin(page, shots):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.get_by_role("heading", name="Set up Sigsync")).to_be_visible()
    page.get_by_label("Organisation name").fill(ORG_NAME)
    page.get_by_label("Short name").fill("contoso")
    page.get_by_label("Your name").fill(ADMIN_NAME)
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_label("Repeat password").fill("not the same")
    page.get_by_role("button", name="Create organisation").click()
    # the form again, nothing typed lost, the problem at the field
    expect(page.get_by_label("Repeat password")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Organisation name")).to_have_value(ORG_NAME)
    page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_label("Repeat password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Create organisation").click()
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Dashboard", "Employees", "Departments", "Sync", "Settings"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    page.goto("/setup")  # gone once an organisation exists
    expect(page.get_by_role("heading", name="Set up Sigsync")).to_have_count(0)


def test_sign_in_refuses_a_wrong_password_then_lets_the_admin_in(page, shots):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin"))
    shots(page, "signin")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill("wrong password, surely")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Email")).to_have_value(ADMIN_EMAIL)
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    sign_in(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard")


def test_connect_cancelled_on_microsofts_page_then_accepted(page, stack, shots):
    sign_in(page)
    page.get_by_role("link", name=re.compile("connect", re.I)).first.click()
    expect(page.get_by_role("heading", name=re.compile("Connect Microsoft 365"))).to_be_visible()
    page.get_by_role("button", name="Connect with Microsoft").click()
    # Microsoft's (the simulator's) sign-in and consent page, over HTTPS
    expect(page).to_have_url(re.compile(re.escape(stack.sim_server.base_url)))
    page.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(re.compile(re.escape(stack.url)))
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("cancel|not connected", re.I))
    page.goto("/connect/")
    page.get_by_role("button", name="Connect with Microsoft").click()
    page.get_by_label("Email, phone, or Skype").fill(stack.sim.settings.admin_upn)
    page.get_by_label("Password").fill(stack.sim.settings.admin_password)
    page.get_by_role("button", name="Accept").click()
    expect(page).to_have_url(re.compile(re.escape(stack.url)))
    page.goto("/connect/")
    expect(page.get_by_role("heading", name="Connected")).to_be_visible()
    expect(page.get_by_text(stack.sim.settings.tenant_id)).to_be_visible()
    shots(page, "connect")


def status(page):
    """The aria-live region where every change announces its result."""
    return page.get_by_role("status").and_(page.locator("#status"))


def test_basic_settings_refuse_bad_input_inline_then_save(admin_page, shots):
    page = admin_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings", exact=True).click()
    threshold = page.get_by_label("Hold removals above this many employees")
    threshold.fill("-3")
    page.get_by_role("button", name="Save settings").click()
    expect(threshold).to_have_attribute("aria-invalid", "true")
    expect(status(page)).to_contain_text("Nothing was saved")
    threshold.fill("400")
    page.get_by_label("Sync automatically every day").uncheck()
    page.get_by_role("button", name="Save settings").click()
    expect(status(page)).to_contain_text("Settings saved")
    page.reload()
    expect(page.get_by_label("Hold removals above this many employees")).to_have_value("400")
    expect(page.get_by_label("Sync automatically every day")).not_to_be_checked()
    shots(page, "settings")


def test_a_group_rule_with_departments_from_an_attribute_previews_then_saves(admin_page, shots):
    page = admin_page
    page.goto("/settings/rules")
    page.get_by_role("button", name="Add rule").click()
    rule = page.get_by_role("group", name=re.compile(r"^Rule 1"))
    rule.get_by_label("Name", exact=True).fill("Everyone at Contoso")
    # conditions come and go without a page load; what was typed stays
    rule.get_by_role("button", name=re.compile("Add condition to rule")).click()
    expect(rule.get_by_role("group", name="Condition 2")).to_be_visible()
    rule.get_by_role("button", name=re.compile("Remove condition 2 of rule")).click()
    expect(rule.get_by_role("group", name="Condition 2")).to_have_count(0)
    expect(rule.get_by_label("Name", exact=True)).to_have_value("Everyone at Contoso")
    rule.get_by_role("group", name="Condition 1").get_by_label("Test").select_option(label="is a member of the group")
    search = rule.get_by_label("Find a group by name")
    search.press_sequentially("All Emp", delay=40)  # typed: the picker searches as the admin types
    rule.get_by_role("button", name="Choose All Employees").click()
    rule = page.get_by_role("group", name=re.compile(r"^Rule 1"))
    expect(rule.get_by_text(re.compile(r"Group:\s*All Employees"))).to_be_visible()
    rule.get_by_label("Give the users it imports").select_option(label="the departments named in an attribute")
    rule.get_by_label("Attribute", exact=True).fill("department")
    rule.get_by_label("Separator").fill(";")
    preview_button = page.get_by_role("button", name="Preview these rules")
    preview_button.click()
    expect(preview_button).to_be_enabled(timeout=60_000)  # disabled while the engine reads the tenant
    expect(page.get_by_text("Imported by “Everyone at Contoso”")).to_be_visible()
    preview = page.locator("#preview-imported")
    expect(preview).to_contain_text(re.compile(r"[\d,]+ of [\d,]+ users would be imported"))
    imported, read = (int(n.replace(",", "")) for n in re.findall(r"[\d,]+", preview.inner_text())[:2])
    assert 1000 < imported < read  # the members of All Employees, not everyone read
    expect(page.get_by_role("table", name="Top departments of the imported users")).to_contain_text("Sales")
    shots(page, "rules")
    page.get_by_role("button", name="Save rules").first.click()
    expect(status(page)).to_contain_text("Import rules saved")
    page.reload()
    expect(page.get_by_role("group", name=re.compile(r"^Rule 1: Everyone at Contoso"))).to_be_visible()


def test_sync_now_runs_on_the_worker_until_it_succeeds(admin_page, shots):
    page = admin_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sync", exact=True).click()
    shots(page, "sync-empty")
    page.get_by_role("button", name="Sync now").click()
    expect(status(page)).to_contain_text("Sync started")
    # the page follows the run while the worker reads the tenant and writes the employees, then says how it ended
    expect(status(page)).to_contain_text(re.compile(r"Run \d+ has finished: succeeded"), timeout=90_000)
    runs = page.get_by_role("table", name="Sync runs, newest first")
    finished = re.compile(r"Run 1 .*Sync now Full Succeeded .*Created: [\d,]+")
    expect(runs.get_by_role("row", name=finished)).to_be_visible()
    shots(page, "sync")
    runs.get_by_role("link", name="Run 1").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Run 1")
    shots(page, "run")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard", exact=True).click()
    shots(page, "dashboard")


def someone(stack) -> Employee:
    """An employee the sync imported whose name nobody else has, with a job title: the one the admin looks for."""
    with Session(get_engine(stack.database_url)) as session:
        unique = (select(Employee.display_name).where(Employee.display_name != "")
                  .group_by(Employee.display_name).having(func.count() == 1))
        return session.exec(select(Employee).where(Employee.display_name.in_(unique), Employee.job_title != "",
                                                   Employee.source == "m365")
                            .order_by(Employee.id).offset(100).limit(1)).scalars().one()


def test_search_finds_one_employee_among_thousands_as_the_admin_types(admin_page, stack, shots):
    page = admin_page
    target = someone(stack)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Employees", exact=True).click()
    count = page.locator("#result-count")
    expect(count).to_contain_text("more than 1,000 employees")  # the list counts no further than it must
    shots(page, "employees", full_page=False)
    box = page.get_by_role("searchbox", name="Search employees")
    box.press_sequentially(target.display_name, delay=30)  # no Enter: results follow the typing
    table = page.get_by_role("table", name=re.compile("Employees"))
    expect(count).to_contain_text("1 employee match")
    expect(table.get_by_role("row")).to_have_count(2)  # header + the one
    expect(table.get_by_role("rowheader", name=target.display_name)).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]q="))  # the search is in the address: back/forward and links work
    shots(page, "employees-search")


def test_pause_one_employee_from_their_page(admin_page, stack):
    page = admin_page
    target = someone(stack)
    page.goto(f"/employees/?q={target.email}")
    page.get_by_role("link", name=target.display_name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(target.display_name)
    sync_state = page.get_by_role("region", name="Sync", exact=True)
    sync_state.get_by_role("button", name="Pause sync").click()
    expect(sync_state).to_contain_text("Sync paused")
    expect(sync_state.get_by_role("button", name="Resume sync")).to_be_visible()
    page.reload()
    expect(page.get_by_role("region", name="Sync", exact=True)).to_contain_text("Sync paused")


def test_a_field_typed_in_sigsync_is_given_back_to_microsoft_365(admin_page, stack, shots):
    page = admin_page
    target = someone(stack)
    original = target.job_title
    page.goto(f"/employees/{target.id}")
    page.get_by_role("link", name="Edit employee").click()
    page.get_by_label("Job title").fill("Chief Signature Officer")
    page.get_by_role("button", name="Save changes").click()
    fields = page.get_by_role("table", name=re.compile("Fields of"))
    job = fields.get_by_role("row", name=re.compile(r"^Job title"))
    expect(job).to_contain_text("Chief Signature Officer")
    expect(job).to_contain_text(f"Microsoft 365 has “{original}”")
    shots(page, "employee")
    give_back = job.get_by_role("button", name=re.compile(r"Give back to Microsoft 365\W+Job title"))
    expect(give_back).to_be_visible()
    give_back.click()
    expect(status(page)).to_contain_text(f"Job title of {target.email} now follows Microsoft 365")
    job = page.get_by_role("table", name=re.compile("Fields of")).get_by_role("row", name=re.compile(r"^Job title"))
    expect(job).to_contain_text(original)
    expect(job).not_to_contain_text("Chief Signature Officer")
    expect(job.get_by_role("button", name=re.compile("Give back"))).to_have_count(0)


def test_bulk_exclude_the_employees_a_search_found(admin_page, stack):
    page = admin_page
    target = someone(stack)
    surname = target.last_name
    page.goto("/employees/")
    page.get_by_role("searchbox", name="Search employees").press_sequentially(surname, delay=30)
    count = page.locator("#result-count")
    expect(count).to_contain_text("match")
    table = page.get_by_role("table", name=re.compile("Employees"))
    rows = table.locator("tbody tr")
    found = rows.count()
    assert found >= 1
    page.get_by_label("Select all on this page").check()
    expect(page.locator("#selected-count")).to_contain_text(str(found))
    page.get_by_role("button", name="Exclude from sync").click()
    expect(status(page)).to_contain_text("Excluded from sync")
    for i in range(found):
        expect(rows.nth(i)).to_contain_text("Excluded from sync")
    page.reload()
    for i in range(found):
        expect(rows.nth(i)).to_contain_text("Excluded from sync")


def test_rename_a_department(admin_page, shots):
    page = admin_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Departments", exact=True).click()
    shots(page, "departments")
    departments = page.get_by_role("table", name=re.compile("epartments"))
    departments.get_by_role("link", name="Legal", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Legal")
    page.get_by_label("New name").fill("Legal & Compliance")
    page.get_by_role("button", name="Rename department").click()
    expect(status(page)).to_contain_text("Department “Legal” renamed to “Legal & Compliance”")
    expect(page.get_by_role("heading", level=1)).to_have_text("Legal & Compliance")


def test_disconnect_asks_what_happens_to_the_employees_and_a_typed_confirmation(admin_page, stack, shots):
    page = admin_page
    page.goto("/connect/")
    page.get_by_role("link", name="Disconnect").click()
    expect(page.get_by_role("heading", name="Disconnect Microsoft 365")).to_be_visible()
    page.get_by_label("Keep them").check()
    page.get_by_label(re.compile("To confirm, type")).fill("disconnect please")
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_label(re.compile("To confirm, type"))).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Keep them")).to_be_checked()
    shots(page, "disconnect")
    page.get_by_label(re.compile("To confirm, type")).fill("DISCONNECT")
    page.get_by_role("button", name="Disconnect").click()
    page.goto("/connect/")
    expect(page.get_by_role("button", name="Connect with Microsoft")).to_be_visible()
    page.goto("/employees/")
    expect(page.locator("#result-count")).to_contain_text("more than 1,000 employees")  # kept, by hand now
