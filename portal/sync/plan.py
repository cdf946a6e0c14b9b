"""What the sync does with one imported Microsoft 365 user, given the employee it matched (or none).

The engine maps the user (``Mapper.values``), judges it (``RuleSet.evaluate``), finds the employee by
``m365_id`` and then by e-mail, and asks ``plan_user`` what to write. Nothing here touches the database.

Employee-level rules (decision kinds in brackets; "unchanged" records no decision):

=================================================  ==========================================================
existing employee                                  outcome
=================================================  ==========================================================
none, ``import_new_users`` on                      create with every mapped value and the rules'
                                                   departments [created]
none, ``import_new_users`` off                     skip, reason "import of new users is off" [skipped]
excluded / paused                                  write nothing; [excluded] / [paused] only while Graph
                                                   differs from the synced values, so quiet runs stay quiet
inactive (deactivated when its user vanished)      status back to active [reactivated] + field policy
matched by e-mail, not linked to this user         link: m365_id set, source m365 [linked] + field policy;
                                                   a manual employee counts as never synced (s = {})
linked and active                                  field policy
last synced from another user (``reset``)          every value becomes the user's, the rest is cleared,
                                                   hand-made departments dropped [replaced]
=================================================  ==========================================================

Field policy for every mapped field F: incoming m, current c, last synced s. F was typed by hand
(*manual*) when c != s, or, with no synced value, when c != "".

=====================================  =================================  ==============================
case                                   write                              decision
=====================================  =================================  ==============================
m == "" and empty_values == "keep"     nothing; s stays as it was          -
c == m                                 nothing                             -
overwrite_manual on                    m                                   overwrote_manual if manual,
                                                                           else updated
overwrite_manual off, m == s           nothing (Graph unchanged)           -
overwrite_manual off, m != s, manual   nothing: the hand-typed c stays     kept_manual (c, m)
overwrite_manual off, m != s           m                                   updated
=====================================  =================================  ==============================

The new synced value of F is m in every row but the first, so planning the same user again over the
result yields no decisions. ``email`` is the matching key and always follows Graph.

Departments: on create, on link, and on every run with ``department_sync == "always"``, the employee's
sync-made departments are the field ``departments`` (names folded and sorted, ``departments_value``) under
the same policy: one an admin removed by hand is typed data, kept or overwritten as ``overwrite_manual``
says, and ``empty_values`` does not apply (no department is a value). Departments an admin assigned by
hand are the admin's: the engine leaves them out of the rules' departments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from portal.employees.fields import department_key
from portal.sync.config import SyncSettings
from portal.sync.seats import SeatAllocator

__all__ = [
    "AddressClaim", "EmployeeState", "Plan", "SeatAllocator", "address_owner", "apply_plan", "plan_user",
    "removal_plan",
]

CREATED = "created"
UPDATED = "updated"
LINKED = "linked"
OVERWROTE_MANUAL = "overwrote_manual"
KEPT_MANUAL = "kept_manual"
PAUSED = "paused"
EXCLUDED = "excluded"
REACTIVATED = "reactivated"
SKIPPED = "skipped"
REPLACED = "replaced"  # the employee was another person's: reset to this user's data
IMPORT_OFF = "import of new users is off"

Changes = dict[str, tuple[str, str]]


@dataclass(frozen=True)
class EmployeeState:
    """The part of an employee row the plan needs; ``values`` and ``synced_values`` include ``custom.*``."""

    id: int | None
    email: str
    values: Mapping[str, str]
    synced_values: Mapping[str, str]
    status: str = "active"  # active | paused | excluded | inactive
    source: str = "m365"  # m365 | manual
    m365_id: str | None = None
    departments_from_sync: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Plan:
    """What to write for one user, and the decisions to record (empty: unchanged)."""

    action: str  # create | update | skip | none
    changes: Changes = field(default_factory=dict)  # field -> (before, after); "email" is the address
    new_synced_values: Mapping[str, str] = field(default_factory=dict)
    manual_overwritten: Changes = field(default_factory=dict)  # field -> (hand-typed, Microsoft 365)
    manual_kept: Changes = field(default_factory=dict)  # field -> (hand-typed, Microsoft 365)
    departments: tuple[str, ...] | None = None  # the sync-sourced departments; None: leave as is
    decisions: tuple[str, ...] = ()
    status: str | None = None  # new status; None: leave as is
    link: bool = False  # set m365_id to this user and source to "m365"
    reason: str = ""  # why a user was skipped
    pending: Changes = field(default_factory=dict)  # paused/excluded: field -> (synced, Microsoft 365), unwritten
    reset: bool = False  # clear what the previous person left: hand-typed departments, unmapped values


def plan_user(
    incoming: Mapping[str, str],
    departments: tuple[str, ...],
    existing: EmployeeState | None,
    settings: SyncSettings,
    m365_id: str | None = None,
    *,
    reset: bool = False,
) -> Plan:
    """Decide what to write for one imported user: ``incoming`` is ``Mapper.values``, ``departments`` the verdict's.

    The employee is (re)linked when it is linked to no user, or, if ``m365_id`` is given, to another one.
    ``reset``: the employee was another person's (``address_owner`` said REUSE): every value becomes the
    user's, fields the user leaves empty are cleared, and nothing typed by hand survives.
    """
    if existing is None:
        return _plan_new(incoming, departments, settings)
    if reset:
        return _plan_reset(incoming, departments, existing, settings)
    if existing.status in (PAUSED, EXCLUDED):
        return _plan_held(incoming, existing, settings)
    link = existing.m365_id is None or (m365_id is not None and existing.m365_id != m365_id)
    # A hand-made employee was never synced: every non-empty value in it was typed by hand.
    synced = {} if link and existing.source == "manual" else existing.synced_values
    assumed: dict[str, str] = {}
    if settings.department_sync == "always" or link:
        # The sync's departments are a field like any other: removed or added by hand, they are typed
        # data that overwrite_manual governs, on every kind of run.
        incoming = {**incoming, DEPARTMENTS: departments_value(departments)}
        current = departments_value(existing.departments_from_sync)
        existing = replace(existing, values={**existing.values, DEPARTMENTS: current})
        if synced:  # synced before departments were a field: as the sync left them
            assumed[DEPARTMENTS] = current
    policy = _FieldPolicy(incoming, existing, synced, settings, assumed)
    decisions = []
    if link:
        decisions.append(LINKED)
    status = None
    if existing.status == "inactive":
        status = "active"
        decisions.append(REACTIVATED)
    new_departments = tuple(departments) if DEPARTMENTS in policy.changes else None
    if policy.updated:
        decisions.append(UPDATED)
    if policy.overwritten:
        decisions.append(OVERWROTE_MANUAL)
    if policy.kept:
        decisions.append(KEPT_MANUAL)
    write = bool(policy.changes) or policy.synced_changed or new_departments is not None or link or status
    return Plan(
        action="update" if write else "none",
        changes=policy.changes,
        new_synced_values=policy.synced,
        manual_overwritten=policy.overwritten,
        manual_kept=policy.kept,
        departments=new_departments,
        decisions=tuple(decisions),
        status=status,
        link=link,
    )


def _plan_new(incoming: Mapping[str, str], departments: tuple[str, ...], settings: SyncSettings) -> Plan:
    if not settings.import_new_users:
        return Plan(action="skip", decisions=(SKIPPED,), reason=IMPORT_OFF)
    return Plan(
        action="create",
        changes={name: ("", value) for name, value in incoming.items() if value},
        new_synced_values={**incoming, DEPARTMENTS: departments_value(departments)},
        departments=tuple(departments),
        decisions=(CREATED,),
        status="active",
        link=True,
    )


def _plan_reset(incoming: Mapping[str, str], departments: tuple[str, ...], existing: EmployeeState,
                settings: SyncSettings) -> Plan:
    if not settings.import_new_users:
        return Plan(action="skip", decisions=(SKIPPED,), reason=IMPORT_OFF)
    changes: Changes = {}
    for name, now in existing.values.items():
        if name == DEPARTMENTS:
            continue  # replaced as a whole below
        value = incoming.get(name, "")
        if now != value:
            changes[name] = (now, value)
    for name, value in incoming.items():
        if name == "email":
            if value != existing.email:
                changes["email"] = (existing.email, value)
        elif name not in existing.values and value:
            changes[name] = ("", value)
    return Plan(
        action="update",
        changes=changes,
        new_synced_values={**incoming, DEPARTMENTS: departments_value(departments)},
        departments=tuple(departments),
        decisions=(REPLACED,),
        status="active",
        link=True,
        reset=True,
    )


def _plan_held(incoming: Mapping[str, str], existing: EmployeeState, settings: SyncSettings) -> Plan:
    """Paused and excluded employees are frozen: only say so when Microsoft 365 has something new."""
    keep_empty = settings.empty_values == "keep"
    synced = existing.synced_values
    pending = {
        name: (synced.get(name, ""), value)
        for name, value in incoming.items()
        if value != synced.get(name, "") and not (keep_empty and not value)
    }
    if not pending:
        return Plan(action="none", new_synced_values=synced)
    return Plan(action="skip", new_synced_values=synced, decisions=(existing.status,), pending=pending)


class _FieldPolicy:
    """The field-by-field comparison of incoming, current and last-synced values (see the module table)."""

    __slots__ = ("changes", "overwritten", "kept", "updated", "synced", "synced_changed")

    def __init__(
        self, incoming: Mapping[str, str], existing: EmployeeState, synced: Mapping[str, str], settings: SyncSettings,
        assumed: Mapping[str, str] | None = None,
    ) -> None:
        keep_empty = settings.empty_values == "keep"
        overwrite = settings.overwrite_manual
        current = existing.values
        self.changes: Changes = {}
        self.overwritten: Changes = {}
        self.kept: Changes = {}
        self.updated = False
        new_synced: dict[str, str] | None = None
        for name, value in incoming.items():
            if name == "email":
                now, manual = existing.email, False  # the matching key always follows Microsoft 365
                if not value:
                    continue
            elif keep_empty and not value and name != DEPARTMENTS:
                continue  # Microsoft 365 emptied it: keep what the employee has, and its synced value
            else:
                now = current.get(name, "")
            last = synced.get(name, (assumed or {}).get(name))
            if last != value:
                if new_synced is None:
                    new_synced = dict(synced)
                new_synced[name] = value
            if now == value:
                continue
            if name != "email":
                manual = now != last if last is not None else now != ""
            if overwrite or not manual:
                # Not manual means now == last, so with overwrite off this is exactly "Graph changed".
                self.changes[name] = (now, value)
                if manual:
                    self.overwritten[name] = (now, value)
                else:
                    self.updated = True
            elif last != value:
                self.kept[name] = (now, value)
        self.synced_changed = new_synced is not None or synced is not existing.synced_values
        self.synced: Mapping[str, str] = new_synced if new_synced is not None else synced


DEPARTMENTS = "departments"  # the pseudo-field of the sync-made department memberships


def departments_value(names: tuple[str, ...] | frozenset[str]) -> str:
    """Department names as one comparable field value: by ``department_key`` (one rule for names), sorted."""
    return "; ".join(sorted({department_key(name) for name in names}))


def apply_plan(existing: EmployeeState | None, plan: Plan, m365_id: str) -> EmployeeState | None:
    """The employee as it is after the engine carried out ``plan`` (the reference for what "apply" means)."""
    if plan.action == "create":
        values = {name: after for name, (_, after) in plan.changes.items() if name != "email"}
        return EmployeeState(
            id=None,
            email=plan.changes.get("email", ("", ""))[1],
            values=values,
            synced_values=dict(plan.new_synced_values),
            status="active",
            source="m365",
            m365_id=m365_id,
            departments_from_sync=frozenset(plan.departments or ()),
        )
    if existing is None or plan.action != "update":
        return existing
    values = dict(existing.values)
    values.update((name, after) for name, (_, after) in plan.changes.items() if name != "email")
    return EmployeeState(
        id=existing.id,
        email=plan.changes["email"][1] if "email" in plan.changes else existing.email,
        values=values,
        synced_values=dict(plan.new_synced_values),
        status=plan.status or existing.status,
        source="m365" if plan.link else existing.source,
        m365_id=m365_id if plan.link else existing.m365_id,
        departments_from_sync=(
            frozenset(plan.departments) if plan.departments is not None else existing.departments_from_sync
        ),
    )


# -- who owns an address ----------------------------------------------------------------------------------

OWN = "own"  # plan the user against its own employee (or create one)
LINK = "link"  # plan the user against the employee holding the address (a manual one): link it
REUSE = "reuse"  # the holder belonged to another, departed user: reset it and link it (never a mix of two people)
CONFLICT = "conflict"  # the address is another user's: record a conflict, write nothing
KEEP = "keep"  # the user's employee keeps its current address (the new one is another's), the rest is planned
DEFER = "defer"  # the holder's user has not been met yet in this run: decide once every page was read


@dataclass(frozen=True)
class AddressClaim:
    """``address_owner``'s answer: what to do, and the employee to plan the user against (None: a new one)."""

    outcome: str
    employee: EmployeeState | None = None
    reason: str = ""


def address_owner(
    uid: str,
    email: str,
    linked: EmployeeState | None,
    holder: EmployeeState | None,
    *,
    holder_last_user: str | None = None,
    alias_holder: EmployeeState | None = None,
    claimed_by: str | None = None,
    holder_settled: bool = True,
    final: bool = False,
) -> AddressClaim:
    """Who gets ``email``, which user ``uid`` wants; ``linked`` is the employee linked to ``uid``.

    ``holder`` is the employee that holds ``email`` now, if it is not ``linked``; ``holder_last_user``
    the user it was last synced from (kept when it was unlinked). ``alias_holder``: a manual employee
    typed with one of the user's other SMTP addresses (``proxyAddresses``). ``claimed_by`` is another user that took
    the address earlier in this run; ``holder_settled`` says whether the holder's user was already planned
    in this run (its address cannot change any more); ``final``: the run has read every page, decide now.

    =====================================================  ====================================================
    situation                                              outcome
    =====================================================  ====================================================
    another user took the address earlier in this run      linked: keep its address [conflict]; none: conflict
    nobody else holds it                                   own; none and an ``alias_holder``: link that one,
                                                             which takes the primary address
    holder manual, never synced from another user          none: link it; linked: keep [conflict]
    holder last synced from another user, now inactive     none: reuse it, reset; linked: keep [conflict]
      or unlinked (that user left)
    holder linked to another user who may still move       defer (until ``final``)
    holder linked to another user, settled                 linked: keep [conflict]; none: conflict
    =====================================================  ====================================================
    """
    taken = f"{email} already belongs to another Microsoft 365 user"
    kept = f"{email} already belongs to another employee; the address was kept"
    if claimed_by is not None and claimed_by != uid:
        return AddressClaim(KEEP, linked, kept) if linked is not None else AddressClaim(CONFLICT, None, taken)
    if holder is None or (linked is not None and holder.id == linked.id):
        if linked is None and alias_holder is not None:
            return AddressClaim(LINK, alias_holder, f"matched by its other address {alias_holder.email}; "
                                                    f"the employee takes the primary address {email}")
        return AddressClaim(OWN, linked)
    last_user = holder.m365_id or holder_last_user
    if last_user is None or last_user == uid:
        if linked is not None:
            return AddressClaim(KEEP, linked, kept)
        return AddressClaim(LINK, holder)
    departed = holder.m365_id is None or holder.status == "inactive"
    if departed:
        if linked is not None:
            return AddressClaim(KEEP, linked, kept)
        return AddressClaim(REUSE, holder, f"{email} belonged to another Microsoft 365 user before; the employee "
                                           "was reset to this user's data (hand-typed values and departments cleared)")
    if not holder_settled and not final:
        return AddressClaim(DEFER, linked)
    return AddressClaim(KEEP, linked, kept) if linked is not None else AddressClaim(CONFLICT, None, taken)


def removal_plan(candidate_count: int, connection_employee_count: int, settings: SyncSettings) -> str:
    """Answer "hold" when removing this many employees needs an admin's approval, else "apply".

    Held when the count exceeds ``removal_threshold.count`` OR exceeds ``percent`` % of the connection's
    employees (counted before the removal, candidates included). No candidates: "apply" (nothing to do),
    which also covers a connection with 0 employees, where any percentage would otherwise be exceeded.
    More candidates than employees cannot happen in a sound run; it is held to be safe. On small
    connections the percentage bites first: at 10 %, one removal among 9 employees is held.
    """
    if candidate_count <= 0:
        return "apply"
    threshold = settings.removal_threshold
    if candidate_count > threshold.count or candidate_count > connection_employee_count:
        return "hold"
    # Integer-safe form of count > percent% of employees.
    if candidate_count * 100 > threshold.percent * connection_employee_count:
        return "hold"
    return "apply"
