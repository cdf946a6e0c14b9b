"""Helpers for the m365 tests: a stand-in browser on the simulator's consent page, connections."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlsplit

import requests

from portal.models import Connection
from simulator.server import SimulatorServer

REDIRECT_URI = "http://127.0.0.1:5000/connect/callback"


def app_connection(sim: SimulatorServer) -> Connection:
    """An app-mode (client credentials) connection to the simulator's tenant."""
    return Connection(organization_id=1, tenant_id=sim.sim.settings.tenant_id, mode="app")


def accept_on_consent_page(
    sim: SimulatorServer, browser: requests.Session, url: str, action: str = "accept"
) -> dict[str, str]:
    """Sign in as the tenant admin and press Accept (or Cancel); returns what reaches the redirect URI."""
    settings = sim.sim.settings
    page = browser.get(url, allow_redirects=False)
    assert page.status_code == 200, page.text[:500]
    ctx = html.unescape(re.search(r'name="ctx" value="([^"]*)"', page.text).group(1))
    action_url = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1))
    form = {"ctx": ctx, "login": settings.admin_upn, "passwd": settings.admin_password, "action": action}
    answer = browser.post(sim.base_url + action_url, data=form, allow_redirects=False)
    assert answer.status_code == 302, answer.text[:500]
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return dict(parse_qsl(location.query))


class RecordingSleep:
    """Stands in for time.sleep: remembers every wait the client asked for, waits for none."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def new_user(sim: SimulatorServer, local: str, **properties: object) -> str:
    """Add a user to the simulated tenant; returns its id."""
    domain = sim.sim.settings.tenant_domain
    data = {"userPrincipalName": f"{local}@{domain}", "displayName": local.title(), "mail": f"{local}@{domain}"}
    return sim.sim.tenant.add_user({**data, **properties})
