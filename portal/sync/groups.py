"""Group membership for import rules, resolved in bulk: one paged listing per group.

A run writes the members it finds as rows (``GroupMember``) and looks them up a
chunk of users at a time, so memory stays flat however large a group is. Joining
or leaving a group does not make a user show up in /users/delta, so a delta run
compares its rows with the last finished run's and re-evaluates those who moved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection as DBConnection
from sqlalchemy.engine import Engine

from portal.models import GroupMember, SyncRun

BATCH = 1000


class GroupSource(Protocol):
    def transitive_user_ids(self, group_id: str) -> Iterable[str]: ...


class RuleGroups:
    """The members of every group the rules name, as this run finds them."""

    def __init__(self, engine: Engine, connection_id: int, run_id: int, group_ids: Iterable[str],
                 guard: Callable[[DBConnection], None] | None = None) -> None:
        self.engine = engine
        # Called in each writing transaction: raises when the run lost its lock, so nothing is written.
        self.guard = guard or (lambda conn: None)
        self.connection_id = connection_id
        self.run_id = run_id
        self.group_ids = sorted(group_ids)

    def fetch(self, graph: GroupSource) -> None:
        """Read each group's members from Graph into this run's rows, a thousand at a time."""
        with self.engine.begin() as conn:
            self.guard(conn)
            self._forget_unfinished(conn)
        for group_id in self.group_ids:
            batch: dict[str, dict] = {}
            for user_id in graph.transitive_user_ids(group_id):
                batch[user_id] = {"connection_id": self.connection_id, "run_id": self.run_id,
                                  "group_id": group_id, "user_id": user_id}
                if len(batch) >= BATCH:
                    self._insert(list(batch.values()))
                    batch = {}
            self._insert(list(batch.values()))

    def memberships(self, conn: DBConnection, user_ids: list[str]) -> dict[str, frozenset[str]]:
        """The rule groups each of these users belongs to (users in none are left out)."""
        if not self.group_ids or not user_ids:
            return {}
        found: dict[str, set[str]] = {}
        for user_id, group_id in conn.execute(
            select(GroupMember.user_id, GroupMember.group_id).where(
                GroupMember.connection_id == self.connection_id, GroupMember.run_id == self.run_id,
                GroupMember.user_id.in_(user_ids))
        ):
            found.setdefault(user_id, set()).add(group_id)
        return {user_id: frozenset(groups) for user_id, groups in found.items()}

    def changed_user_ids(self, conn: DBConnection) -> set[str]:
        """Users who joined or left a rule group since the last finished run."""
        if not self.group_ids:
            return set()
        previous = conn.execute(
            select(func.max(GroupMember.run_id)).where(
                GroupMember.connection_id == self.connection_id, GroupMember.run_id != self.run_id)
        ).scalar()
        changed: set[str] = set()
        for group_id in self.group_ids:
            now = self._members_query(group_id, self.run_id)
            before = self._members_query(group_id, previous)
            changed.update(conn.execute(now.except_(before)).scalars())
            changed.update(conn.execute(before.except_(now)).scalars())
        return changed

    def keep(self, conn: DBConnection) -> None:
        """This run finished: its rows become the snapshot the next run compares with."""
        self.guard(conn)
        conn.execute(delete(GroupMember).where(
            GroupMember.connection_id == self.connection_id, GroupMember.run_id != self.run_id))

    def discard(self, conn: DBConnection) -> None:
        """A dry run leaves the snapshot as it was."""
        conn.execute(delete(GroupMember).where(GroupMember.run_id == self.run_id))

    def _members_query(self, group_id: str, run_id: int | None):
        return select(GroupMember.user_id).where(
            GroupMember.connection_id == self.connection_id, GroupMember.run_id == run_id,
            GroupMember.group_id == group_id)

    def _forget_unfinished(self, conn: DBConnection) -> None:
        # Rows of runs that died or were dry are no snapshot: only a succeeded run's rows survive.
        succeeded = select(SyncRun.id).where(SyncRun.connection_id == self.connection_id,
                                             SyncRun.status == "succeeded", SyncRun.mode != "dry_run")
        conn.execute(delete(GroupMember).where(
            GroupMember.connection_id == self.connection_id, GroupMember.run_id.not_in(succeeded)))

    def _insert(self, rows: list[dict]) -> None:
        if not rows:
            return
        with self.engine.begin() as conn:
            self.guard(conn)
            # A member Graph lists twice (several paths through nested groups) is stored once; remembering
            # every id to skip repeats would hold the whole group in memory.
            dialect = sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert
            conn.execute(dialect(GroupMember).on_conflict_do_nothing(), rows)
