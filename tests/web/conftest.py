"""Fixtures for the portal's pages: organisations, admins, signing in through the real form.

CSRF stays on: every POST a test sends carries the token the page gave it, exactly as a browser's.

    def test_something(auth, client, csrf_token, db, org):
        auth.sign_in()                                     # the `admin` of `org`, via /signin
        token = csrf_token(client, "/departments")         # from <meta name="csrf-token">
        client.post("/departments", data={"name": "Sales", "csrf_token": token})
        client.post("/x", headers=hx(token))               # an htmx request with the token header
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session
from werkzeug.test import TestResponse

from config import Config
from portal import admins
from portal.db import get_engine
from portal.models import Admin, Organization
from portal.organizations import create_organization

ADMIN_EMAIL = "ada@acme.example"
ADMIN_PASSWORD = "correct horse battery staple"
OTHER_ADMIN_EMAIL = "grace@globex.example"
OTHER_ADMIN_PASSWORD = "another long passphrase"
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def hx(token: str | None = None, current_url: str | None = None, **extra: str) -> dict[str, str]:
    """The headers htmx sends: HX-Request, the CSRF token (X-CSRFToken) and the page's URL."""
    headers = {"HX-Request": "true", **extra}
    if token:
        headers["X-CSRFToken"] = token
    if current_url:
        headers["HX-Current-URL"] = current_url
    return headers


def read_csrf_token(client: FlaskClient, path: str = "/") -> str:
    """The CSRF token of the page at ``path`` (redirects followed), as a browser would read it."""
    response = client.get(path, follow_redirects=True)
    match = _CSRF_META.search(response.get_data(as_text=True))
    assert match, f"no csrf-token meta on {path} (status {response.status_code})"
    return match.group(1)


def sample_urls(app: Flask, method: str, skip: set[str] = frozenset()) -> Iterator[tuple[str, str]]:
    """(endpoint, url) for every route answering ``method``, ids filled with 1 and other values with "x"."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in skip or method not in (rule.methods or ()):
            continue
        values = {}
        for arg in rule.arguments:
            try:
                values[arg] = rule._converters[arg].to_python("1")
            except Exception:  # a converter that refuses "1" (uuid, …)
                values[arg] = "x"
        yield rule.endpoint, app.url_map.bind("localhost").build(rule.endpoint, values)


@pytest.fixture
def csrf_token() -> Callable[[FlaskClient, str], str]:
    """``csrf_token(client, path)``: the token from the page's ``<meta name="csrf-token">``."""
    return read_csrf_token


@pytest.fixture
def db(clean_db: str) -> Iterator[Session]:
    """A database session for arranging and checking rows (commit what you arrange)."""
    with Session(get_engine(clean_db), expire_on_commit=False) as session:
        yield session


@pytest.fixture
def org(db: Session) -> Organization:
    """An organisation, Acme (slug ``acme``, Europe/Berlin, 100 seats)."""
    organization = create_organization(db, "acme", "Acme GmbH", seats=100, timezone="Europe/Berlin")
    db.commit()
    return organization


@pytest.fixture
def admin(db: Session, org: Organization) -> Admin:
    """An admin of ``org``: ADMIN_EMAIL / ADMIN_PASSWORD."""
    account = admins.create_admin(db, org, ADMIN_EMAIL, ADMIN_PASSWORD, name="Ada Lovelace", actor="test")
    db.commit()
    return account


@pytest.fixture
def other_org(db: Session) -> Organization:
    """A second organisation, Globex, whose data ``admin`` must never see."""
    organization = create_organization(db, "globex", "Globex Corp", timezone="America/New_York")
    db.commit()
    return organization


@pytest.fixture
def other_org_admin(db: Session, other_org: Organization) -> Admin:
    """An admin of ``other_org``: OTHER_ADMIN_EMAIL / OTHER_ADMIN_PASSWORD."""
    account = admins.create_admin(db, other_org, OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD, name="Grace", actor="test")
    db.commit()
    return account


class AuthActions:
    """Sign in and out through the real form, CSRF token included."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def sign_in(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, next: str | None = None,
                follow_redirects: bool = False) -> TestResponse:
        path = "/signin" + (f"?next={next}" if next else "")
        data = {"email": email, "password": password, "csrf_token": read_csrf_token(self._client, path)}
        if next is not None:
            data["next"] = next
        return self._client.post("/signin", data=data, follow_redirects=follow_redirects)

    def sign_out(self) -> TestResponse:
        return self._client.post("/signout", data={"csrf_token": read_csrf_token(self._client, "/")})


@pytest.fixture
def auth(client: FlaskClient, admin: Admin) -> AuthActions:
    """Sign-in helpers for ``client``; ``admin`` exists."""
    return AuthActions(client)


@pytest.fixture
def signed_in(client: FlaskClient, auth: AuthActions) -> FlaskClient:
    """``client`` signed in as ``admin``."""
    response = auth.sign_in()
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def simulator_config(database_url: str, sim_server: Any, **overrides: Any) -> Config:
    """The portal's Config pointed at a test simulator: its sign-in, Graph, app registration and CA."""
    s = sim_server.sim.settings
    return replace(Config.from_env(), env="test", database_url=database_url, ms_client_id=s.client_id,
                   ms_client_secret=s.client_secret, ms_tenant_id=s.tenant_id,
                   ms_authority_host=sim_server.base_url, graph_url=sim_server.graph_url,
                   ca_bundle=sim_server.ca_path, http_timeout=10, **overrides)
