"""Managers' attributes (``manager.displayName`` …) for the users of a chunk, resolved in bulk.

/users/delta names a user's manager only by id (``manager@delta``), so the
attributes come from the chunk itself when the manager is in it, from this run's
cache, from the manager's stored Graph data (one query per chunk), and only then
from Graph in ``$batch`` requests of twenty. The engine selects the manager
attributes on every user, so each of these sources carries them, and a change to
one of them makes the manager show up in the next delta round.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased

from portal.models import Employee

CACHE_LIMIT = 5_000  # keeps memory flat on huge tenants; a miss costs one DB lookup


class ManagerDirectory:
    """Manager id → the manager attributes the mapping reads, for one run."""

    def __init__(self, graph: Any, organization_id: int, select_fields: tuple[str, ...], enabled: bool) -> None:
        self.graph = graph
        self.organization_id = organization_id
        self.fields = select_fields
        self.enabled = enabled
        self._cache: dict[str, dict] = {}
        self._outsiders: dict[str, dict] = {}  # prefetched; kept apart so clearing the cache keeps them
        self._gone: set[str] = set()  # deleted in this run: no stored data may stand in for them

    def resolve(self, engine: Engine, ids: set[str], chunk: Iterable[dict] = (), *,
                ask_graph: bool = True) -> dict[str, dict]:
        """Attributes for each id that exists (unknown managers are left out); ``chunk``: users at hand.

        ``ask_graph=False`` looks only here and in the database: a full run meets most managers later
        in the stream anyway, so their reports are completed at its end instead of one $batch a page.
        """
        ids = ids - self._gone
        if not self.enabled or not ids:
            return {}
        found = {u["id"]: self._pick(u) for u in chunk if u.get("id") in ids}
        found.update((i, self._cache[i]) for i in ids - found.keys() if i in self._cache)
        found.update((i, self._outsiders[i]) for i in ids - found.keys() if i in self._outsiders)
        missing = ids - found.keys()
        if missing:
            with engine.connect() as conn:  # closed before Graph is asked
                rows = conn.execute(
                    select(Employee.m365_id, Employee.m365_snapshot).where(
                        Employee.organization_id == self.organization_id, Employee.m365_id.in_(sorted(missing)))
                ).all()
            for m365_id, snapshot in rows:
                found[m365_id] = self._pick(snapshot or {})
            missing -= found.keys()
        if missing and ask_graph:
            found.update(self._from_graph(sorted(missing)))
        if len(self._cache) > CACHE_LIMIT:
            self._cache.clear()
        self._cache.update(found)
        return found

    def prefetch_outsiders(self, engine: Engine) -> int:
        """Read, twenty per $batch, the managers of employees who are not employees themselves.

        They are outside the import scope, so no page of the run brings their attributes; without
        this a full run asked Graph for one or two of them on nearly every page.
        """
        if not self.enabled:
            return 0
        manager = aliased(Employee)
        with engine.connect() as conn:
            ids = conn.execute(
                select(Employee.manager_m365_id).distinct().where(
                    Employee.organization_id == self.organization_id,
                    Employee.manager_m365_id.is_not(None),
                    ~exists().where(manager.organization_id == self.organization_id,
                                    manager.m365_id == Employee.manager_m365_id),
                ).limit(CACHE_LIMIT)
            ).scalars().all()
        if ids:
            self._outsiders = self._from_graph(sorted(ids))
        return len(ids)

    def forget(self, ids: Iterable[str]) -> None:
        """These users were deleted: they manage nobody any more."""
        for i in ids:
            self._gone.add(i)
            self._cache.pop(i, None)
            self._outsiders.pop(i, None)

    def gone(self, uid: str | None) -> bool:
        """Whether this user was deleted in this run."""
        return uid in self._gone

    def remember(self, user: dict) -> None:
        """Keep the attributes of a user this run found new or changed (a dry run writes no row to read)."""
        if not self.enabled:
            return
        if len(self._cache) > CACHE_LIMIT:
            self._cache.clear()
        self._cache[user["id"]] = self._pick(user)

    def _from_graph(self, ids: list[str]) -> dict[str, dict]:
        fields = ",".join(self.fields)
        answers = self.graph.batch_get({i: f"/users/{i}?$select={fields}" for i in ids})
        return {i: self._pick(a.body) for i, a in answers.items() if a.status == 200 and isinstance(a.body, dict)}

    def _pick(self, user: dict) -> dict:
        return {k: user.get(k) for k in self.fields}
