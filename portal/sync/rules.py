"""Import and department rules: which Microsoft 365 users become employees, and in which departments.

Order of judgement for one user:

1. a disabled account (``accountEnabled`` false) is out of scope unless ``include_disabled``;
2. a guest (``userType`` Guest, or a ``#EXT#`` user principal name) is out of scope unless ``include_guests``;
3. without import rules everyone left is imported;
4. otherwise the user is imported when at least one rule matches. The first matching rule is the
   recorded reason; the departments are the union over *all* matching rules, in rule order,
   de-duplicated case-insensitively (the first spelling wins).

Licences play no part: unlicensed users are imported like everyone else.
String tests are trimmed and case-insensitive, like Graph's own filters; an attribute that is missing
reads as "" (so ``not_equals`` matches it and ``is_empty`` is true). A rule without conditions matches
everyone. ``matches`` is a case-insensitive regular-expression search.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from portal.employees.fields import department_key
from portal.sync.config import MAX_DEPARTMENT_NAME, Condition, DepartmentSource, ImportRule, SyncSettings
from portal.sync.mapping import as_text, truncate
from portal.sync.paths import compile_path

User = Mapping[str, Any]
Test = Callable[[User, frozenset[str]], bool]

NO_RULES = "no import rules"
ACCOUNT_DISABLED = "account disabled"
GUEST_USER = "guest user"
NO_RULE_MATCHED = "no import rule matched"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a user is imported, why (in the admin's words), by which rule, into which departments."""

    imported: bool
    reason: str
    rule: str | None = None
    departments: tuple[str, ...] = ()


_NO_RULES = Verdict(True, NO_RULES)
_DISABLED = Verdict(False, ACCOUNT_DISABLED)
_GUEST = Verdict(False, GUEST_USER)
_NO_MATCH = Verdict(False, NO_RULE_MATCHED)


def is_disabled(user: User) -> bool:
    """Whether the account is switched off (a missing accountEnabled counts as enabled)."""
    enabled = user.get("accountEnabled")
    return enabled is False or (type(enabled) is str and enabled.strip().lower() == "false")


def is_guest(user: User) -> bool:
    """Whether the user is a B2B guest: userType Guest, or a #EXT# user principal name."""
    kind = user.get("userType")
    if type(kind) is str and kind.strip().lower() == "guest":
        return True
    upn = user.get("userPrincipalName")
    return type(upn) is str and "#" in upn and "#EXT#" in upn.upper()


class _Rule:
    """An import rule compiled to closures; ``verdict`` is shared by every user it is the first match for."""

    __slots__ = ("test", "departments", "verdict")

    def __init__(self, rule: ImportRule) -> None:
        self.test = _compile_rule(rule)
        self.departments = _compile_departments(rule.departments)
        self.verdict = Verdict(True, f"matched import rule {rule.name!r}", rule.name)


class RuleSet:
    """The import rules of a run, compiled once; ``evaluate`` is called for every user."""

    def __init__(self, rules: Iterable[ImportRule], settings: SyncSettings) -> None:
        self._rules = tuple(_Rule(rule) for rule in rules)
        self._with_departments = any(rule.departments is not None for rule in self._rules)
        self._include_disabled = settings.include_disabled
        self._include_guests = settings.include_guests

    def evaluate(self, user: User, groups: frozenset[str] = frozenset()) -> Verdict:
        """Judge one user; ``groups`` holds the rule group ids the user is a (transitive) member of."""
        if not self._include_disabled and is_disabled(user):
            return _DISABLED
        if not self._include_guests and is_guest(user):
            return _GUEST
        if not self._rules:
            return _NO_RULES
        first: _Rule | None = None
        found: list[tuple[str, ...]] = []
        for rule in self._rules:
            if not rule.test(user, groups):
                continue
            if first is None:
                first = rule
                if not self._with_departments:
                    break  # nothing to collect from later rules
            if rule.departments is not None:
                found.append(rule.departments(user))
        if first is None:
            return _NO_MATCH
        departments = _union(found)
        if departments == first.verdict.departments:
            return first.verdict
        return Verdict(True, first.verdict.reason, first.verdict.rule, departments)


def _union(found: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not found:
        return ()
    if len(found) == 1 and len(found[0]) < 2:
        return found[0]
    seen: set[str] = set()
    names: list[str] = []
    for group in found:
        for name in group:
            key = department_key(name)
            if key not in seen:
                seen.add(key)
                names.append(name)
    return tuple(names)


def _compile_rule(rule: ImportRule) -> Test:
    tests = tuple(_compile_condition(condition) for condition in rule.conditions)
    if not tests:
        return lambda user, groups: True
    if len(tests) == 1:
        return tests[0]
    if rule.match == "any":
        return lambda user, groups: any(test(user, groups) for test in tests)
    return lambda user, groups: all(test(user, groups) for test in tests)


def _compile_condition(condition: Condition) -> Test:
    operator, value = condition.operator, condition.value
    if operator == "member_of":
        return lambda user, groups: value in groups
    if operator == "not_member_of":
        return lambda user, groups: value not in groups
    get = compile_path(condition.attribute)
    if operator == "matches":
        pattern = re.compile(value, re.IGNORECASE)
        return lambda user, groups: pattern.search(as_text(get(user))) is not None
    if operator == "is_empty":
        return lambda user, groups: not as_text(get(user))
    if operator == "is_not_empty":
        return lambda user, groups: bool(as_text(get(user)))
    wanted = value.strip().casefold()
    compare: Callable[[str], bool] = {
        "equals": lambda text: text == wanted,
        "not_equals": lambda text: text != wanted,
        "contains": lambda text: wanted in text,
        "starts_with": lambda text: text.startswith(wanted),
        "ends_with": lambda text: text.endswith(wanted),
    }[operator]
    return lambda user, groups: compare(as_text(get(user)).casefold())


def _compile_departments(source: DepartmentSource) -> Callable[[User], tuple[str, ...]] | None:
    if source.names:
        names = source.names
        return lambda user: names
    if not source.from_attribute:
        return None
    get, separator = compile_path(source.from_attribute), source.split

    def from_attribute(user: User) -> tuple[str, ...]:
        text = as_text(get(user))
        if not text:
            return ()
        parts = text.split(separator) if separator else (text,)
        return tuple(truncate(part.strip(), MAX_DEPARTMENT_NAME) for part in parts if part.strip())

    return from_attribute
