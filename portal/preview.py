"""Live preview of a configuration: what the engine's own rules and mapping make of the tenant's users.

Nothing here decides anything itself. Every verdict comes from ``portal.sync.rules.RuleSet`` and every
value from ``portal.sync.mapping.Mapper`` — the classes a run uses — applied to users read through
Graph with the same ``$select`` a run asks for. The preview writes nothing and takes no run lock, so an
admin can try rules while a sync is going.

Big tenants: the preview judges at most ``PREVIEW_LIMIT`` users (the first 2,000 Graph lists, three
requests) and says "based on the first 2,000 of N users". A full dry run of 100,000 users takes minutes
and holds the connection's run lock; a page must answer in seconds, so the preview samples and the real
run (or "Sync now") gives the exact figures. Group membership is read per rule group with ids only,
keeping just the members among the users read, so memory stays bounded by the sample; a group is read
up to ``GROUP_MEMBER_LIMIT`` members (20 requests), and the preview names any group it cut off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from portal.m365.graph import PAGE_SIZE
from portal.sync.config import (
    MEMBER_OPERATORS,
    Condition,
    ImportRule,
    SyncConfig,
    SyncSettings,
    graph_select,
    manager_select,
    member_of_groups,
    needs_manager,
)
from portal.sync.mapping import Mapper
from portal.sync.rules import RuleSet, Verdict

PREVIEW_LIMIT = 2_000
# Members read per rule group: 20 requests of 999 ids (about 8 s against the simulator). A bigger group is
# cut off there and the preview says so; a dry run on the Sync page reads every member.
GROUP_MEMBER_LIMIT = 20_000
SAMPLE_SIZE = 10
TOP_DEPARTMENTS = 10
# Conditions are tested one at a time to explain a verdict: disabled and guest accounts are judged first
# by the whole rule set, so a single condition is tested without those two gates.
_CONDITION_SETTINGS = SyncSettings(include_disabled=True, include_guests=True)


class GraphReader(Protocol):
    """The reads the preview needs (``portal.m365.graph.GraphClient`` in the product)."""

    def get(self, url_or_path: str, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None) -> dict[str, Any]: ...

    def iter_values(self, path: str, params: Mapping[str, Any] | None = None,
                    headers: Mapping[str, str] | None = None) -> Iterable[dict[str, Any]]: ...

    def transitive_user_ids(self, group_id: str) -> Iterable[str]: ...

    def count_users(self) -> int: ...


@dataclass(frozen=True)
class SampleUser:
    """One user the rules import, as the preview lists them."""

    display_name: str
    email: str
    rule: str | None
    departments: tuple[str, ...]


@dataclass
class Preview:
    """What the rules make of the users read: counts, departments, a sample."""

    read: int
    total: int | None  # users in the tenant when more than ``read`` (None: not counted, or read them all)
    imported: int = 0  # employees the rules would import (one per address)
    shared_address: int = 0  # matching users whose address an earlier matching user already has
    no_address: int = 0  # users without a usable e-mail address (skipped before the rules)
    left_out: Counter[str] = field(default_factory=Counter)  # reason -> users the rules leave out
    by_rule: Counter[str] = field(default_factory=Counter)  # first matching rule -> users
    departments: Counter[str] = field(default_factory=Counter)
    without_department: int = 0
    sample: list[SampleUser] = field(default_factory=list)
    cut_groups: list[str] = field(default_factory=list)  # rule groups read only up to GROUP_MEMBER_LIMIT members

    @property
    def partial(self) -> bool:
        return self.total is not None and self.total > self.read

    def top_departments(self, limit: int = TOP_DEPARTMENTS) -> list[tuple[str, int]]:
        return sorted(self.departments.items(), key=lambda item: (-item[1], item[0].casefold()))[:limit]


@dataclass(frozen=True)
class ConditionCheck:
    """One condition of a rule and whether this user meets it."""

    condition: Condition
    met: bool
    actual: str  # the user's value of the attribute ("" for group tests)


@dataclass(frozen=True)
class RuleCheck:
    """One rule and whether it matches this user, condition by condition."""

    rule: ImportRule
    matched: bool
    conditions: tuple[ConditionCheck, ...]


@dataclass(frozen=True)
class Explanation:
    """Why one user is imported (which rule, which departments) or why not."""

    user: dict[str, Any]
    email: str | None
    verdict: Verdict | None  # None when the user has no usable address (the rules never ran)
    reason: str
    rules: tuple[RuleCheck, ...]
    groups: frozenset[str]

    @property
    def imported(self) -> bool:
        return self.verdict is not None and self.verdict.imported


def user_params(cfg: SyncConfig, top: int | None = None, with_manager: bool | None = None) -> dict[str, str]:
    """``$select`` (and ``$expand=manager(...)``) for reading users as a run with this configuration does."""
    params = {"$select": ",".join(graph_select(cfg))}
    if needs_manager(cfg) if with_manager is None else with_manager:
        params["$expand"] = f"manager($select={','.join(manager_select(cfg))})"
    if top is not None:
        params["$top"] = str(top)
    return params


def read_users(graph: GraphReader, cfg: SyncConfig, limit: int = PREVIEW_LIMIT) -> list[dict[str, Any]]:
    """The first ``limit`` users Graph lists, with the properties the configuration reads."""
    users: list[dict[str, Any]] = []
    # The verdicts need the manager only when a rule reads it; expanding it for every user costs Graph time.
    params = user_params(cfg, top=min(PAGE_SIZE, limit), with_manager=rules_read_manager(cfg))
    for user in graph.iter_values("users", params):
        users.append(user)
        if len(users) >= limit:
            break
    return users


def rules_read_manager(cfg: SyncConfig) -> bool:
    """Whether a condition or a department source of the import rules reads ``manager.*``."""
    paths = [c.attribute for r in cfg.import_rules for c in r.conditions] + [
        r.departments.from_attribute for r in cfg.import_rules]
    return any(path.startswith("manager.") for path in paths)


def group_memberships(graph: GraphReader, group_ids: Iterable[str], user_ids: set[str],
                      limit: int | None = None) -> tuple[dict[str, frozenset[str]], list[str]]:
    """The rule groups each of ``user_ids`` is a transitive member of, and the groups cut off at ``limit``
    members (their later members count as non-members in the preview; the sync reads them all)."""
    limit = GROUP_MEMBER_LIMIT if limit is None else limit
    found: dict[str, set[str]] = {}
    cut: list[str] = []
    for group_id in sorted(group_ids):
        for seen, user_id in enumerate(graph.transitive_user_ids(group_id), start=1):
            if seen > limit:
                cut.append(group_id)
                break
            if user_id in user_ids:
                found.setdefault(user_id, set()).add(group_id)
    return {user_id: frozenset(groups) for user_id, groups in found.items()}, cut


def build_preview(graph: GraphReader, cfg: SyncConfig, limit: int = PREVIEW_LIMIT,
                  sample_size: int = SAMPLE_SIZE) -> Preview:
    """Read up to ``limit`` users and judge each with the engine's mapping and rules."""
    users = read_users(graph, cfg, limit)
    total = graph.count_users() if len(users) >= limit else None
    groups, cut = group_memberships(graph, member_of_groups(cfg), {str(u.get("id")) for u in users})
    preview = judge(users, cfg, groups, total=total, sample_size=sample_size)
    preview.cut_groups = cut
    return preview


def judge(users: Iterable[Mapping[str, Any]], cfg: SyncConfig, groups: Mapping[str, frozenset[str]],
          total: int | None = None, sample_size: int = SAMPLE_SIZE) -> Preview:
    """Count what the engine's decisions make of these users (pure: no Graph, no database)."""
    mapper, rules = Mapper(cfg.mapping), RuleSet(cfg.import_rules, cfg.settings)
    preview = Preview(read=0, total=total)
    addresses: set[str] = set()
    for user in users:
        preview.read += 1
        email = mapper.email(user)
        if email is None:  # the engine skips these before any rule is tested
            preview.no_address += 1
            continue
        verdict = rules.evaluate(user, groups.get(str(user.get("id")), frozenset()))
        if not verdict.imported:
            preview.left_out[verdict.reason] += 1
            continue
        if email in addresses:  # one employee per address: the run reports the others as conflicts
            preview.shared_address += 1
            continue
        addresses.add(email)
        preview.imported += 1
        preview.by_rule[verdict.rule or verdict.reason] += 1
        preview.departments.update(verdict.departments)
        preview.without_department += not verdict.departments
        if len(preview.sample) < sample_size:
            name = mapper.values(user).get("display_name") or str(user.get("displayName") or "")
            preview.sample.append(SampleUser(name, email, verdict.rule, verdict.departments))
    if total is not None and total <= preview.read:
        preview.total = None
    return preview


def user_groups(graph: GraphReader, user_id: str, rule_groups: Iterable[str]) -> frozenset[str]:
    """Which of the rule groups one user is a transitive member of (one listing of the user's groups)."""
    wanted = {g.lower() for g in rule_groups}
    if not wanted:
        return frozenset()
    path = f"users/{quote(user_id, safe='@')}/transitiveMemberOf/microsoft.graph.group"
    found = {str(g.get("id", "")).lower() for g in graph.iter_values(path, {"$select": "id", "$top": PAGE_SIZE})}
    return frozenset(found & wanted)


def explain_user(graph: GraphReader, cfg: SyncConfig, user_id: str) -> Explanation:
    """Read one user as a run would and say which rule imports them, or why none does."""
    user = graph.get(f"users/{quote(user_id.strip(), safe='@')}", user_params(cfg))
    groups = user_groups(graph, str(user.get("id") or user_id), member_of_groups(cfg))
    return explain(user, cfg, groups)


def explain(user: Mapping[str, Any], cfg: SyncConfig, groups: frozenset[str]) -> Explanation:
    """The verdict for one user, with every rule's conditions tested one by one (pure)."""
    mapper = Mapper(cfg.mapping)
    email = mapper.email(user)
    checks = tuple(_check_rule(rule, user, groups) for rule in cfg.import_rules)
    if email is None:
        reason = mapper.skip_reason(user) or "no usable e-mail address"
        return Explanation(dict(user), None, None, reason, checks, groups)
    verdict = RuleSet(cfg.import_rules, cfg.settings).evaluate(user, groups)
    return Explanation(dict(user), email, verdict, verdict.reason, checks, groups)


def mapped_values(cfg: SyncConfig, user: Mapping[str, Any]) -> dict[str, str]:
    """Every mapped employee field's value for this user, as the run would store it."""
    return Mapper(cfg.mapping).values(user)


def _check_rule(rule: ImportRule, user: Mapping[str, Any], groups: frozenset[str]) -> RuleCheck:
    matched = RuleSet((rule,), _CONDITION_SETTINGS).evaluate(user, groups).imported
    conditions = []
    for condition in rule.conditions:
        alone = ImportRule(name=rule.name, conditions=(condition,))
        met = RuleSet((alone,), _CONDITION_SETTINGS).evaluate(user, groups).imported
        actual = "" if condition.operator in MEMBER_OPERATORS else _actual(user, condition.attribute)
        conditions.append(ConditionCheck(condition, met, actual))
    return RuleCheck(rule, matched, tuple(conditions))


def _actual(user: Mapping[str, Any], attribute: str) -> str:
    return Mapper({"custom.value": attribute}).values(user).get("custom.value", "")
