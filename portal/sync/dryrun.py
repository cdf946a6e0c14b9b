"""A dry run's traces, kept as rows (``DryRunMark``) for the length of the run, so its memory stays flat.

A real run finds what earlier pages did in the employee rows: who was seen (``seen_in_run``), which
address an employee has now. A dry run writes no employee, so it notes the same facts here and reads
them back a chunk at a time, exactly where a real run would read the employee rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import String, cast, delete, exists, insert, select
from sqlalchemy.engine import Connection as DBConnection

from portal.models import DryRunMark, Employee

SEEN, CLAIM, RELEASE = "seen", "claim", "release"
CHUNK = 1000  # keys per statement


def seen(conn: DBConnection, run_id: int, employee_ids: Iterable[int]) -> set[int]:
    """The employees among these that the dry run planned already."""
    keys = sorted({str(i) for i in employee_ids})
    found: set[int] = set()
    for start in range(0, len(keys), CHUNK):
        found.update(int(k) for k in conn.execute(select(DryRunMark.key).where(
            DryRunMark.run_id == run_id, DryRunMark.kind == SEEN, DryRunMark.key.in_(keys[start:start + CHUNK])
        )).scalars())
    return found


def addresses(conn: DBConnection, run_id: int, emails: Iterable[str]) -> tuple[dict[str, str], set[str]]:
    """For these addresses: who took each in this dry run (address -> user), and which were given up."""
    keys = sorted(set(emails))
    claims: dict[str, str] = {}
    released: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        for kind, key, value in conn.execute(select(DryRunMark.kind, DryRunMark.key, DryRunMark.value).where(
                DryRunMark.run_id == run_id, DryRunMark.kind.in_((CLAIM, RELEASE)),
                DryRunMark.key.in_(keys[start:start + CHUNK]))):
            if kind == CLAIM:
                claims[key] = value
            else:
                released.add(key)
    return claims, released


def record(conn: DBConnection, run_id: int, seen_ids: Iterable[int], claims: dict[str, str | None],
           released: Iterable[str]) -> None:
    """Note what a chunk did: employees seen, addresses taken (None: no longer taken) and given up."""
    rows = [{"run_id": run_id, "kind": SEEN, "key": str(i), "value": ""} for i in sorted(set(seen_ids))]
    rows += [{"run_id": run_id, "kind": CLAIM, "key": k, "value": v} for k, v in claims.items() if v is not None]
    rows += [{"run_id": run_id, "kind": RELEASE, "key": k, "value": ""} for k in sorted(set(released))]
    for kind, keys in ((SEEN, [r["key"] for r in rows if r["kind"] == SEEN]), (CLAIM, sorted(claims)),
                       (RELEASE, sorted(set(released)))):
        for start in range(0, len(keys), CHUNK):  # a later chunk's word replaces an earlier one
            conn.execute(delete(DryRunMark).where(DryRunMark.run_id == run_id, DryRunMark.kind == kind,
                                                  DryRunMark.key.in_(keys[start:start + CHUNK])))
    if rows:
        conn.execute(insert(DryRunMark), rows)


def not_seen(run_id: int):
    """A filter on Employee: not planned by this dry run (the dry twin of ``seen_in_run != run_id``)."""
    return ~exists().where(DryRunMark.run_id == run_id, DryRunMark.kind == SEEN,
                           DryRunMark.key == cast(Employee.id, String))


def discard(conn: DBConnection, run_id: int) -> None:
    """The dry run is over: its marks go."""
    conn.execute(delete(DryRunMark).where(DryRunMark.run_id == run_id))
