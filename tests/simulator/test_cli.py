"""python -m simulator: starts, prints the environment for the portal, serves, stops on SIGTERM."""

from __future__ import annotations

import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
EXPORTED = {"MS_AUTHORITY_HOST", "MS_TENANT_ID", "MS_CLIENT_ID", "MS_CLIENT_SECRET", "GRAPH_URL",
            "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}


class Cli:
    """`python -m simulator` in a subprocess, its stdout read line by line in a thread."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "simulator", *args], cwd=REPO,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        # A thread, because select() can't see lines already sitting in the text wrapper's buffer.
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.put(line)

    def exports(self, timeout: float = 30) -> dict[str, str]:
        """Wait for every export line; returns NAME -> value as a shell would see it."""
        exports: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while set(exports) != EXPORTED:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                pytest.fail(f"no env lines within {timeout}s (got {sorted(exports)}); exit {self.proc.poll()}")
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").rstrip("\n").partition("=")
                exports[name] = "".join(shlex.split(value))
        return exports

    def wait(self, timeout: float = 10) -> tuple[int, str]:
        """Exit code and stderr, once the process ended."""
        try:
            code = self.proc.wait(timeout=timeout)
            self.reader.join(timeout=5)
            return code, self.proc.stderr.read()
        finally:
            self.proc.stderr.close()

    def stop(self) -> int:
        """SIGTERM, like a process manager would; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait()[0]


def test_cli_prints_the_environment_and_serves(tmp_path, monkeypatch):
    cli = Cli("--users", "50", "--port", "0", "--seed", "7", "--state-dir", str(tmp_path),
              "--token-lifetime", "120")
    try:
        env = cli.exports()
        assert env["REQUESTS_CA_BUNDLE"] == str(tmp_path / "ca.pem")
        assert env["CURL_CA_BUNDLE"] == ""
        assert env["MS_AUTHORITY_HOST"].startswith("https://127.0.0.1:")
        assert env["GRAPH_URL"] == env["MS_AUTHORITY_HOST"] + "/v1.0"
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        authority = f"{env['MS_AUTHORITY_HOST']}/{env['MS_TENANT_ID']}"
        with requests.Session() as http:  # trusts the simulator through the printed variables alone
            assert http.get(f"{authority}/v2.0/.well-known/openid-configuration").status_code == 200
            token = http.post(f"{authority}/oauth2/v2.0/token", data={
                "client_id": env["MS_CLIENT_ID"], "client_secret": env["MS_CLIENT_SECRET"],
                "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"})
        assert token.json()["expires_in"] == 120
    finally:
        assert cli.stop() == 0


def test_cli_reports_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cli = Cli("--port", str(taken.getsockname()[1]), "--users", "10", "--state-dir", str(tmp_path))
        code, stderr = cli.wait(timeout=30)
    assert code == 1
    assert "cannot listen" in stderr


@pytest.mark.parametrize("flag", ["--help"])
def test_cli_help(flag):
    done = subprocess.run([sys.executable, "-m", "simulator", flag], cwd=REPO, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0
    for option in ("--users", "--port", "--seed", "--host", "--state-dir", "--token-lifetime"):
        assert option in done.stdout


def test_a_plain_client_pages_through_a_100000_user_tenant(tmp_path, monkeypatch):
    """The issue's bar: `python -m simulator` serves 100,000 users and `requests` alone reads them all."""
    cli = Cli("--users", "100000", "--port", "0", "--state-dir", str(tmp_path))
    try:
        env = cli.exports()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with requests.Session() as http:
            token = http.post(f"{env['MS_AUTHORITY_HOST']}/{env['MS_TENANT_ID']}/oauth2/v2.0/token", data={
                "client_id": env["MS_CLIENT_ID"], "client_secret": env["MS_CLIENT_SECRET"],
                "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"}).json()
            http.headers["Authorization"] = f"Bearer {token['access_token']}"
            ids: set[str] = set()
            pages = 0
            url: str | None = f"{env['GRAPH_URL']}/users?$select=id,mail&$top=999"
            while url:
                page = http.get(url, timeout=60).json()
                ids.update(u["id"] for u in page["value"])
                pages += 1
                url = page.get("@odata.nextLink")
        assert len(ids) == 100_000
        assert pages == 101  # 999 a page, the last one partial
    finally:
        assert cli.stop() == 0
