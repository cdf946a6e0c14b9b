"""The simulator's shared state: one object that every blueprint reads.

Ownership (so parts can be built independently):
- ``tenant``   -> simulator/tenant.py   (directory data: users, groups, photos, change log for delta)
- ``tokens``   -> simulator/tokens.py   (issued codes, access and refresh tokens, consent)
- ``faults``   -> simulator/faults.py   (injected 429/503/504, latency, drops, expiring delta tokens)
- ``keys``     -> simulator/signing_keys.py (the JWKS: RS256 signing keys and their rotation)
- ``log``      -> RequestLog below      (every request that reached the simulator)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the simulator saw it (what tests count and inspect)."""

    at: float
    method: str
    path: str
    query: str
    status: int
    surface: str  # "graph", "identity" or "control"
    via: str = ""  # "$batch" for a request that arrived inside a JSON batch


class RequestLog:
    """Thread-safe, bounded log of requests; tests prove with it that only reads reached Graph."""

    def __init__(self, limit: int = 200_000) -> None:
        self._items: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._limit = limit

    def add(self, method: str, path: str, query: str, status: int, surface: str, via: str = "") -> None:
        item = LoggedRequest(time.time(), method, path, query, status, surface, via)
        with self._lock:
            self._items.append(item)
            if len(self._items) > self._limit:
                del self._items[: len(self._items) - self._limit]

    def items(self, surface: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [i for i in self._items if surface is None or i.surface == surface]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class SimulatorSettings:
    """Knobs a test or demo sets when it builds the simulator."""

    tenant_id: str = "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"
    tenant_domain: str = "contoso.example"
    client_id: str = "8d3a5b1e-2f4c-4e6a-9b7d-1c0e2f3a4b5c"
    client_secret: str = "sim-secret-change-me"
    redirect_uris: tuple[str, ...] = (
        "http://127.0.0.1:5000/connect/callback",
        "http://localhost:5000/connect/callback",
    )
    access_token_lifetime: int = 3599
    users: int = 200
    seed: int = 1
    base_url: str = ""  # https://127.0.0.1:PORT, filled in when the server binds
    # Entra ID side (simulator/identity.py, simulator/tokens.py)
    app_display_name: str = "Sigsync"
    admin_upn: str = "admin@contoso.example"  # the tenant admin who signs in on the consent page
    admin_password: str = "Sim-Admin-Pass-1"
    admin_consent_granted: bool = True  # tenant-wide admin consent for the app roles below
    app_permissions: tuple[str, ...] = ("User.Read.All", "Group.Read.All")  # configured Graph permissions
    refresh_token_lifetime: int = 90 * 24 * 3600  # Entra: inactive refresh tokens expire after 90 days
    single_use_refresh_tokens: bool = False  # Entra keeps a redeemed RT valid; True makes rotation strict
    auth_code_lifetime: int = 600  # "Authorization codes are short lived, typically ~10 minutes"
    # The API the app registration exposes (Expose an API): api://<client_id>/<scope> for the Outlook add-in.
    api_scopes: tuple[str, ...] = ("access_as_user",)
    # Graph side (simulator/graph*.py, tenant.py, faults.py)
    delta_page_size: int = 200  # users per /users/delta page; Graph ignores $top there (see graph_delta.py)
    delta_token_max_age: int = 7 * 24 * 3600  # directory delta tokens are valid for 7 days


@dataclass
class Simulator:
    """Everything the simulated Microsoft 365 knows; created once per server."""

    settings: SimulatorSettings
    tenant: object = None  # simulator.tenant.Tenant
    tokens: object = None  # simulator.tokens.TokenStore
    faults: object = None  # simulator.faults.Faults
    keys: object = None  # simulator.signing_keys.SigningKeys (RS256 keys of the JWKS)
    log: RequestLog = field(default_factory=RequestLog)
