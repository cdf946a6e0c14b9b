"""The sync engine: Microsoft 365 users → Sigsync employees, one way.

``run_sync`` streams /users/delta page by page, decides per user with the pure
modules (rules, mapping, plan), and writes each page in one transaction. It
never holds the tenant in memory and never writes to Microsoft 365.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Connection as DBConnection
from sqlalchemy.engine import Engine

from portal.employees.fields import department_key
from portal.employees.seats import BILLABLE_STATUSES
from portal.errors import SigsyncError
from portal.m365.errors import ConsentRequired, DeltaExpired, GraphError, M365Error
from portal.models import Connection, Employee, Organization, SyncDecision, SyncRun, utcnow
from portal.sync import dryrun, lock, removals
from portal.sync.config import (
    ConfigInvalid,
    SyncConfig,
    config_hash,
    graph_select,
    manager_select,
    member_of_groups,
    needs_manager,
    needs_photo,
    parse_config,
)
from portal.sync.groups import RuleGroups
from portal.sync.managers import ManagerDirectory
from portal.sync.mapping import Mapper
from portal.sync.photos import fetch_photos, photo_hash
from portal.sync.plan import (
    CONFLICT,
    DEFER,
    KEEP,
    REUSE,
    AddressClaim,
    EmployeeState,
    Plan,
    SeatAllocator,
    address_owner,
    plan_user,
    removal_plan,
)
from portal.sync.records import (
    Existing,
    Known,
    graph_snapshot,
    load_existing,
    manager_id_of,
    manager_link,
    stored_users,
    to_columns,
)
from portal.sync.rules import RuleSet
from portal.sync.writer import (
    Decision,
    DepartmentCache,
    EmployeeUpdate,
    NewEmployee,
    PageChanges,
    apply_page,
    insert_decisions,
    refresh_statistics,
)

log = logging.getLogger(__name__)


Progress = Callable[[int, int | None, str], None]

REFUSED_STATES = {
    "paused": "The Microsoft 365 connection is paused. Resume it to sync.",
    "needs_consent": "Microsoft 365 needs the admin's consent again. Reconnect to sync.",
    "disconnected": "The Microsoft 365 connection was disconnected.",
}


class SyncRefused(SigsyncError):
    """The connection cannot sync now; the message says why and what to do."""


@dataclass
class _Tally:
    """Counts by decision kind, plus totals for the run row."""

    counts: dict[str, int] = field(default_factory=dict)
    done: int = 0

    def add(self, decisions: Iterable[Decision]) -> None:
        for d in decisions:
            self.counts[d.kind] = self.counts.get(d.kind, 0) + 1


def create_run(engine: Engine, connection_id: int, *, trigger: str = "manual", full: bool = False,
               dry_run: bool = False) -> int:
    """Record a queued run (the portal enqueues its id; the CLI runs it at once)."""
    with engine.begin() as conn:
        org_id = conn.execute(select(Connection.organization_id).where(Connection.id == connection_id)).scalar_one()
        mode = "dry_run" if dry_run else ("full" if full else "auto")
        return conn.execute(
            SyncRun.__table__.insert().returning(SyncRun.id),
            {"connection_id": connection_id, "organization_id": org_id, "trigger": trigger, "mode": mode,
             "status": "queued", "phase": "queued", "done": 0, "counts": {}, "error": "", "created_at": utcnow()},
        ).scalar_one()


def run_sync(engine: Engine, run_id: int, graph: Any, progress: Progress | None = None) -> SyncRun:
    """Run a queued sync to its end; the run row says how it went (also on failure)."""
    with engine.begin() as conn:
        run = _load(conn, SyncRun, run_id)
        connection = _load(conn, Connection, run.connection_id)
    refusal = REFUSED_STATES.get(connection.state)
    if refusal:
        _finish(engine, run_id, "failed", refusal)
        raise SyncRefused(refusal)
    try:
        lock.acquire(engine, connection.id, run_id)
    except lock.RunInProgress as exc:
        _finish(engine, run_id, "failed", exc.admin_message)
        raise
    _fail_abandoned_runs(engine, connection.id, run_id)
    try:
        # Read again under the lock: a disconnect or a new configuration may have come in meanwhile.
        with engine.begin() as conn:
            connection = _load(conn, Connection, run.connection_id)
        if connection.state in REFUSED_STATES:
            raise SyncRefused(REFUSED_STATES[connection.state])
        _Run(engine, run, connection, graph, progress).execute()
    except ConsentRequired as exc:
        _mark_connection(engine, connection.id, state="needs_consent", last_error=exc.admin_message)
        _finish(engine, run_id, "failed", exc.admin_message)
        raise
    except M365Error as exc:
        _mark_connection(engine, connection.id, last_error=exc.admin_message)
        _finish(engine, run_id, "failed", exc.admin_message)
        raise
    except SyncRefused as exc:
        _finish(engine, run_id, "failed", str(exc))
        raise
    except ConfigInvalid as exc:  # stored before a stricter check existed, or edited in the database
        message = f"The stored sync configuration is not valid: {exc}. Import a corrected one, then sync."
        _finish(engine, run_id, "failed", message)
        raise SyncRefused(message) from None
    except lock.LockLost as exc:  # the lock expired or was cleared: stop, and write nothing more
        _finish(engine, run_id, "failed", exc.admin_message)
        raise
    except Exception as exc:
        log.exception("Sync run %s failed", run_id)
        _finish(engine, run_id, "failed", f"Internal error: {type(exc).__name__}. Nothing was lost; run again.")
        raise
    finally:
        if run.mode == "dry_run":  # its marks were for its own length only (also when it failed)
            with engine.begin() as conn:
                dryrun.discard(conn, run_id)
        lock.release(engine, connection.id, run_id)
    with engine.begin() as conn:
        return _load(conn, SyncRun, run_id)


class _Run:
    """The state of one run: configuration, caches bounded by page size, tallies."""

    PAGE_FLUSH = 1000  # users per write transaction when Graph pages are larger
    ANALYZE_EVERY = 10_000  # new employees between statistics refreshes (PostgreSQL)
    DEFER_LIMIT = 50_000  # reports completed at the end of a full run, at most (then: $batch right away)

    def __init__(self, engine: Engine, run: SyncRun, connection: Connection, graph: Any,
                 progress: Progress | None) -> None:
        self.engine = engine
        self.run = run
        self.connection = connection
        self.graph = graph
        self.progress = progress or (lambda done, total, phase: None)
        self.dry_run = run.mode == "dry_run"
        self.tally = _Tally()
        self.total: int | None = None
        with engine.begin() as conn:
            self.org = _load(conn, Organization, connection.organization_id)
            self.linked_at_start = removals.linked_count(conn, self.org.id)
            seats_taken = conn.execute(
                select(func.count()).select_from(Employee).where(
                    Employee.organization_id == self.org.id, Employee.status.in_(BILLABLE_STATUSES))
            ).scalar_one()
        self.cfg: SyncConfig = parse_config(
            {"settings": connection.settings, "mapping": connection.mapping, "import_rules": connection.import_rules},
            default_timezone=self.org.timezone,
        )
        self.settings = self.cfg.settings
        self.hash = config_hash(self.cfg)
        # Delta has no $expand: selecting "manager" makes Graph name each user's manager (manager@delta).
        # The manager attributes the mapping reads are selected on every user: a manager's own record then
        # carries them, and a change to one of them brings the manager (and so the reports) into a delta round.
        with_manager = needs_manager(self.cfg)
        manager_fields = manager_select(self.cfg) if with_manager else ()
        self.select = (*dict.fromkeys((*graph_select(self.cfg), *manager_fields)), *(("manager",) * with_manager))
        self.managers = ManagerDirectory(graph, self.org.id, manager_fields, with_manager)
        self.changed_ids: set[str] = set()  # users whose stored Graph data changed: their reports follow
        self.mode = "full"
        self.mapper = Mapper(self.cfg.mapping)
        self.photos = needs_photo(self.cfg)  # photo changes are not in delta: read for every user a run plans
        self.rules = RuleSet(self.cfg.import_rules, self.settings)
        self.departments = DepartmentCache(self.org.id)
        seats_left = None if self.org.seats is None else max(0, self.org.seats - seats_taken)
        self.seats = SeatAllocator(seats_left)
        self.seats_created = 0  # users created by the seat flush
        self.seats_freed = 0  # billable employees this run's removals deleted
        self.chunk_seen: set[int] = set()  # employees planned in this run, among the chunk's (dry runs: marks)
        self.chunk_addresses: list[str] = []  # the addresses the chunk's users have (primary and other)
        # Addresses taken and given up by users already planned: for the chunk being planned (later chunks
        # read them from the database, or, in a dry run, which writes no employee, from its marks).
        self.ledger = _AddressLedger()
        self.deferred_addresses: list[str] = []  # users whose address's holder had not been met yet
        self.settling = False  # planning the deferred users: no more waiting
        # Delta runs: addresses an employee gave up (renamed, removed). A user refused one of them in an
        # earlier run is in no delta of its own, so it is planned again once every page was read.
        self.given_up: set[str] = set()
        self.dry_removed: dict[int, str] = {}  # dry runs: employee id -> what its removal would have done
        self.removal_candidates: list[removals.Removal] = []
        self.processed_ids: set[str] = set()  # delta runs only: bounded by the number of changes
        self.returning: set[str] = set()  # delta runs: users back after a removal (their reports are read)
        self.created_since_analyze = 0
        self.chunk_groups: dict[str, frozenset[str]] = {}  # rule groups of the chunk being planned
        # Full runs complete reports whose manager comes later in the stream at the end (bounded list).
        self.defer_managers = self.managers.enabled and not self.dry_run and self.seats.unlimited
        self.manager_fields = tuple(f for f, path in self.cfg.mapping.items() if path and path.startswith("manager."))
        self.deferred_reports: list[str] = []  # new employees whose manager had not been met yet
        self.completing: set[str] = set()  # created this run, being completed: no "updated" of their own

    # -- the run ------------------------------------------------------------------------------

    def execute(self) -> None:
        mode = self.mode = self._choose_mode()
        self._update_run(status="running", mode=mode, started_at=utcnow(), phase="groups")
        self.groups = RuleGroups(self.engine, self.connection.id, self.run.id, member_of_groups(self.cfg),
                                 guard=self._hold_lock)
        self.groups.fetch(self.graph)
        self._check_lock()
        delta_link: str | None
        if mode == "delta":
            try:
                delta_link = self._delta_round()
            except DeltaExpired as exc:
                log.info("Delta link of connection %s expired (%s); running a full sync", self.connection.id, exc)
                mode = self.mode = "full"
                self._update_run(mode=mode, phase="users")
                self.processed_ids.clear()
                delta_link = self._full_round()
        else:
            delta_link = self._full_round()
        # Removals first: an address a leaver held is free for the users who were waiting for it.
        held = self._removals(mode)
        if mode == "delta":
            self._recall_address_losers()
        self._settle_addresses()
        self._flush_seats()
        self._give_freed_seats()
        self._complete_deferred_reports()
        self._refresh_reports()
        self._finish_ok(mode, delta_link, held)

    def _choose_mode(self) -> str:
        if self.dry_run:
            return "dry_run"
        c = self.connection
        if self.run.mode == "full" or not c.delta_link or c.delta_config_hash != self.hash:
            return "full"
        return "delta"

    def _full_round(self) -> str | None:
        self.total = self._count_users()
        self._update_run(phase="users", total=self.total)
        self.managers.prefetch_outsiders(self.engine)
        self._check_lock()
        delta_link = None
        for page in self.graph.iter_delta("/users/delta", select=self.select):
            self._process(page.users, full=True)
            delta_link = page.delta_link or delta_link
        return delta_link

    def _delta_round(self) -> str | None:
        self._update_run(phase="changes")
        delta_link = None
        removed_ids: list[tuple[str, str]] = []
        for page in self.graph.iter_delta(self.connection.delta_link, select=None):
            self._process(page.users, full=False)
            removed_ids.extend(page.removed)
            delta_link = page.delta_link or delta_link
        self._collect_removed(removed_ids)
        self._regroup_changed_members()
        self._recall_hidden_reports()
        self._recall_reports_of_returning()
        since = self._previous_run_start()
        if since is not None:
            self._replan_touched(since)
            self._link_touched_manual(since)
        return delta_link

    # -- one page of users --------------------------------------------------------------------

    MAX_REPLANS = 3  # an employee an admin keeps editing is left to the next run after this many tries

    def _process(self, users: list[dict], *, full: bool, counted: bool = True, read_photos: bool | None = None,
                 attempt: int = 0) -> None:
        read_photos = counted if read_photos is None else read_photos
        for start in range(0, len(users), self.PAGE_FLUSH):
            chunk = list({u["id"]: u for u in users[start:start + self.PAGE_FLUSH] if u.get("id")}.values())
            # Every Graph read happens before the write transaction opens (no transaction waits on Microsoft).
            # Planning users again (reports, deferred managers) leaves their photo as this run found it.
            chunk, managers, photos = self._read_chunk(chunk, full=full, read_photos=read_photos)
            with self.engine.begin() as conn:
                changes = self._plan_chunk(conn, chunk, managers, photos)
                raced = self._write(conn, changes)
                if counted:  # users planned again (reports, deferred managers) are not new progress
                    self.tally.done += len(chunk)
                self._heartbeat_in(conn)
            self.progress(self.tally.done, self.total, "users")
            if raced and attempt < self.MAX_REPLANS:
                # An admin changed these employees while they were planned: judge them again from what is stored now.
                self._process([u for u in chunk if u["id"] in raced], full=False, counted=False, read_photos=False,
                              attempt=attempt + 1)

    def _read_chunk(self, users: list[dict], *, full: bool, read_photos: bool
                    ) -> tuple[list[dict], dict[str, dict], dict[str, bytes | None]]:
        """Complete a chunk's users and read their managers and photos: Graph first, then short reads."""
        with self.engine.connect() as conn:
            # Rule groups of this chunk's users, looked up once for the chunk (rules read them per user).
            self.chunk_groups = self.groups.memberships(conn, [u["id"] for u in users])
            # A full run's records are complete: its employees are read once, in the write transaction.
            existing = None if full else self._load_existing(conn, users)
        if existing is not None:
            # A delta record may carry only what changed: complete it with what was seen last time, or,
            # for a user never seen, from Graph (every user has a UPN, so without one it is partial). Graph
            # names the manager only when it changed: a user entering the scope has its manager read too.
            partial = [u["id"] for u in users if self._needs_reading(u, existing.by_m365.get(u["id"]))]
            if partial:
                complete = {f["id"]: f for f in self._fetch_users(partial)}
                users = [{**u, **complete.get(u["id"], {})} for u in users]
            users = [{**existing.by_m365[u["id"]].snapshot, **u} if u["id"] in existing.by_m365 else u
                     for u in users]
            self.processed_ids.update(u["id"] for u in users)
            if self.mode == "delta" and self.managers.enabled:
                self._note_returning(users, existing)
        defer = full and self.defer_managers and len(self.deferred_reports) < self.DEFER_LIMIT
        managers = self.managers.resolve(self.engine, {m for u in users if (m := manager_id_of(u))}, users,
                                         ask_graph=not defer)
        waiting = [u for u in users if (m := manager_id_of(u)) and m not in managers] if defer else []
        if waiting:
            # Only a new employee can wait for its manager; existing ones decide now, as a dry run does.
            with self.engine.connect() as conn:
                stored = stored_users(conn, self.org.id, {u["id"]: self.mapper.email(u) for u in waiting})
            missing = {manager_id_of(u) for u in waiting if u["id"] in stored}
            if missing:
                managers.update(self.managers.resolve(self.engine, missing))
        photos = fetch_photos(self.graph, self._imported_ids(users)) if self.photos and read_photos else {}
        return users, managers, photos

    def _needs_reading(self, user: dict, known: Known | None) -> bool:
        if known is None and "userPrincipalName" not in user:
            return True
        # manager@delta comes only with a change of manager: one who was no active employee has none stored.
        if (not self.managers.enabled or "manager@delta" in user or "manager" in user
                or (known is not None and known.state.status in ("active", "paused", "excluded"))):
            return False
        if known is not None:
            return True
        # A user never imported that stays outside the scope (disabled, a guest, no rule) uses no manager:
        # reading it would cost a $batch on most pages of a delta run and change no decision.
        return self.mapper.email(user) is not None and self.rules.evaluate(
            user, self.chunk_groups.get(user["id"], frozenset())).imported

    def _plan_chunk(self, conn: DBConnection, users: list[dict], managers: dict[str, dict],
                    photos: dict[str, bytes | None]) -> PageChanges:
        """Plan a chunk against its employees as they are now, in the transaction that writes the plan."""
        existing = self._load_existing(conn, users)
        changes = PageChanges()
        self.ledger = _AddressLedger()
        self.chunk_seen = set()
        if self.dry_run:  # what earlier chunks did, as a real run would find it in the employee rows
            self.ledger.claims, self.ledger.released = dryrun.addresses(conn, self.run.id, self.chunk_addresses)
            self.chunk_seen = dryrun.seen(conn, self.run.id, [k.state.id for k in existing.by_email.values()])
        for user in users:
            self._plan_one(changes, existing, user, managers, photos)
        return changes

    def _load_existing(self, conn: DBConnection, users: list[dict]) -> Existing:
        addresses = []
        for u in users:
            if (email := self.mapper.email(u)) is not None:
                addresses += [email, *_other_addresses(u, email)]
        self.chunk_addresses = list(dict.fromkeys(addresses))
        existing = load_existing(conn, self.org.id, [u["id"] for u in users], self.chunk_addresses,
                                 with_photo=self.photos)
        if self.dry_removed:  # a dry run removed nobody: show the rest of the run the employees as it left them
            existing = _as_removed(existing, self.dry_removed)
        return existing

    def _plan_one(self, changes: PageChanges, existing: Existing, user: dict, managers: dict[str, dict],
                  photos: dict[str, bytes | None]) -> None:
        uid = user["id"]
        emp = existing.by_m365.get(uid)
        email = self.mapper.email(user)
        if email is None:
            changes.decisions.append(Decision("skipped", uid, "", self.mapper.skip_reason(user) or ""))
            if emp is not None:
                self._mark_seen(changes, emp.state.id)  # odd data is no reason to remove someone
            return
        verdict = self.rules.evaluate(user, self.chunk_groups.get(uid, frozenset()))
        if not verdict.imported:
            self._out_of_scope(changes, user, email, emp, verdict.reason)
            return
        claim = self._claim(user, email, emp, existing)
        if claim.outcome == DEFER:  # the holder's user may still move: decided once every page was read
            self.deferred_addresses.append(uid)
            if emp is not None:
                self._mark_seen(changes, emp.state.id)
            return
        if claim.outcome == CONFLICT:
            changes.decisions.append(Decision("conflict", uid, email, claim.reason))
            return
        self._plan_claimed(changes, existing, user, email, verdict, claim, managers, photos)

    def _plan_claimed(self, changes: PageChanges, existing: Existing, user: dict, email: str, verdict: Any,
                      claim: AddressClaim, managers: dict[str, dict], photos: dict[str, bytes | None]) -> None:
        """Plan an imported user against the employee ``address_owner`` gave it (None: a new one)."""
        uid, state = user["id"], claim.employee
        target = existing.by_email.get(state.email) if state is not None else None
        manager_id = manager_id_of(user)
        incoming = self._incoming(user, manager_id, managers, photos)
        deferred = state is None and self.defer_managers and manager_id is not None and manager_id not in managers
        if deferred:  # its manager comes later in the stream: the end of the run fills these in
            for name in self.manager_fields:
                incoming.pop(name, None)
        if claim.outcome == KEEP and state is not None:
            changes.decisions.append(Decision("conflict", uid, email, claim.reason, employee_id=state.id))
            incoming["email"] = state.email
        departments = verdict.departments
        if target is not None and target.manual_departments and claim.outcome != REUSE:
            # A membership the admin assigned by hand is theirs: the sync neither makes nor counts it.
            departments = tuple(d for d in departments if department_key(d) not in target.manual_departments)
        plan = plan_user(incoming, departments, state, self.settings, m365_id=uid, reset=claim.outcome == REUSE)
        self._note_address(uid, state, plan, incoming["email"])
        decisions = self._decisions(uid, email, verdict, claim, plan)
        if deferred and plan.action == "create":
            self.deferred_reports.append(uid)
        if target is None:
            if plan.action == "create":
                self._create(changes, user, incoming, plan, decisions, photos)
            else:
                changes.decisions.extend(decisions)
            return
        self._update(changes, user, target, plan, decisions, photos)

    def _decisions(self, uid: str, email: str, verdict: Any, claim: AddressClaim, plan: Plan) -> list[Decision]:
        employee_id = claim.employee.id if claim.employee is not None else None
        decisions = [Decision(kind, uid, email,
                              claim.reason if kind in ("replaced", "linked") and claim.reason
                              else _reason(kind, verdict, plan),
                              _details(kind, plan), employee_id=employee_id) for kind in plan.decisions]
        if uid in self.completing:  # created this run and being completed: no "updated" of their own
            decisions = [d for d in decisions if d.kind != "updated"]
        return decisions

    def _claim(self, user: dict, email: str, emp: Known | None, existing: Existing) -> AddressClaim:
        """Ask ``address_owner`` who gets ``email``, with what this run knows about its holder."""
        uid = user["id"]
        holder = self.ledger.holder(email, existing.by_email.get(email))
        claimed_by = self.ledger.claims.get(email)
        if claimed_by is None and self.seats.holds(email):
            claimed_by = ""  # a new user waiting for its seat has it
        settled = holder is not None and (
            holder.seen_in_run == self.run.id or holder.state.id in self.chunk_seen
            or holder.last_user in self.ledger.planned)
        alias = None
        if emp is None and holder is None:
            # A manual employee typed with one of the user's other addresses (never another person's).
            alias = next((k for a in _other_addresses(user, email)
                          if (k := self.ledger.holder(a, existing.by_email.get(a))) is not None
                          and k.state.m365_id is None and k.last_user in (None, uid)
                          and self.ledger.claims.get(a, uid) == uid), None)
        return address_owner(uid, email, emp.state if emp else None, holder.state if holder else None,
                             holder_last_user=holder.last_user if holder else None, claimed_by=claimed_by,
                             alias_holder=alias.state if alias else None, holder_settled=settled,
                             final=self.settling)

    def _note_address(self, uid: str, state: EmployeeState | None, plan: Plan, address: str) -> None:
        """Remember what this user's plan does to addresses, for the users planned after it."""
        self.ledger.planned.add(uid)
        if plan.action == "create" and not self.seats.unlimited:
            return  # waiting for a seat: the allocator holds the address
        if plan.action not in ("create", "update"):
            return
        if state is not None and state.email != address:
            self.ledger.release(state.email)
            if self.mode == "delta":
                self.given_up.add(state.email)
        if plan.action == "create" or plan.link or (state is not None and state.email != address):
            self.ledger.claim(address, uid)

    def _incoming(self, user: dict, manager_id: str | None, managers: dict[str, dict],
                  photos: dict[str, bytes | None]) -> dict[str, str]:
        enriched = {**user, "manager": managers.get(manager_id)} if manager_id else user
        incoming = self.mapper.values(enriched)
        if user["id"] in photos:  # a user whose photo Graph could not give keeps the one we have
            incoming["photo"] = photo_hash(photos[user["id"]])
        return incoming

    def _create(self, changes: PageChanges, user: dict, incoming: dict[str, str], plan: Plan,
                decisions: list[Decision], photos: dict[str, bytes | None]) -> None:
        uid = user["id"]
        values = to_columns(incoming)
        # A user waiting for a seat keeps no photo bytes in memory: the seat flush reads them again.
        values["photo"] = photos.get(uid) if self.seats.unlimited else None
        values.update(source="m365", status="active", m365_id=uid, created_by_sync=True,
                      synced_values=dict(plan.new_synced_values), m365_snapshot=graph_snapshot(user),
                      manager_m365_id=manager_id_of(user), seen_in_run=self.run.id)
        self._offer_new(changes, NewEmployee(values, tuple(plan.departments or ()), decisions), incoming["email"],
                        uid)
        self.managers.remember(user)

    def _update(self, changes: PageChanges, user: dict, target: Known, plan: Plan, decisions: list[Decision],
                photos: dict[str, bytes | None]) -> None:
        uid = user["id"]
        state = target.state
        self._mark_seen(changes, state.id)
        values: dict[str, Any] = {}
        if plan.action == "update":
            values.update(to_columns({f: after for f, (_before, after) in plan.changes.items()},
                                     None if plan.reset else state.values))
            if "photo" in plan.changes or plan.reset:
                values["photo"] = photos.get(uid)
            if plan.reset:
                values["custom"] = values.get("custom", {})
            values["synced_values"] = dict(plan.new_synced_values)
            if plan.status:
                values["status"] = plan.status
            if plan.link:
                values.update(m365_id=uid, source="m365")
        snapshot = graph_snapshot(user)
        # Kept for paused and excluded employees too: resuming one applies what Graph said meanwhile.
        if snapshot != target.snapshot or plan.link:
            values.update(m365_snapshot=snapshot, manager_m365_id=manager_link(user, target))
            if any(snapshot.get(f) != target.snapshot.get(f) for f in self.managers.fields):
                self.changed_ids.add(uid)  # what the reports show of this manager changed
                self.managers.remember(user)
        if values or decisions or plan.departments is not None:
            changes.updates.append(EmployeeUpdate(state.id, values, plan.departments, decisions,
                                                  clear_manual_departments=plan.reset, m365_id=uid,
                                                  read_version=target.updated_at))

    def _imported_ids(self, users: list[dict]) -> list[str]:
        """Users of a chunk the import rules take in (only their photos are worth reading)."""
        groups = self.chunk_groups
        return [u["id"] for u in users
                if self.mapper.email(u) and self.rules.evaluate(u, groups.get(u["id"], frozenset())).imported]

    def _offer_new(self, changes: PageChanges, new: NewEmployee, email: str, uid: str) -> None:
        if self.seats.unlimited:
            changes.creates.append(new)
            return
        for _email, evicted in self.seats.offer(email, new):
            self._seat_refused(changes, evicted)

    def _seat_refused(self, changes: PageChanges, new: NewEmployee) -> None:
        changes.decisions.append(Decision(
            "seat_limit", new.values["m365_id"], new.values["email"],
            f"the organisation's {self.org.seats} seats are taken; add seats to import this user"))

    def _flush_seats(self) -> None:
        if self.seats.unlimited:
            return
        winners = [payload for _email, payload in self.seats.winners()]
        for start in range(0, len(winners), self.PAGE_FLUSH):  # bounded statements, like any page
            chunk: list[NewEmployee] = winners[start:start + self.PAGE_FLUSH]
            if self.photos and not self.dry_run:  # read before the transaction opens, as a page does
                photos = fetch_photos(self.graph, [n.values["m365_id"] for n in chunk])
                for new in chunk:
                    new.values["photo"] = photos.get(new.values["m365_id"])
            with self.engine.begin() as conn:
                changes = self._seat_winners(conn, chunk)
                self.seats_created += len(changes.creates)
                self._write(conn, changes)
                self._heartbeat_in(conn)
            self.progress(self.tally.done, self.total, "users")

    def _give_freed_seats(self) -> None:
        """Give the seats still free after the flush to the users this run refused one, lowest e-mail first.

        Seats are handed out before removals (a full run knows its leavers only once every page was read), so a
        run that refuses users and then deletes leavers ends with seats a full run from here would give them.
        The allocator's rule (lowest addresses) over the refused users gives what that full run gives: they are
        read again from Graph by id and planned as any user is, with at most ``spare`` held. A user that gets
        its seat loses its "seat limit" decision (the plan writes its own); a dry run predicts the same.
        """
        refused = self.tally.counts.get("seat_limit", 0)
        if self.seats.unlimited or not refused:
            return
        # Deactivated and unlinked employees keep their seat (see BILLABLE_STATUSES); deleted ones free it.
        spare = (self.seats.seats or 0) - self.seats_created + self.seats_freed
        if spare <= 0:
            return
        with self.engine.begin() as conn:
            waiting = conn.execute(
                select(SyncDecision.m365_id, SyncDecision.email).distinct().where(
                    SyncDecision.run_id == self.run.id, SyncDecision.kind == "seat_limit",
                    SyncDecision.m365_id != "")
                .order_by(SyncDecision.email, SyncDecision.m365_id).limit(spare)).all()
            ids = [uid for uid, _email in waiting]
            if not ids:
                return
            self._hold_lock(conn)
            dropped = conn.execute(delete(SyncDecision).where(
                SyncDecision.run_id == self.run.id, SyncDecision.kind == "seat_limit",
                SyncDecision.m365_id.in_(ids))).rowcount
        self.tally.counts["seat_limit"] = refused - dropped
        if not self.tally.counts["seat_limit"]:
            del self.tally.counts["seat_limit"]
        self.seats = SeatAllocator(spare)
        self.seats_created = self.seats_freed = 0
        self.processed_ids.difference_update(ids)
        self.settling = True  # every page was read: an address's holder is known by now, no more waiting
        self._process(self._fetch_users(ids), full=False, counted=False, read_photos=False)
        self.settling = False
        self._flush_seats()

    def _seat_winners(self, conn: DBConnection, winners: list[NewEmployee]) -> PageChanges:
        """The waiting users to create now; an address an employee took meanwhile is that employee's."""
        taken = set(conn.execute(select(Employee.email).where(
            Employee.organization_id == self.org.id,
            Employee.email.in_([n.values["email"] for n in winners]))).scalars())
        if self.dry_run:
            claims, _released = dryrun.addresses(conn, self.run.id, [n.values["email"] for n in winners])
            taken |= {n.values["email"] for n in winners
                      if claims.get(n.values["email"], n.values["m365_id"]) != n.values["m365_id"]}
        changes = PageChanges()
        for new in winners:
            email = new.values["email"]
            if email in taken:
                changes.decisions.append(Decision(
                    "conflict", new.values["m365_id"], email,
                    f"{email} was given to another employee while this user waited for a seat"))
            else:
                changes.creates.append(new)
        return changes

    def _out_of_scope(self, changes: PageChanges, user: dict, email: str, emp: Known | None, reason: str) -> None:
        uid = user["id"]
        changes.decisions.append(Decision("out_of_scope", uid, email, reason,
                                          employee_id=emp.state.id if emp else None))
        # A full run finds these by what it did not see; a delta run must note them here.
        if emp is not None and self.mode == "delta" and emp.state.status == "active":
            self.removal_candidates.append(
                removals.Removal(emp.state.id, uid, emp.state.email, f"left the import scope: {reason}"))
        # Outside the scope it may still manage employees: what their reports show of it must follow.
        if emp is None:
            if self.mode == "delta":  # nothing stored to compare with: its reports are planned again
                self.changed_ids.add(uid)
                self.managers.remember(user)
            return
        snapshot = graph_snapshot(user)
        if snapshot != emp.snapshot:  # stored data stays current, so no run reads a stale manager
            changes.updates.append(EmployeeUpdate(
                emp.state.id, {"m365_snapshot": snapshot, "manager_m365_id": manager_link(user, emp)}, None, [],
                m365_id=uid, read_version=emp.updated_at))
            if any(snapshot.get(f) != emp.snapshot.get(f) for f in self.managers.fields):
                self.changed_ids.add(uid)
                self.managers.remember(user)

    def _mark_seen(self, changes: PageChanges, employee_id: int) -> None:
        self.chunk_seen.add(employee_id)
        changes.seen_employee_ids.append(employee_id)

    def _write(self, conn: DBConnection, changes: PageChanges) -> set[str]:
        """Write a page; returns the users whose employee an admin changed since it was read (not written)."""
        if self.dry_run:
            self._tally(changes)
            dryrun.record(conn, self.run.id, changes.seen_employee_ids,
                          {a: self.ledger.claims.get(a) for a in self.ledger.touched},
                          self.ledger.released & self.ledger.touched)
            insert_decisions(conn, self.run.id, [
                *changes.decisions, *(d for c in changes.creates for d in c.decisions),
                *(d for u in changes.updates for d in u.decisions)])
            return set()
        self._hold_lock(conn)  # the page's writes commit only while this run still holds the lock
        try:
            raced = apply_page(conn, self.org.id, self.run.id, changes, self.departments)
        except Exception:
            self.departments.forget()
            raise
        self._tally(changes)  # apply_page took the raced employees out of it
        self.created_since_analyze += len(changes.creates)
        if self.created_since_analyze >= self.ANALYZE_EVERY:
            refresh_statistics(conn)
            self.created_since_analyze = 0
        return raced

    def _tally(self, changes: PageChanges) -> None:
        self.tally.add(changes.decisions)
        for c in changes.creates:
            self.tally.add(c.decisions)
        for u in changes.updates:
            self.tally.add(u.decisions)

    # -- delta-only work ------------------------------------------------------------------------

    def _collect_removed(self, removed: list[tuple[str, str]]) -> None:
        """Linked employees whose user Graph reported as deleted become removal candidates."""
        if not removed:
            return
        ids = sorted({rid for rid, _reason in removed})
        if self.managers.enabled:  # their reports have no manager now, as a full run would find
            self.managers.forget(ids)
            self.changed_ids.update(ids)
        rows = []
        for start in range(0, len(ids), self.PAGE_FLUSH):  # a mass deletion must not overflow one IN list
            chunk = ids[start:start + self.PAGE_FLUSH]
            with self.engine.begin() as conn:
                rows += conn.execute(
                    select(Employee.id, Employee.m365_id, Employee.email).where(
                        Employee.organization_id == self.org.id, Employee.m365_id.in_(chunk),
                        Employee.status.in_(removals.REMOVABLE_STATUSES))
                ).all()
        why = dict(removed)
        for emp_id, m365_id, email in rows:
            reason = "deleted in Microsoft 365" + (" (restorable)" if why.get(m365_id) == "changed" else "")
            self.removal_candidates.append(removals.Removal(emp_id, m365_id, email, reason))
            self.processed_ids.add(m365_id)

    def _regroup_changed_members(self) -> None:
        """Re-evaluate users who joined or left a rule group without any change Graph would report."""
        with self.engine.begin() as conn:
            changed = sorted(self.groups.changed_user_ids(conn) - self.processed_ids)
        for start in range(0, len(changed), self.PAGE_FLUSH):
            ids = changed[start:start + self.PAGE_FLUSH]
            with self.engine.begin() as conn:
                known = {r.m365_id: r.m365_snapshot for r in conn.execute(
                    select(Employee.m365_id, Employee.m365_snapshot).where(
                        Employee.organization_id == self.org.id, Employee.m365_id.in_(ids)))}
            users = [snap for snap in known.values() if snap.get("id")]
            users += self._fetch_users([i for i in ids if i not in known])
            self._process(users, full=False)

    def _recall_hidden_reports(self) -> None:
        """Read again the employees whose stored manager (hidden by Graph while deleted) this round brought back.

        Graph hides a deleted manager from its reports and shows it again on restore without a change on
        the reports, so no delta brings them; a full run would read them with their manager again.
        """
        if not self.managers.enabled:
            return
        met = sorted(self.processed_ids)
        hidden: list[str] = []
        for start in range(0, len(met), self.PAGE_FLUSH):
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(Employee.m365_id, Employee.manager_m365_id, Employee.m365_snapshot).where(
                        Employee.organization_id == self.org.id, Employee.m365_id.is_not(None),
                        Employee.manager_m365_id.in_(met[start:start + self.PAGE_FLUSH]))).all()
            hidden += [m365_id for m365_id, manager, snap in rows
                       if manager_id_of(snap or {}) != manager and m365_id not in self.processed_ids]
        for start in range(0, len(hidden), self.PAGE_FLUSH):
            users = self._fetch_users(sorted(hidden[start:start + self.PAGE_FLUSH]))  # with their manager now
            self._process(users, full=False, counted=False)

    def _note_returning(self, users: list[dict], existing: Existing) -> None:
        """Note the users of a delta chunk that come back after this connection removed their employee.

        While a user is deleted Graph hides it as its reports' manager; an employee imported meanwhile has no
        manager link, so no stored link finds it when the user is restored (``_recall_hidden_reports``). A
        removed employee is inactive, or gone or unlinked (its decision says so); new users have no reports to
        recall (a report given a new manager is in the delta itself).
        """
        self.returning.update(u["id"] for u in users
                              if (k := existing.by_m365.get(u["id"])) is not None and k.state.status == "inactive")
        unknown = [u["id"] for u in users if u["id"] not in existing.by_m365]
        if unknown:
            with self.engine.connect() as conn:
                self.returning.update(conn.execute(
                    select(SyncDecision.m365_id).distinct().join(SyncRun, SyncRun.id == SyncDecision.run_id).where(
                        SyncRun.connection_id == self.connection.id, SyncRun.mode != "dry_run",
                        SyncDecision.kind.in_(("deleted", "unlinked")), SyncDecision.m365_id.in_(unknown))).scalars())

    def _recall_reports_of_returning(self) -> None:
        """Plan again the employees that report to a user who came back (GET /users/{id}/directReports).

        One $batch item per returning user (bounded by the round's changes), paged only past 999 reports.
        """
        ids = sorted(self.returning)
        self.returning = set()
        if not ids:
            return
        reports: set[str] = set()
        answers = self.graph.batch_get([f"/users/{uid}/directReports?$select=id&$top=999" for uid in ids])
        for answer in answers.values():
            page = answer.body if answer.status == 200 and isinstance(answer.body, dict) else {}
            while page:
                reports.update(o["id"] for o in page.get("value") or ()
                               if isinstance(o, dict) and o.get("id")
                               and o.get("@odata.type", "#microsoft.graph.user") == "#microsoft.graph.user")
                page = self.graph.get(page["@odata.nextLink"]) if page.get("@odata.nextLink") else {}
        wanted = sorted(reports - self.processed_ids)
        for start in range(0, len(wanted), self.PAGE_FLUSH):
            with self.engine.connect() as conn:
                linked = sorted(conn.execute(select(Employee.m365_id).where(
                    Employee.organization_id == self.org.id, Employee.status == "active",
                    Employee.m365_id.in_(wanted[start:start + self.PAGE_FLUSH]))).scalars())
            self._process(self._fetch_users(linked), full=False, counted=False)  # with their manager now

    def _previous_run_start(self) -> Any:
        """When the last real run that succeeded started (an edit made while it ran counts as after it)."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(SyncRun.started_at).where(
                    SyncRun.connection_id == self.connection.id, SyncRun.id != self.run.id,
                    SyncRun.status == "succeeded", SyncRun.mode.in_(("full", "delta")))
                .order_by(SyncRun.id.desc()).limit(1)
            ).scalar()

    def _replan_touched(self, since: Any) -> None:
        """Plan again the employees an admin changed since the last run (resumed, included, edited by hand).

        Graph's delta does not bring them back, but a full run would judge them again: planning them
        from their stored Graph data makes a delta run end where a full run would.
        """
        after_id = 0
        while True:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    select(Employee.id, Employee.m365_id, Employee.m365_snapshot).where(
                        Employee.organization_id == self.org.id, Employee.status == "active",
                        Employee.m365_id.is_not(None), Employee.updated_at > since, Employee.id > after_id,
                        # changed by an admin after the sync last changed it
                        or_(Employee.synced_at.is_(None), Employee.updated_at > Employee.synced_at))
                    .order_by(Employee.id).limit(self.PAGE_FLUSH)
                ).all()
            if not rows:
                return
            after_id = rows[-1].id
            self._process([snap for _id, m365_id, snap in rows
                           if snap and snap.get("id") and m365_id not in self.processed_ids], full=False)

    def _link_touched_manual(self, since: Any) -> None:
        """Find the users of manual employees an admin added, resumed or included since the last run.

        A full run matches them to their user by address; delta brings no such user unless it changed,
        so they are looked up by address (primary, user principal name or another SMTP address).
        """
        after_id = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(Employee.id, Employee.email).where(
                        Employee.organization_id == self.org.id, Employee.status == "active",
                        Employee.m365_id.is_(None), Employee.updated_at > since, Employee.id > after_id)
                    .order_by(Employee.id).limit(self.PAGE_FLUSH)
                ).all()
            if not rows:
                return
            after_id = rows[-1].id
            users = self._users_by_address([email for _id, email in rows])
            self._process([u for u in users if u["id"] not in self.processed_ids], full=False, counted=False,
                          read_photos=True)

    def _users_by_address(self, addresses: list[str]) -> list[dict]:
        fields = ",".join(f for f in self.select if f != "manager")
        urls = {}
        for i, address in enumerate(addresses):
            quoted = address.replace("'", "''")
            query = {"$filter": f"mail eq '{quoted}' or userPrincipalName eq '{quoted}' or "
                                f"proxyAddresses/any(x:x eq 'smtp:{quoted}')", "$select": fields}
            if self.managers.enabled:
                query["$expand"] = "manager($select=id)"
            urls[str(i)] = "/users?" + urlencode(query, quote_via=quote)
        found: dict[str, dict] = {}
        for answer in self.graph.batch_get(urls).values():
            if answer.status == 200 and isinstance(answer.body, dict):
                for user in answer.body.get("value") or ():
                    if isinstance(user, dict) and user.get("id"):
                        found[user["id"]] = self._as_delta_record(user)
        return list(found.values())

    def _recall_address_losers(self) -> None:
        """Plan again the users an earlier run refused an address that an employee gave up in this run.

        A user that got a "conflict" (the address was another employee's, or was given away while it waited
        for a seat) changes nothing in Microsoft 365 when the holder is renamed or leaves, so no delta brings
        it back; a full run would give it the address. They join the users settled at the end of the run.
        """
        addresses = sorted(self.given_up)
        self.given_up = set()
        losers: set[str] = set()
        for start in range(0, len(addresses), self.PAGE_FLUSH):
            with self.engine.connect() as conn:
                losers.update(conn.execute(
                    select(SyncDecision.m365_id).distinct().join(SyncRun, SyncRun.id == SyncDecision.run_id).where(
                        SyncRun.connection_id == self.connection.id, SyncRun.mode != "dry_run",
                        SyncDecision.kind == "conflict", SyncDecision.m365_id != "",
                        SyncDecision.email.in_(addresses[start:start + self.PAGE_FLUSH]))).scalars())
        self.deferred_addresses.extend(sorted(losers - self.processed_ids))

    def _settle_addresses(self) -> None:
        """Plan the users whose address was held by an employee whose user had not been met yet.

        By now every page was read and the leavers removed: the holder kept the address (a conflict), gave
        it up (renamed, deleted), or left (the employee is reused, reset to the new user's data).
        """
        if not self.deferred_addresses:
            return
        ids = sorted(set(self.deferred_addresses))
        self.deferred_addresses = []
        self.settling = True
        for start in range(0, len(ids), self.PAGE_FLUSH):
            users = self._fetch_users(ids[start:start + self.PAGE_FLUSH])  # complete records, read before writing
            self._process(users, full=False, counted=False, read_photos=True)
        self.settling = False

    def _complete_deferred_reports(self) -> None:
        """Fill in the manager fields of reports a full run met before their manager."""
        if not self.deferred_reports:
            return
        ids = sorted(self.deferred_reports)
        self.completing = set(ids)
        self.deferred_reports = []
        self.defer_managers = False  # managers still unknown now are outside the scope: ask Graph
        for start in range(0, len(ids), self.PAGE_FLUSH):
            with self.engine.begin() as conn:
                users = [snap for (snap,) in conn.execute(
                    select(Employee.m365_snapshot).where(
                        Employee.organization_id == self.org.id,
                        Employee.m365_id.in_(ids[start:start + self.PAGE_FLUSH])))
                    if snap.get("id")]
            self._process(users, full=False, counted=False)
        self.completing = set()

    def _refresh_reports(self) -> None:
        """Employees whose manager's name or address changed in this run get the new values too."""
        # A dry run wrote nothing, so the stored reports are as before the run and planning them again
        # would report their own changes twice. Reports planned after their manager got the new values
        # already; those planned before it are not shown (a known gap of dry runs).
        if not self.managers.enabled or not self.changed_ids or self.dry_run:
            return
        changed = sorted(self.changed_ids)
        for start in range(0, len(changed), self.PAGE_FLUSH):
            with self.engine.begin() as conn:
                reports = [snap for (snap,) in conn.execute(
                    select(Employee.m365_snapshot).where(
                        Employee.organization_id == self.org.id, Employee.status == "active",
                        Employee.manager_m365_id.in_(changed[start:start + self.PAGE_FLUSH])))
                    if snap.get("id")]
            # Their stored data is complete; planning them again changes only what the manager changed. Graph
            # names no manager for the reports of a deleted one: their stored data says so too, as after a full
            # run (else a later partial record would bring the leaver back from its stored data).
            reports = [{**snap, "manager@delta": []} if self.managers.gone(manager_id_of(snap)) else snap
                       for snap in reports]
            self._process(reports, full=False, counted=False)

    def _fetch_users(self, ids: list[str]) -> list[dict]:
        if not ids:
            return []
        fields = ",".join(f for f in self.select if f != "manager")
        expand = "&$expand=manager($select=id)" if self.managers.enabled else ""
        answers = self.graph.batch_get([f"/users/{uid}?$select={fields}{expand}" for uid in ids])
        return [self._as_delta_record(a.body) for a in answers.values() if a.status == 200 and isinstance(a.body, dict)]

    def _as_delta_record(self, user: dict) -> dict:
        """A user read on its own, shaped like a delta record: the expanded manager becomes manager@delta."""
        if self.managers.enabled:
            manager = user.pop("manager", None)
            user["manager@delta"] = [{"id": manager["id"]}] if isinstance(manager, dict) and manager.get("id") else []
        return user

    # -- removals and the end ---------------------------------------------------------------

    def _removals(self, mode: str) -> bool:
        """Apply or hold removals; True when they were held."""
        self._update_run(phase="removals")
        with self.engine.begin() as conn:
            self._hold_lock(conn)  # removing is for the run that still holds the lock
            if mode in ("full", "dry_run"):
                candidates = list(removals.unseen_in_full_run(conn, self.org.id, self.run.id,
                                                              dry_run=self.dry_run))
            else:
                candidates = list({r.employee_id: r for r in self.removal_candidates}.values())
            if not candidates:
                return False
            verdict = removal_plan(len(candidates), self.linked_at_start, self.settings)
            action = self.settings.removal
            if verdict == "hold":
                threshold = self.settings.removal_threshold
                why = (f"{len(candidates)} removals exceed the threshold ({threshold.count} employees or "
                       f"{threshold.percent:g} %); approve or discard them")
                decisions = removals.hold(candidates, action, why, dry_run=self.dry_run)
                insert_decisions(conn, self.run.id, decisions)
            elif self.dry_run:
                decisions = removals.apply(conn, candidates, action, dry_run=True)
                self.dry_removed = {d.employee_id: d.kind for d in decisions if d.employee_id is not None}
                insert_decisions(conn, self.run.id, decisions)
            else:
                decisions = removals.apply(conn, candidates, action)
                insert_decisions(conn, self.run.id, decisions)
            if verdict != "hold":  # candidates are active (billable): deleting one frees its seat
                self.seats_freed += sum(1 for d in decisions if d.kind == "deleted")
                if mode == "delta":  # the address of an employee removed (or unlinked) may go to another user
                    self.given_up.update(d.email for d in decisions if d.email)
        self.tally.add(decisions)
        return verdict == "hold"

    def _finish_ok(self, mode: str, delta_link: str | None, held: bool) -> None:
        with self.engine.begin() as conn:
            self._hold_lock(conn)  # a run whose lock went (disconnect, pause, expiry) stores no delta link
            if not self.dry_run:
                values: dict[str, Any] = {"last_error": ""}
                # Held removals, and users refused for want of seats, must be found again by the next
                # run (delta would not bring them back), so it starts from scratch.
                restart = held or bool(self.tally.counts.get("seat_limit"))
                values["delta_link"] = None if restart else delta_link
                values["delta_config_hash"] = "" if restart else self.hash
                if mode == "full":
                    values["last_full_run_at"] = utcnow()
                conn.execute(update(Connection).where(Connection.id == self.connection.id).values(**values))
                self.groups.keep(conn)
                if self.created_since_analyze > 1000:  # so the next run plans well from its first page
                    refresh_statistics(conn)
            else:
                self.groups.discard(conn)
                dryrun.discard(conn, self.run.id)
            conn.execute(update(SyncRun).where(SyncRun.id == self.run.id).values(
                status="succeeded", phase="done", done=self.tally.done, counts=self.tally.counts,
                finished_at=utcnow(), heartbeat_at=utcnow()))
        self.progress(self.tally.done, self.total, "done")

    # -- bookkeeping ------------------------------------------------------------------------

    def _count_users(self) -> int | None:
        try:
            return self.graph.count_users()
        except GraphError:
            return None  # progress without a total is still progress

    def _hold_lock(self, conn: DBConnection) -> None:
        lock.hold_in(conn, self.connection.id, self.run.id)  # row locked until the caller's commit

    def _check_lock(self) -> None:
        if not lock.renew(self.engine, self.connection.id, self.run.id):
            raise lock.LockLost()

    def _heartbeat_in(self, conn: DBConnection) -> None:
        """Renew the lock and store the progress in the caller's transaction (a page's: one commit, not three)."""
        if self.dry_run:  # a real run's page write renewed it already
            self._hold_lock(conn)
        conn.execute(update(SyncRun).where(SyncRun.id == self.run.id).values(
            done=self.tally.done, counts=self.tally.counts, heartbeat_at=utcnow()))

    def _update_run(self, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(SyncRun).where(SyncRun.id == self.run.id).values(**values))


# -- helpers --------------------------------------------------------------------------------

def _other_addresses(user: dict, primary: str) -> list[str]:
    """The user's other SMTP addresses (``proxyAddresses``), lower-case, without ``primary``."""
    found = []
    for proxy in user.get("proxyAddresses") or ():
        if isinstance(proxy, str) and proxy[:5].lower() == "smtp:" and (a := proxy[5:].strip().lower()) != primary:
            found.append(a)
    return found


def _as_removed(existing: Existing, removed: dict[int, str]) -> Existing:
    """The employees as a real run's removals (``removed``: employee id -> decision kind) would leave them."""
    def after(known: Known) -> Known | None:
        kind = removed.get(known.state.id)  # type: ignore[arg-type]
        if kind is None:
            return known
        if kind == "deleted":
            return None
        if kind == "deactivated":
            return replace(known, state=replace(known.state, status="inactive"))
        return replace(known, state=replace(known.state, m365_id=None, source="manual"))

    by_m365 = {k: a for k, v in existing.by_m365.items() if (a := after(v)) is not None and a.state.m365_id}
    by_email = {k: a for k, v in existing.by_email.items() if (a := after(v)) is not None}
    return Existing(by_m365, by_email)


@dataclass
class _AddressLedger:
    """Who took and who gave up which address among the users planned so far (see ``_Run.ledger``)."""

    claims: dict[str, str] = field(default_factory=dict)  # address -> the user whose employee has it now
    released: set[str] = field(default_factory=set)  # addresses an employee gave up
    planned: set[str] = field(default_factory=set)  # users planned (their addresses are final for the run)
    touched: set[str] = field(default_factory=set)  # addresses claimed or given up by this chunk's users

    def claim(self, email: str, uid: str) -> None:
        self.claims[email] = uid
        self.touched.add(email)

    def release(self, email: str) -> None:
        self.released.add(email)
        self.claims.pop(email, None)
        self.touched.add(email)

    def holder(self, email: str, stored: Known | None) -> Known | None:
        """The employee holding ``email`` as the run left it (the stored one, unless it gave it up)."""
        if stored is not None and email in self.released and email not in self.claims:
            return None
        return stored


def _reason(kind: str, verdict: Any, plan: Any) -> str:
    if kind in ("created", "linked", "reactivated"):
        return verdict.reason
    if kind == "skipped":
        return plan.reason
    if kind in ("paused", "excluded"):
        return f"the employee is {kind}; Microsoft 365 has changes that were not applied"
    return ""


def _details(kind: str, plan: Any) -> dict:
    pairs = {
        "updated": plan.changes,
        "paused": plan.pending,
        "excluded": plan.pending,
        "overwrote_manual": plan.manual_overwritten,
        "kept_manual": plan.manual_kept,
    }.get(kind)
    if pairs is None:
        return {}
    key = {"updated": ("before", "after"), "paused": ("synced", "m365"), "excluded": ("synced", "m365")}.get(
        kind, ("manual", "m365"))
    return {"fields": {f: {key[0]: a, key[1]: b} for f, (a, b) in sorted(pairs.items())}}


def _load(conn: DBConnection, model: type, row_id: int) -> Any:
    row = conn.execute(select(model.__table__).where(model.__table__.c.id == row_id)).first()
    if row is None:
        raise LookupError(f"{model.__name__} {row_id} does not exist")
    return model.model_validate(row._asdict()) if hasattr(model, "model_validate") else model(**row._asdict())


ABANDONED = ("The worker running this sync stopped before it finished (killed or timed out). "
             "Nothing was lost: the next run continues.")


def _fail_abandoned_runs(engine: Engine, connection_id: int, run_id: int) -> None:
    """Runs still "running" while we hold the lock lost their worker: say so on their rows."""
    with engine.begin() as conn:
        conn.execute(update(SyncRun).where(
            SyncRun.connection_id == connection_id, SyncRun.id != run_id, SyncRun.status == "running"
        ).values(status="failed", phase="done", error=ABANDONED, finished_at=utcnow()))


def fail_run(engine: Engine, run_id: int, error: str) -> None:
    """Mark a run that could not even start as failed, with the reason (and the connection's last error)."""
    _finish(engine, run_id, "failed", error)
    with engine.begin() as conn:
        connection_id = conn.execute(select(SyncRun.connection_id).where(SyncRun.id == run_id)).scalar_one()
    _mark_connection(engine, connection_id, last_error=error)


def _finish(engine: Engine, run_id: int, status: str, error: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(SyncRun).where(SyncRun.id == run_id).values(
            status=status, error=error, phase="done", finished_at=utcnow()))


def _mark_connection(engine: Engine, connection_id: int, **values: Any) -> None:
    # A disconnected connection stays so: a run that failed after the disconnect must not revive it.
    with engine.begin() as conn:
        conn.execute(update(Connection).where(Connection.id == connection_id, Connection.state != "disconnected")
                     .values(**values))
