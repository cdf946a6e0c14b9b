"""The whole product, as an admin meets it: real Chromium, the portal under gunicorn, a worker, Redis,
the simulator over HTTPS and a real database (SQLite, or PostgreSQL with TEST_DATABASE_URL).

The processes live for this package only, on a database of their own (other packages empty theirs meanwhile).
Chromium trusts the simulator's certificate and nothing else: it is launched with
``--ignore-certificate-errors-spki-list=<the simulator certificate's key hash>``, so a certificate error
anywhere else still fails the test.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from redis import Redis
from sqlalchemy import create_engine, make_url, text

from portal import migrations
from portal.db import get_engine
from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SIGSYNC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TENANT_USERS = 2000  # "one employee among a few thousand"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}

ADMIN_NAME = "Ada Lovelace"
ADMIN_EMAIL = "ada@contoso-e2e.example"
ADMIN_PASSWORD = "correct horse battery staple"
ORG_NAME = "Contoso Ltd"


def pytest_addoption(parser) -> None:
    parser.addoption("--screenshots", action="store_true",
                     help="e2e: save the main pages to docs/screenshots/*.png (SIGSYNC_SCREENSHOTS=1 does the same)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before answering {url}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {seconds:g} s")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it after 10 s; nothing is left behind."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def spki_hash(cert_pem: bytes) -> str:
    """Chromium's --ignore-certificate-errors-spki-list value: base64 SHA-256 of the certificate's public key."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    der = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@dataclass
class Stack:
    """Where everything runs."""

    url: str
    database_url: str
    queue: str
    sim: Simulator
    sim_server: SimulatorServer
    env: dict[str, str]


@pytest.fixture(scope="package")
def sim_server(tmp_path_factory) -> Iterator[SimulatorServer]:
    settings = SimulatorSettings(users=TENANT_USERS, seed=11)
    with SimulatorServer(Simulator(settings), state_dir=tmp_path_factory.mktemp("e2e-sim")) as server:
        yield server


@pytest.fixture(scope="package")
def e2e_database_url(tmp_path_factory) -> str:
    """A database of the browser tests' own, freshly migrated: a SQLite file, or with TEST_DATABASE_URL a
    PostgreSQL database named after it with ``_e2e`` on the same server (nothing else writes to it meanwhile).
    """
    if not POSTGRES_URL:
        url = f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / 'sigsync.db'}"
    else:
        server = make_url(POSTGRES_URL)
        name = f"{server.database}_e2e"
        url = server.set(database=name).render_as_string(hide_password=False)
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        with get_engine(url).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrations.upgrade(url)
    return url


@pytest.fixture(scope="package")
def stack(e2e_database_url, sim_server, tmp_path_factory) -> Iterator[Stack]:
    """An empty database, the portal under gunicorn on a free port and one worker on a queue of its own."""
    database_url = e2e_database_url
    try:
        Redis.from_url(REDIS_URL).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means the same: no Redis
        pytest.fail(f"the browser tests need Redis at {REDIS_URL} ({exc}); sudo apt-get install redis-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim_server.sim.settings.redirect_uris = (f"{url}/connect/callback",)
    queue = f"sigsync-e2e-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, **sim_server.env(), "SIGSYNC_ENV": "test", "DATABASE_URL": database_url,
           "REDIS_URL": REDIS_URL, "SIGSYNC_QUEUE": queue, "SIGSYNC_PUBLIC_URL": url, "SIGSYNC_HTTP_TIMEOUT": "10",
           "PYTHONUNBUFFERED": "1"}
    logs = tmp_path_factory.mktemp("e2e-logs")
    portal_log = open(logs / "portal.log", "w")  # noqa: SIM115 - closed below
    worker_log = open(logs / "worker.log", "w")  # noqa: SIM115
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    portal = subprocess.Popen([gunicorn, "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}",
                               "--graceful-timeout", "2", "portal:create_app()"],
                              cwd=ROOT, env=env, stdout=portal_log, stderr=subprocess.STDOUT, start_new_session=True)
    worker = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=worker_log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(f"{url}/healthz", portal, "the portal (gunicorn)")
        yield Stack(url=url, database_url=database_url, queue=queue, sim=sim_server.sim, sim_server=sim_server,
                    env=env)
    finally:
        stop(worker)
        stop(portal)
        portal_log.close()
        worker_log.close()
        Redis.from_url(REDIS_URL).delete(f"rq:queue:{queue}")
    assert worker.returncode is not None and portal.returncode is not None


@pytest.fixture(scope="package")
def browser(sim_server) -> Iterator[object]:
    """Headless Debian Chromium, trusting exactly the simulator's server certificate."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM}: sudo apt-get install chromium "
                    "(or point SIGSYNC_CHROMIUM at a chromium binary)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright's Python package: pip install -r requirements-dev.txt")
    cert = Path(sim_server.certs.cert_path).read_bytes()
    args = [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={spki_hash(cert)}"]
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, stack) -> Iterator[object]:
    """A fresh browser profile (no cookies) on the portal."""
    context = browser.new_context(base_url=stack.url, viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="package")
def admin_cookies(browser, stack) -> dict:
    """Signed in once through the form (after the first-run test made the admin); later tests reuse the cookies."""
    context = browser.new_context(base_url=stack.url, viewport=VIEWPORT)
    tab = context.new_page()
    sign_in(tab)
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture
def admin_page(browser, stack, admin_cookies) -> Iterator[object]:
    """A browser whose admin signed in already, on the dashboard."""
    context = browser.new_context(base_url=stack.url, viewport=VIEWPORT, storage_state=admin_cookies)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.goto("/")
    yield tab
    context.close()


@pytest.fixture(scope="package")
def shots(request) -> object:
    """``shots(page, "name")`` saves docs/screenshots/name.png when asked (--screenshots or SIGSYNC_SCREENSHOTS=1)."""
    wanted = request.config.getoption("--screenshots") or os.environ.get("SIGSYNC_SCREENSHOTS") == "1"

    def save(tab, name: str, full_page: bool = True) -> None:
        if wanted:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    return save


def sign_in(tab, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    """What an admin does: open the portal, fill in Email and Password, press Sign in."""
    tab.goto("/")
    tab.get_by_label("Email").fill(email)
    tab.get_by_label("Password").fill(password)
    tab.get_by_role("button", name="Sign in").click()
    tab.get_by_role("navigation", name="Main").wait_for()


