"""The add-in's tests: one installation at https://sigsync.test with its own Entra ID client id.

``config`` is overridden here, so ``app``, ``client`` and the portal fixtures of tests/web (org, admin, auth,
signed_in) all see this installation.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from config import Config
from tests.web.conftest import admin, auth, db, org, signed_in  # noqa: F401 (fixtures)

PUBLIC_URL = "https://sigsync.test"
CLIENT_ID = "5d3c8d1e-2f0a-4b7c-9e61-0a4f3b2c1d00"
HERE = Path(__file__).resolve().parent


@pytest.fixture
def config(clean_db: str) -> Config:
    return replace(Config.from_env(), env="test", database_url=clean_db, public_url=PUBLIC_URL, ms_client_id=CLIENT_ID)


@pytest.fixture
def handler_source(client) -> str:
    """The handler file exactly as the portal serves it (settings, MSAL.js, handler)."""
    response = client.get("/addin/launchevent.js")
    assert response.status_code == 200
    return response.get_data(as_text=True)
