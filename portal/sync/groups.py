"""Group membership for import rules, resolved in bulk: one paged listing per group.

Joining or leaving a group does not make a user show up in /users/delta, so the
members found now are compared with the snapshot of the last finished run; the
users whose membership changed are re-evaluated even if Graph reports no change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection as DBConnection

from portal.models import GroupSnapshot, utcnow


class GroupSource(Protocol):
    def transitive_user_ids(self, group_id: str) -> Iterable[str]: ...


class RuleGroups:
    """Members (user ids, nested groups resolved) of every group the rules name."""

    def __init__(self, members: dict[str, frozenset[str]]) -> None:
        self.members = members

    @classmethod
    def fetch(cls, graph: GroupSource, group_ids: Iterable[str]) -> RuleGroups:
        return cls({gid: frozenset(graph.transitive_user_ids(gid)) for gid in sorted(group_ids)})

    def of(self, user_id: str) -> frozenset[str]:
        """The rule groups this user belongs to."""
        if not self.members:
            return frozenset()
        return frozenset(gid for gid, ids in self.members.items() if user_id in ids)

    def changed_since(self, previous: dict[str, frozenset[str]]) -> set[str]:
        """Users who joined or left any rule group since ``previous`` was taken."""
        changed: set[str] = set()
        for gid, ids in self.members.items():
            changed |= ids ^ previous.get(gid, frozenset())
        return changed


def load_snapshot(conn: DBConnection, connection_id: int) -> dict[str, frozenset[str]]:
    """The rule groups' members as of the last finished run."""
    rows = conn.execute(
        select(GroupSnapshot.group_id, GroupSnapshot.member_ids).where(GroupSnapshot.connection_id == connection_id)
    )
    return {gid: frozenset(ids) for gid, ids in rows}


def save_snapshot(conn: DBConnection, connection_id: int, groups: RuleGroups) -> None:
    """Replace the snapshot with the members found by this run."""
    conn.execute(delete(GroupSnapshot).where(GroupSnapshot.connection_id == connection_id))
    if groups.members:
        now = utcnow()
        conn.execute(
            insert(GroupSnapshot),
            [{"connection_id": connection_id, "group_id": gid, "member_ids": sorted(ids), "taken_at": now}
             for gid, ids in groups.members.items()],
        )
