"""The rules editor in headless Chromium: keyboard-only reordering keeps focus, the group picker works
from the keyboard and Enter in it searches instead of saving, the preview loads by itself.

The portal runs in-process (werkzeug, one thread per request) on the test database, against the
simulator over HTTPS; Chromium runs with the app's real Content-Security-Policy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from config import Config
from portal import connections
from portal.db import get_engine
from portal.models import Connection, Organization
from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings
from tests.web.browser import served_portal, signed_in_tab
from tests.web.conftest import simulator_config

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim_server(tmp_path_factory) -> Iterator[SimulatorServer]:
    with SimulatorServer(Simulator(SimulatorSettings(users=60, seed=3)),
                         state_dir=tmp_path_factory.mktemp("rules-browser-sim")) as server:
        yield server


@pytest.fixture
def config(clean_db: str, sim_server: SimulatorServer) -> Config:
    return simulator_config(clean_db, sim_server)


@pytest.fixture
def connection(config: Config, org: Organization, admin, sim_server: SimulatorServer) -> Connection:
    engine = get_engine(config.database_url)
    connection = connections.connect_app_only(config, engine, org, sim_server.sim.settings.tenant_id, "test")
    rules = [{"name": "Paris office", "conditions": [{"attribute": "city", "operator": "equals", "value": "Paris"}]},
             {"name": "Engineers", "conditions": [{"attribute": "department", "operator": "equals",
                                                    "value": "Engineering"}]}]
    connections.import_connection_config(engine, connection, json.dumps({"import_rules": rules}))
    return connection


@pytest.fixture
def portal_url(config: Config, connection: Connection) -> Iterator[str]:
    with served_portal(config) as url:
        yield url


@pytest.fixture
def page(portal_url: str):
    with signed_in_tab(portal_url) as tab:
        tab.goto(portal_url + "/settings/rules/")
        yield tab
        assert tab.problems == []  # no CSP violation, no failed script


def test_rules_are_reordered_from_the_keyboard_and_focus_stays_on_the_moved_rule(page):
    expect = playwright_api.expect
    page.get_by_role("button", name="Move up rule “Engineers”").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#rules-editor legend").first).to_have_text("Rule 1: Engineers")
    expect(page.locator("#status")).to_contain_text("Rule “Engineers” moved to position 1 of 2.")
    focused = page.locator(":focus")
    expect(focused).to_have_accessible_name("Move up rule “Engineers”")
    page.keyboard.press("Tab")  # on to "Move down" of the same rule, and down again
    page.keyboard.press("Enter")
    expect(page.locator("#rules-editor legend").first).to_have_text("Rule 1: Paris office")
    expect(page.locator(":focus")).to_have_accessible_name("Move down rule “Engineers”")


def test_a_group_is_chosen_with_the_picker_and_enter_in_it_does_not_save(page, db, connection):
    expect = playwright_api.expect
    page.get_by_role("button", name="Add condition to rule “Paris office”").click()
    # The editor comes back from the server: choose the test on the new condition, not the old form's.
    expect(page.locator("#rules-0-conditions-1-operator")).to_be_visible(timeout=15_000)
    page.get_by_label("Test").nth(1).select_option("member_of")
    search = page.get_by_label("Find a group by name")
    expect(search).to_be_visible(timeout=15_000)
    search.fill("dept - eng")
    search.press("Enter")
    choose = page.get_by_role("button", name="Choose Dept - Engineering")
    expect(choose).to_be_visible()
    db.expire_all()
    assert len(db.get(Connection, connection.id).import_rules[0]["conditions"]) == 1  # nothing was saved
    choose.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#rules-0-conditions-1-group-chosen")).to_contain_text("Dept - Engineering")
    page.get_by_role("button", name="Save rules").first.click()
    expect(page.locator("#status")).to_contain_text("Import rules saved.")
    db.expire_all()
    condition = db.get(Connection, connection.id).import_rules[0]["conditions"][1]
    assert condition["operator"] == "member_of" and len(condition["value"]) == 36


def test_the_preview_loads_by_itself_and_explains_a_user(page):
    expect = playwright_api.expect
    expect(page.locator("#preview-imported")).to_contain_text("users would be imported")
    page.get_by_label("Find a user by name or address").fill("a")
    first = page.locator("#rules-user-results button").first
    expect(first).to_be_visible()
    first.click()
    expect(page.locator("#explain-verdict")).to_contain_text("imported")
