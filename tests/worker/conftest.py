"""Worker and scheduler tests: real Redis, real `python worker.py` processes, the HTTPS simulator, a real database."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker

from portal import admins, create_app
from portal.db import session_scope
from portal.models import Organization
from tests.engine.conftest import Harness, acme, fresh, m365_config, sim, sim_server_engine  # noqa: F401
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, AuthActions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_url(config) -> str:
    try:
        Redis.from_url(config.redis_url, socket_connect_timeout=1).ping()
    except RedisError as exc:
        pytest.fail(f"the tests need the real Redis at REDIS_URL ({config.redis_url}): {exc}")
    return config.redis_url


@pytest.fixture
def queued(acme, redis_url, sim_server_engine, monkeypatch) -> Iterator[Harness]:  # noqa: F811
    """``acme`` on a queue of its own (so parallel tests and other workers never take its jobs).

    The environment is set as on a worker machine: jobs build their Config from it, as worker.py does.
    """
    name = f"test-{uuid.uuid4().hex[:8]}"
    acme.config = replace(acme.config, rq_queue=name, redis_url=redis_url)
    for key, value in {**sim_server_engine.env(), "DATABASE_URL": acme.config.database_url, "REDIS_URL": redis_url,
                       "SIGSYNC_QUEUE": name}.items():
        monkeypatch.setenv(key, value)
    yield acme
    Queue(name, connection=Redis.from_url(redis_url)).delete(delete_jobs=True)


class WorkerProcess:
    """`python worker.py …` in its own process group, configured from the environment like on another machine."""

    def __init__(self, harness: Harness, sim_server, logs: Path, *args: str) -> None:
        env = {**os.environ, **sim_server.env(), "DATABASE_URL": harness.config.database_url,
               "REDIS_URL": harness.config.redis_url, "SIGSYNC_QUEUE": harness.config.rq_queue,
               "SIGSYNC_ENV": "test", "PYTHONUNBUFFERED": "1"}
        self.log_path = logs / f"worker-{uuid.uuid4().hex[:6]}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "worker.py", *args], cwd=ROOT, env=env,
                                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text()

    def kill(self) -> None:
        """SIGKILL the whole worker (the supervisor, its children and any job process): a machine dying."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.kill()
        self._log.close()


@pytest.fixture
def start_worker(sim_server_engine, tmp_path) -> Iterator[Callable[..., WorkerProcess]]:  # noqa: F811
    started: list[WorkerProcess] = []

    def start(harness: Harness, *args: str) -> WorkerProcess:
        worker = WorkerProcess(harness, sim_server_engine, tmp_path, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(predicate: Callable[[], object], timeout: float = 30, what: str = "condition") -> object:
    """Poll until ``predicate`` returns something true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def work_off(harness: Harness) -> None:
    """A real RQ worker, in this process, runs whatever is queued for the harness and stops."""
    redis = Redis.from_url(harness.config.redis_url)
    SimpleWorker([Queue(harness.config.rq_queue, connection=redis)], connection=redis).work(burst=True)


class RedisServer:
    """A redis-server of the test's own on a free port, to stop and start again (the machine's Redis is shared)."""

    def __init__(self, logs: Path) -> None:
        self.binary = shutil.which("redis-server")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = logs / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--logfile", str(self.log_path)], start_new_session=True)
        wait_for(self._answers, 10, f"redis-server on port {self.port}")

    def stop(self) -> None:
        """SIGTERM and wait: every connection to it is refused from now on."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def _answers(self) -> bool:
        try:
            return bool(Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except RedisError:
            return False


@pytest.fixture
def private_redis(tmp_path) -> Iterator[RedisServer]:
    """A running redis-server of this test's own (skipped where redis-server is not installed)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (sudo apt-get install redis-server): this test stops and "
                    "starts a Redis of its own")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def queued_private(acme, private_redis, sim_server_engine, monkeypatch) -> Harness:  # noqa: F811
    """``acme`` with its jobs on a private Redis (the test may stop it), configured as on a worker machine."""
    acme.config = replace(acme.config, rq_queue="sigsync", redis_url=private_redis.url)
    for key, value in {**sim_server_engine.env(), "DATABASE_URL": acme.config.database_url,
                       "REDIS_URL": private_redis.url, "SIGSYNC_QUEUE": "sigsync"}.items():
        monkeypatch.setenv(key, value)
    return acme


def portal_for(harness: Harness) -> FlaskClient:
    """The portal (the real app) on the harness's database, Redis and simulator, signed in as an admin of it."""
    with session_scope(harness.config.database_url) as session:
        admins.create_admin(session, session.get(Organization, harness.org.id), ADMIN_EMAIL, ADMIN_PASSWORD,
                            name="Ada", actor="test")
    app = create_app(replace(harness.config, env="test"))
    app.config.update(TESTING=True)
    client = app.test_client()
    assert AuthActions(client).sign_in().status_code == 303
    return client
