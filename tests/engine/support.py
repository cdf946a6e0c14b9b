"""Helpers for engine tests: find users and groups in the simulated tenant."""

from __future__ import annotations

from simulator.state import Simulator


def user(sim: Simulator, upn_or_id: str) -> dict:
    """An active user of the tenant by UPN or id."""
    found = sim.tenant.get_user(upn_or_id)
    assert found is not None, upn_or_id
    return found


def uid(sim: Simulator, upn: str) -> str:
    return user(sim, upn)["id"]


def group_id(sim: Simulator, name: str) -> str:
    groups, _ = sim.tenant.groups_page(0, 1000)
    return next(g["id"] for g in groups if g["displayName"] == name)


def leaf_employees(export: dict[str, dict], count: int, *, skip: int = 0) -> list[str]:
    """E-mails of synced employees who manage nobody (deleting them changes no one else's data)."""
    managers = {row["manager_email"] for row in export.values()}
    leaves = [email for email, row in sorted(export.items())
              if email not in managers and row["m365_id"] and row["first_name"] and row["department"]]
    return leaves[skip:skip + count]


def differences(got: dict[str, dict], want: dict[str, dict]) -> dict:
    """Field by field, what differs between two exports (readable where == would print a wall)."""
    out: dict = {}
    for email in sorted(got.keys() | want.keys()):
        a, b = got.get(email), want.get(email)
        if a is None or b is None:
            out[email] = "missing here" if a is None else "only here"
        elif a != b:
            out[email] = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    return out
