"""The add-in's tests: one installation at https://sigsync.test with its own Entra ID client id."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from portal import create_app

PUBLIC_URL = "https://sigsync.test"
CLIENT_ID = "5d3c8d1e-2f0a-4b7c-9e61-0a4f3b2c1d00"
HERE = Path(__file__).resolve().parent


@pytest.fixture
def addin_config(config):
    return replace(config, public_url=PUBLIC_URL, ms_client_id=CLIENT_ID)


@pytest.fixture
def addin_app(addin_config):
    app = create_app(addin_config)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def addin_client(addin_app):
    return addin_app.test_client()


@pytest.fixture
def handler_source(addin_client) -> str:
    """The handler file exactly as the portal serves it (settings, MSAL.js, handler)."""
    response = addin_client.get("/addin/launchevent.js")
    assert response.status_code == 200
    return response.get_data(as_text=True)
