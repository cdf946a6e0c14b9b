"""The portal served on a free port and a Chromium tab signed in to it, for the browser tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

from config import Config
from portal import create_app
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@contextmanager
def served_portal(config: Config) -> Iterator[str]:
    """The portal in a thread on 127.0.0.1; its base URL."""
    server = make_server("127.0.0.1", 0, create_app(config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@contextmanager
def signed_in_tab(portal_url: str, **page_options: Any) -> Iterator[Any]:
    """Debian's Chromium with one tab signed in as the test admin; ``tab.problems`` collects console errors."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900}, **page_options)
            problems: list[str] = []
            tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            tab.goto(portal_url + "/signin")
            tab.get_by_label("Email").fill(ADMIN_EMAIL)
            tab.get_by_label("Password").fill(ADMIN_PASSWORD)
            tab.get_by_role("button", name="Sign in").click()
            tab.wait_for_url(portal_url + "/")
            tab.problems = problems
            yield tab
        finally:
            browser.close()
