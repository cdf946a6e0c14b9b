"""The live panel in a real browser: an admin starts a full sync of a 2,000-user tenant, the package's
worker (`python worker.py`) runs it, and the run page follows it to its end through htmx polling.

Runs with its own organisation, admin and app-only connection to the package's simulator, so it needs
nothing from the admin journey (and leaves that organisation alone). Graph's delta pages are slowed a
little (simulator latency) so that a run of a few thousand users lasts long enough to be watched.
"""

from __future__ import annotations

import os
import re
import time
from unittest import mock

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from config import Config
from portal import admins, connections
from portal.db import get_engine
from portal.organizations import create_organization
from simulator.faults import Fault
from tests.e2e.conftest import TENANT_USERS, sign_in

pytestmark = pytest.mark.e2e

EMAIL = "watcher@fabrikam-live.example"
PASSWORD = "a long password for watching syncs"
PAGE_LATENCY_MS = 600  # per /users/delta page of 200 users: 10 pages, so the run lasts several seconds


@pytest.fixture(scope="module")
def fabrikam(stack) -> str:
    """An organisation of its own with an admin, connected to the simulator's tenant (application consent)."""
    with mock.patch.dict(os.environ, stack.env):
        config = Config.from_env()
    engine = get_engine(stack.database_url)
    with Session(engine) as session:
        org = create_organization(session, "fabrikam-live", "Fabrikam Live", seats=None)
        admins.create_admin(session, org, EMAIL, PASSWORD, name="Wanda Watcher", actor="test")
        session.commit()
        session.refresh(org)
    connections.connect_app_only(config, engine, org, stack.sim.settings.tenant_id, "test")
    return EMAIL


def test_the_live_panel_follows_a_full_sync_to_its_end_and_stops_polling(page, stack, fabrikam, shots):
    slow = stack.sim.faults.add(Fault("latency", latency_ms=PAGE_LATENCY_MS, path_prefix="/v1.0/users/delta"))
    polls: list[tuple[float, int]] = []  # (when, HTTP status) of every poll of the panel
    page.on("response", lambda r: polls.append((time.monotonic(), r.status)) if "/status" in r.url else None)
    try:
        sign_in(page, fabrikam, PASSWORD)
        page.goto("/sync/")
        page.get_by_label("Full sync").check()
        page.get_by_role("button", name="Sync now").click()
        expect(page.get_by_text(re.compile(r"Sync started: run \d+ is queued"))).to_be_visible()
        page.get_by_role("link", name=re.compile(r"Open run \d+")).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Run \d+"))

        panel = page.locator("#run-status")
        bar = page.get_by_role("progressbar", name="Users processed")
        # mid-run: the bar part-way, the phase in words, the time left and the newest decisions
        seen: list[int] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if panel.get_attribute("data-status") != "running" or not bar.count():
                if panel.get_attribute("data-status") in ("succeeded", "failed"):
                    break
                page.wait_for_timeout(100)
                continue
            value = int(bar.get_attribute("value") or 0)
            if not seen or value != seen[-1]:
                seen.append(value)
            if 0 < value < TENANT_USERS and page.locator("#run-feed tbody tr").count() and len(seen) >= 2:
                break
            page.wait_for_timeout(100)
        assert any(0 < v < TENANT_USERS for v in seen), f"never saw the run part-way: {seen}"
        expect(bar).to_have_attribute("max", str(TENANT_USERS))
        expect(page.locator("#run-phase")).to_have_text("Reading users from Microsoft 365")
        expect(page.locator("#run-times")).to_contain_text(re.compile(r"Running for .*(left|not known yet)", re.S))
        feed = page.get_by_role("table", name="Latest decisions, newest first")
        expect(feed.get_by_role("row").nth(1)).to_contain_text("Created")
        shots(page, "live-panel", full_page=False)

        # progress only goes forward, and the bar reaches the total
        while panel.get_attribute("data-status") not in ("succeeded", "failed") and time.monotonic() < deadline:
            value = int(bar.get_attribute("value") or 0)
            if value != seen[-1]:
                seen.append(value)
            page.wait_for_timeout(150)
        assert seen == sorted(seen), f"progress went backwards: {seen}"
        expect(panel).to_have_attribute("data-status", "succeeded", timeout=60_000)
        expect(bar).to_have_attribute("value", str(TENANT_USERS))
        expect(page.locator("#run-progress")).to_have_text(f"{TENANT_USERS:,} of {TENANT_USERS:,} users (100 %)")
        # every user has its decision (created, or outside the import rules)
        counts = page.locator("#run-counts").inner_text()
        assert "Created: " in counts
        assert sum(int(n.replace(",", "")) for n in re.findall(r": ([\d,]+)", counts)) == TENANT_USERS, counts
        expect(page.get_by_role("status")).to_contain_text(re.compile(r"Run \d+ has finished: succeeded\."))
        # the page below the panel refreshed itself with all the decisions and the CSV
        expect(page.get_by_role("link", name="Download decisions (CSV)")).to_be_visible()
        expect(page.locator("#decisions-table tbody tr")).to_have_count(50)

        # the polling stopped: the last poll answered 286, and nothing asked again afterwards
        assert any(status == 286 for _, status in polls), polls
        ended_at = next(t for t, status in polls if status == 286)
        page.wait_for_timeout(3000)
        assert [s for t, s in polls if t > ended_at] == [], "the panel kept polling after the run ended"
        assert all(s == 200 for t, s in polls if t < ended_at)
        assert len(polls) >= 3  # it really was followed, a poll a second
    finally:
        stack.sim.faults.remove(slow.id)
