"""The simulator in its own process, so its memory never counts against the sync's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


class SimulatorProcess:
    """``python -m simulator`` on a free port; ``env`` points Sigsync at it, ``control`` changes its tenant."""

    def __init__(self, users: int, state_dir: Path, seed: int = 1) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--users", str(users), "--port", "0", "--seed", str(seed),
             "--state-dir", str(state_dir)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        self.env: dict[str, str] = {}
        while "REQUESTS_CA_BUNDLE" not in self.env:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the simulator exited before it printed its environment")
            match = re.match(r"export (\w+)=(.*)", line.strip())
            if match:
                self.env[match.group(1)] = match.group(2).strip("'\"")
        self.base_url = self.env["MS_AUTHORITY_HOST"]
        self.http = requests.Session()

    def control(self, method: str, path: str, **kw) -> requests.Response:
        response = self.http.request(method, f"{self.base_url}/_sim{path}", verify=self.env["REQUESTS_CA_BUNDLE"],
                                     timeout=60, **kw)
        response.raise_for_status()
        return response

    def graph_requests(self) -> int:
        """HTTP requests to Graph in the simulator's log since the last clear ($batch items not counted)."""
        return self.control("GET", "/requests", params={"surface": "graph", "via": ""}).json()["count"]

    def clear_log(self) -> None:
        self.control("DELETE", "/requests")

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
