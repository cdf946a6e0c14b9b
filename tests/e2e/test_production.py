"""Production serving: the portal under gunicorn exactly as the README starts it, with production settings.

Also the trusted-proxy setting: behind a reverse proxy the sign-in throttle must count the client's address
from X-Forwarded-For, and without the setting that header (which anyone can send) must be ignored.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from sqlmodel import Session, select

from portal import migrations
from portal.db import get_engine
from portal.models import SigninAttempt
from portal.organizations import create_organization
from tests.e2e.conftest import ROOT, free_port, stop, wait_http

pytestmark = pytest.mark.e2e
FORGED = {"X-Forwarded-For": "203.0.113.7"}
PLAIN_HTTP = {"SIGSYNC_PUBLIC_URL": "http://127.0.0.1:5000"}  # these tests' client speaks plain HTTP to gunicorn


@pytest.fixture(scope="module")
def production_db(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('prod') / 'sigsync.db'}"
    migrations.upgrade(url)
    with Session(get_engine(url)) as session:
        create_organization(session, "acme", "Acme GmbH", timezone="Europe/Berlin")
        session.commit()
    return url


def start_gunicorn(database_url: str, log: Path, **extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "SIGSYNC_ENV": "production", "DATABASE_URL": database_url,
           "SECRET_KEY": "x" * 48, "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
           "MS_CLIENT_ID": "00000000-0000-0000-0000-000000000001", "MS_CLIENT_SECRET": "a-secret",
           "SIGSYNC_PUBLIC_URL": "https://sigsync.example.com", **extra}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    with log.open("a") as out:
        proc = subprocess.Popen([gunicorn, "-w", "2", "--graceful-timeout", "2", "-b", f"127.0.0.1:{port}",
                                 "portal:create_app()"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", proc, "gunicorn")
    except RuntimeError:
        stop(proc)
        raise AssertionError(log.read_text()) from None
    return proc, url


def failed_signin(url: str, headers: dict[str, str]) -> None:
    with requests.Session() as browser:
        form = browser.get(f"{url}/signin", headers=headers, timeout=10).text
        token = form.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        answer = browser.post(f"{url}/signin", headers={"X-CSRFToken": token, **headers}, timeout=10,
                              data={"email": "nobody@acme.example", "password": "wrong", "csrf_token": token})
        assert answer.status_code == 200 and "Sign in" in answer.text


def throttled_clients(database_url: str) -> list[str]:
    with Session(get_engine(database_url)) as session:
        return sorted(session.exec(select(SigninAttempt.client)).all())


def test_gunicorn_serves_the_portal_with_production_settings(production_db, tmp_path):
    """Health, the sign-in page with its security headers; a forged X-Forwarded-For is not believed."""
    proc, url = start_gunicorn(production_db, tmp_path / "gunicorn.log", **PLAIN_HTTP)
    try:
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
        signin = requests.get(f"{url}/signin", timeout=10)
        assert signin.status_code == 200
        assert "Sign in to Sigsync" in signin.text
        assert "script-src 'self'" in signin.headers["Content-Security-Policy"]
        assert requests.get(f"{url}/", timeout=10, allow_redirects=False).headers["Location"].startswith("/signin")
        failed_signin(url, FORGED)
    finally:
        stop(proc)
    assert proc.returncode is not None
    assert throttled_clients(production_db) == ["127.0.0.1"]


def test_behind_a_trusted_proxy_the_signin_throttle_counts_the_forwarded_client(production_db, tmp_path):
    proc, url = start_gunicorn(production_db, tmp_path / "gunicorn.log", SIGSYNC_TRUSTED_PROXIES="1", **PLAIN_HTTP)
    try:
        failed_signin(url, FORGED)
    finally:
        stop(proc)
    assert throttled_clients(production_db) == ["127.0.0.1", "203.0.113.7"]


def test_production_refuses_to_start_with_development_secrets(production_db):
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    result = subprocess.run([gunicorn, "-b", f"127.0.0.1:{free_port()}", "portal:create_app()"], cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin", "SIGSYNC_ENV": "production", "DATABASE_URL": production_db},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stdout + result.stderr


@pytest.mark.parametrize("value", ["-1", "6", "one"])
def test_a_trusted_proxy_count_that_makes_no_sense_is_refused_at_start(monkeypatch, value):
    from config import Config, ConfigError

    monkeypatch.setenv("SIGSYNC_TRUSTED_PROXIES", value)
    with pytest.raises(ConfigError, match="SIGSYNC_TRUSTED_PROXIES"):
        Config.from_env()
