"""SimulatorServer: real TLS with a private CA, keep-alive, threads, clean start and stop."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from cryptography import x509

from simulator.certs import ensure_certificates
from simulator.server import SimulatorServer
from simulator.state import Simulator, SimulatorSettings
from tests.simulator.entra_helpers import TrustingSession


def discovery_url(server: SimulatorServer) -> str:
    return f"{server.authority}/v2.0/.well-known/openid-configuration"


def token_form(server: SimulatorServer) -> dict[str, str]:
    s = server.sim.settings
    return {"client_id": s.client_id, "client_secret": s.client_secret, "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default"}


def test_starts_fast_on_a_free_port_and_stops_cleanly():
    began = time.perf_counter()
    server = SimulatorServer().start()
    try:
        assert time.perf_counter() - began < 2
        assert server.base_url == f"https://127.0.0.1:{server.port}"
        assert server.authority == f"{server.base_url}/{server.sim.settings.tenant_id}"
        assert server.graph_url == f"{server.base_url}/v1.0"
        state_dir = Path(server.ca_path).parent
        with TrustingSession(server.ca_path) as http:
            assert http.get(discovery_url(server)).status_code == 200
    finally:
        server.stop()
    assert not state_dir.exists()  # the temporary state directory goes with the server
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


def test_stop_hangs_up_kept_alive_connections(tmp_path):
    server = SimulatorServer(state_dir=tmp_path).start()
    with TrustingSession(server.ca_path) as http:
        assert http.get(discovery_url(server)).status_code == 200
        server.stop()
        with pytest.raises(requests.exceptions.ConnectionError):
            http.get(discovery_url(server), timeout=5)
    assert (tmp_path / "ca.pem").is_file()  # a given state directory is kept


def test_connections_are_kept_alive(tmp_path):
    with SimulatorServer(state_dir=tmp_path) as server, TrustingSession(server.ca_path) as http:
        for _ in range(20):
            answer = http.post(f"{server.authority}/oauth2/v2.0/token", data=token_form(server))
            assert answer.ok and answer.raw.version == 11
            assert answer.headers.get("Connection", "").lower() != "close"
        assert server.connections_accepted == 1


def test_serves_many_clients_at_once(sim_server):
    def burst(_: int) -> list[int]:
        with TrustingSession(sim_server.ca_path) as http:
            return [http.post(f"{sim_server.authority}/oauth2/v2.0/token", data=token_form(sim_server)).status_code
                    for _ in range(10)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [status for batch in pool.map(burst, range(16)) for status in batch]
    assert statuses == [200] * 160


def test_a_silent_or_plain_http_client_does_not_block_others(sim_server, sim_http):
    idle = socket.create_connection(("127.0.0.1", sim_server.port))  # never starts the TLS handshake
    plain = socket.create_connection(("127.0.0.1", sim_server.port))
    try:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        began = time.perf_counter()
        assert sim_http.get(discovery_url(sim_server), timeout=5).status_code == 200
        assert time.perf_counter() - began < 2
    finally:
        idle.close()
        plain.close()


def test_certificate_names_and_trust(sim_server):
    for host in ("127.0.0.1", "localhost"):
        url = f"https://{host}:{sim_server.port}/{sim_server.sim.settings.tenant_id}/discovery/v2.0/keys"
        assert requests.get(url, verify=sim_server.ca_path, timeout=5).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(discovery_url(sim_server), verify=requests.certs.where(), timeout=5)


def test_certificates_pass_strict_x509_checks(sim_server):
    ctx = ssl.create_default_context(cafile=sim_server.ca_path)
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT  # on by default from Python 3.13
    with socket.create_connection(("127.0.0.1", sim_server.port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_certificates_are_reused_until_the_host_changes(tmp_path):
    first = ensure_certificates(tmp_path, "127.0.0.1")
    ca_pem = first.ca_path.read_bytes()
    assert ensure_certificates(tmp_path, "127.0.0.1").ca_path.read_bytes() == ca_pem
    other = ensure_certificates(tmp_path, "sim.internal.example")
    assert other.ca_path.read_bytes() != ca_pem
    cert = x509.load_pem_x509_certificate(other.cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "sim.internal.example" in sans.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in sans.get_values_for_type(x509.IPAddress)


def test_env_points_requests_at_the_simulator(sim_env):
    env = sim_env.env()
    assert env == {
        "MS_AUTHORITY_HOST": sim_env.base_url, "MS_TENANT_ID": sim_env.sim.settings.tenant_id,
        "MS_CLIENT_ID": sim_env.sim.settings.client_id, "MS_CLIENT_SECRET": sim_env.sim.settings.client_secret,
        "GRAPH_URL": sim_env.graph_url, "REQUESTS_CA_BUNDLE": sim_env.ca_path, "CURL_CA_BUNDLE": "",
    }
    with requests.Session() as http:  # no verify anywhere: the environment alone must do
        assert http.get(discovery_url(sim_env)).status_code == 200


def test_settings_and_explicit_port(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sim = Simulator(SimulatorSettings(tenant_id="0d9c2b0e-1111-4222-8333-944445555666", users=10))
    with SimulatorServer(sim, port=port, state_dir=tmp_path) as server:
        assert server.base_url == f"https://127.0.0.1:{port}"
        assert sim.settings.base_url == server.base_url
        with TrustingSession(server.ca_path) as http:
            doc = http.get(discovery_url(server)).json()
        assert doc["issuer"] == f"{server.base_url}/0d9c2b0e-1111-4222-8333-944445555666/v2.0"


def test_server_threads_do_not_leak(tmp_path):
    before = threading.active_count()
    for _ in range(3):
        with SimulatorServer(state_dir=tmp_path) as server, TrustingSession(server.ca_path) as http:
            http.get(discovery_url(server))
    time.sleep(0.3)
    assert threading.active_count() <= before + 1


def raw_exchange(server: SimulatorServer, *requests_bytes: bytes) -> list[tuple[int, bytes]]:
    """Send raw HTTP/1.1 requests over one TLS connection; returns (status, body) of each answer."""
    ctx = ssl.create_default_context(cafile=server.ca_path)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"".join(requests_bytes))
        stream = tls.makefile("rb")
        answers = []
        for _ in requests_bytes:
            status = int(stream.readline().split()[1])
            headers = {}
            while (line := stream.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                headers[name.lower()] = value.strip()
            answers.append((status, stream.read(int(headers["content-length"]))))
        stream.close()
        return answers


def test_an_unread_request_body_does_not_spoil_the_next_request(sim_server):
    host = f"Host: 127.0.0.1:{sim_server.port}\r\n"
    body = b"x" * 5000
    unread = (f"POST /nowhere HTTP/1.1\r\n{host}Content-Length: {len(body)}\r\n\r\n").encode() + body
    chunked = (f"POST /nowhere HTTP/1.1\r\n{host}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n").encode()
    then = f"GET /{sim_server.sim.settings.tenant_id}/discovery/v2.0/keys HTTP/1.1\r\n{host}\r\n".encode()
    answers = raw_exchange(sim_server, unread, chunked, then)  # pipelined, even
    assert [status for status, _ in answers] == [404, 404, 200]
    assert [k["kid"] for k in json.loads(answers[-1][1])["keys"]] == [sim_server.sim.keys.signing.kid]
