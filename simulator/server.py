"""SimulatorServer: the simulator over real HTTPS on 127.0.0.1, in a background thread."""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from simulator.app import create_app
from simulator.certs import CertFiles, ensure_certificates
from simulator.state import Simulator, SimulatorSettings
from simulator.wsgi_server import TLSWSGIServer

logger = logging.getLogger(__name__)

class SimulatorServer:
    """Serve a Simulator over HTTPS; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        sim: Simulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: str | Path | None = None,
    ) -> None:
        self.sim = sim or Simulator(SimulatorSettings())
        self.host = host
        self.port = port
        self._state_dir = Path(state_dir) if state_dir else None
        self._temp_dir: Path | None = None
        self._server: TLSWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.certs: CertFiles | None = None
        self.started_in: float = 0.0  # seconds start() took, for the record

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SimulatorServer:
        """Make certificates, bind, build the app and serve in a daemon thread."""
        if self._server is not None:
            return self
        began = time.perf_counter()
        self._bind()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"sigsync-simulator:{self.port}", daemon=True,
        )
        self._thread.start()
        self.started_in = time.perf_counter() - began
        logger.info("Microsoft 365 simulator on %s (started in %.2fs)", self.base_url, self.started_in)
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until KeyboardInterrupt (the CLI's way)."""
        if self._server is None:
            self._bind()
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._cleanup()

    def stop(self) -> None:
        """Stop serving, hang up open connections and remove a temporary state directory."""
        if self._server is None:
            return
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._cleanup()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- where clients go ----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """https://127.0.0.1:PORT, the authority host."""
        return self.sim.settings.base_url

    @property
    def authority(self) -> str:
        """The MSAL authority: base URL plus tenant id."""
        return f"{self.base_url}/{self.sim.settings.tenant_id}"

    @property
    def graph_url(self) -> str:
        """The Graph v1.0 root on this simulator."""
        return f"{self.base_url}/v1.0"

    @property
    def ca_path(self) -> str:
        """The PEM file of the CA that signed the server certificate: trust this, nothing else."""
        if self.certs is None:
            raise RuntimeError("the simulator has not been started")
        return str(self.certs.ca_path)

    @property
    def connections_accepted(self) -> int:
        """TLS connections accepted since start; with keep-alive, far fewer than requests."""
        return self._server.accepted if self._server is not None else 0

    def env(self) -> dict[str, str]:
        """Environment variables that point the portal (and requests) at this simulator."""
        s = self.sim.settings
        return {
            "MS_AUTHORITY_HOST": self.base_url,
            "MS_TENANT_ID": s.tenant_id,
            "MS_CLIENT_ID": s.client_id,
            "MS_CLIENT_SECRET": s.client_secret,
            "GRAPH_URL": self.graph_url,
            "REQUESTS_CA_BUNDLE": self.ca_path,
            # requests falls back to CURL_CA_BUNDLE, which this machine sets to the system bundle.
            "CURL_CA_BUNDLE": "",
        }

    # -- internals -------------------------------------------------------------------------------

    def _bind(self) -> None:
        directory = self._state_dir or self._make_temp_dir()
        self.certs = ensure_certificates(directory, self.host)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.create_server((self.host, self.port), family=family, backlog=1024)
        try:
            self._server = TLSWSGIServer(listener, self.certs.ssl_context())
        finally:
            listener.close()  # werkzeug works on its own duplicate of the descriptor
        self.port = self._server.port
        self.sim.settings.base_url = f"https://{_url_host(self.host)}:{self.port}"
        self._server.app = create_app(self.sim)

    def _make_temp_dir(self) -> Path:
        self._temp_dir = Path(tempfile.mkdtemp(prefix="sigsync-sim-"))
        return self._temp_dir

    def _cleanup(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close_connections()
            server.server_close()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
