"""The simulated tenant as the model-based test drives it: changes through the simulator's control API (HTTPS)."""

from __future__ import annotations

import requests

from simulator.server import SimulatorServer

DOMAIN = "contoso.example"


class TenantControl:
    """Directory changes over /_sim, and the few reads the test needs to choose what to change next."""

    def __init__(self, server: SimulatorServer) -> None:
        self.base = f"{server.base_url}/_sim"
        self.http = requests.Session()
        self.ca = server.ca_path  # per request: a session's verify loses to REQUESTS_CA_BUNDLE
        self.sim = server.sim

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        answer = self.http.request(method, self.base + path, timeout=30, verify=self.ca, **kwargs)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text[:300]}"
        return answer

    def reset(self) -> None:
        self._call("POST", "/reset", json={})

    def add_user(self, data: dict) -> str:
        return self._call("POST", "/users", json=data).json()["id"]

    def update_user(self, uid: str, **changes) -> None:
        self._call("PATCH", f"/users/{uid}", json=changes)

    def rename(self, uid: str, mail: str, upn: str | None = None) -> None:
        body = {"mail": mail} | ({"userPrincipalName": upn} if upn else {})
        self._call("POST", f"/users/{uid}/rename", json=body)

    def soft_delete(self, uid: str) -> None:
        self._call("DELETE", f"/users/{uid}")

    def hard_delete(self, uid: str) -> None:
        self._call("DELETE", f"/users/{uid}", params={"hard": "1"})

    def restore(self, uid: str) -> None:
        self._call("POST", f"/users/{uid}/restore")

    def set_manager(self, uid: str, manager_id: str | None) -> None:
        self._call("PUT", f"/users/{uid}/manager", json={"id": manager_id})

    def create_group(self, name: str, members: list[str]) -> str:
        return self._call("POST", "/groups", json={"displayName": name, "members": members}).json()["id"]

    def add_member(self, group_id: str, uid: str) -> None:
        self._call("POST", f"/groups/{group_id}/members/{uid}")

    def remove_member(self, group_id: str, uid: str) -> None:
        self._call("DELETE", f"/groups/{group_id}/members/{uid}")

    def user(self, uid: str) -> tuple[str, dict | None]:
        """(state, user) of any user: active, soft or hard."""
        body = self._call("GET", f"/users/{uid}").json()
        return body["state"], body["user"]

    def initial_users(self) -> list[dict]:
        """Every user of the freshly generated tenant (read once, in-process: /_sim has no listing)."""
        users, _ = self.sim.tenant.users_page(0, 100_000)
        return users
