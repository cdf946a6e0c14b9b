"""A connection's sync configuration (settings, field mapping, import rules), validated as one document.

The document is what ``m365 config --export/--import`` reads and writes::

    {"settings": {...}, "mapping": {"job_title": "jobTitle", ...}, "import_rules": [{...}, ...]}

``parse_config`` accepts it whole or rejects it whole: every problem is collected and reported with the
key path it concerns (``import_rules[2].conditions[0].operator: unknown operator 'eq'; …``). Unknown
keys are problems too, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portal.employees.fields import EMPLOYEE_FIELDS, department_key
from portal.errors import SigsyncError
from portal.sync.paths import attribute_problem, top_level

# What a mapping can fill: the employee's data columns (one list, kept by portal.employees), and the photo.
MAPPABLE_FIELDS = (*EMPLOYEE_FIELDS, "photo")
DEFAULT_MAPPING = {
    "first_name": "givenName",
    "last_name": "surname",
    "display_name": "displayName",
    "email": "mail",
    "job_title": "jobTitle",
    "department": "department",
    "company": "companyName",
    "office": "officeLocation",
    "phone": "businessPhones[0]",
    "mobile": "mobilePhone",
    "fax": "faxNumber",
    "street": "streetAddress",
    "postal_code": "postalCode",
    "city": "city",
    "state": "state",
    "country": "country",
    "employee_number": "employeeId",
    "manager_name": "manager.displayName",
    "manager_email": "manager.mail",
    "photo": "photo",
}
CUSTOM_FIELD = re.compile(r"custom\.([a-z0-9_]{1,40})")
MAX_CUSTOM_FIELDS = 50

OPERATORS = (
    "equals", "not_equals", "contains", "starts_with", "ends_with", "is_empty", "is_not_empty", "matches",
    "member_of", "not_member_of",
)  # fmt: skip
MEMBER_OPERATORS = frozenset({"member_of", "not_member_of"})
VALUELESS_OPERATORS = frozenset({"is_empty", "is_not_empty"})
MEMBER_ATTRIBUTE = "memberOf"
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SYNC_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
MAX_REGEX = 500
MAX_RULE_NAME = 100
MAX_DEPARTMENT_NAME = 200  # Department.name
# Settings that only say *when* to sync: changing them must not force a full run.
SCHEDULE_SETTINGS = ("auto_sync", "sync_time", "timezone")
# proxyAddresses: a manual employee typed with one of a user's other addresses is matched to it.
BASE_SELECT = ("id", "mail", "userPrincipalName", "accountEnabled", "userType", "proxyAddresses")


class ConfigInvalid(SigsyncError, ValueError):
    """The configuration document was rejected; ``problems`` lists (key path, why) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{path}: {why}" for path, why in self.problems))


@dataclass(frozen=True)
class RemovalThreshold:
    """Removals above either bound are held for an admin's approval."""

    count: int = 50
    percent: float = 10.0


@dataclass(frozen=True)
class SyncSettings:
    """How the sync treats new users, hand-typed values, empty values, departments and removals."""

    import_new_users: bool = True
    overwrite_manual: bool = False
    empty_values: str = "keep"  # keep | clear
    department_sync: str = "always"  # always | on_create
    photos: bool = False
    include_disabled: bool = False
    include_guests: bool = False
    removal: str = "deactivate"  # delete | deactivate | keep
    removal_threshold: RemovalThreshold = field(default_factory=RemovalThreshold)
    auto_sync: bool = True
    sync_time: str = "03:00"
    timezone: str = "UTC"


@dataclass(frozen=True)
class Condition:
    """One test of an import rule; ``value`` is "" for is_empty/is_not_empty, a lower-case group id for member_of."""

    attribute: str
    operator: str
    value: str = ""


# Microsoft 365 admins write multi-value attributes with ";": "Sales;Marketing" is two departments.
DEFAULT_SPLIT = ";"


@dataclass(frozen=True)
class DepartmentSource:
    """Which departments an import rule gives: fixed ``names``, or the values of ``from_attribute``, or none."""

    names: tuple[str, ...] = ()
    from_attribute: str = ""
    split: str = DEFAULT_SPLIT  # "" keeps the attribute's value whole


@dataclass(frozen=True)
class ImportRule:
    """A named set of conditions; a user matching any rule is imported."""

    name: str
    description: str = ""
    match: str = "all"  # all | any
    conditions: tuple[Condition, ...] = ()
    departments: DepartmentSource = field(default_factory=DepartmentSource)


@dataclass(frozen=True)
class SyncConfig:
    """The whole sync configuration of a connection; ``mapping`` holds only transferred fields (do not mutate)."""

    settings: SyncSettings
    mapping: dict[str, str]
    import_rules: tuple[ImportRule, ...]


_SETTING_CHOICES = {
    "empty_values": ("keep", "clear"),
    "department_sync": ("always", "on_create"),
    "removal": ("delete", "deactivate", "keep"),
}
_SETTING_BOOLS = ("import_new_users", "overwrite_manual", "photos", "include_disabled", "include_guests", "auto_sync")
_SETTING_KEYS = (*_SETTING_BOOLS, *_SETTING_CHOICES, "removal_threshold", "sync_time", "timezone")


def default_config(timezone: str = "UTC") -> SyncConfig:
    """The out-of-the-box configuration: everyone imported, the standard mapping, the org's timezone."""
    return parse_config({}, default_timezone=timezone)


def parse_config(data: object, default_timezone: str = "UTC") -> SyncConfig:
    """Validate a configuration document; raise ConfigInvalid naming every bad key path."""
    reader = _Reader()
    document = reader.object(data, "config")
    if document is None:
        raise ConfigInvalid(reader.problems)
    reader.no_unknown_keys(document, ("settings", "mapping", "import_rules"), "")
    settings = _parse_settings(reader, document.get("settings", {}), default_timezone)
    mapping = _parse_mapping(reader, document.get("mapping", {}))
    rules = _parse_rules(reader, document.get("import_rules", []))
    if reader.problems:
        raise ConfigInvalid(reader.problems)
    return SyncConfig(settings=settings, mapping=mapping, import_rules=rules)


def export_config(cfg: SyncConfig) -> dict[str, Any]:
    """The configuration as a complete JSON document; ``parse_config`` reads it back to an equal config."""
    s = cfg.settings
    settings: dict[str, Any] = {name: getattr(s, name) for name in _SETTING_KEYS}
    threshold = s.removal_threshold
    settings["removal_threshold"] = {"count": threshold.count, "percent": _number(threshold.percent)}
    mapping = {name: cfg.mapping.get(name, "") for name in MAPPABLE_FIELDS}
    mapping.update(sorted((name, path) for name, path in cfg.mapping.items() if name.startswith("custom.")))
    return {"settings": settings, "mapping": mapping, "import_rules": [_export_rule(rule) for rule in cfg.import_rules]}


def config_hash(cfg: SyncConfig) -> str:
    """Fingerprint of everything that changes a run's outcome (not the schedule): a change forces a full run."""
    document = export_config(cfg)
    for name in SCHEDULE_SETTINGS:
        del document["settings"][name]
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def graph_select(cfg: SyncConfig) -> tuple[str, ...]:
    """The user properties to ``$select``: the identity basics plus every property mapping and rules read."""
    extra = {top_level(path) for path in _attribute_paths(cfg) if not path.startswith("manager.")}
    return BASE_SELECT + tuple(sorted(extra - set(BASE_SELECT)))


def needs_manager(cfg: SyncConfig) -> bool:
    """Whether mapping or rules read ``manager.*``, which comes from ``$expand=manager(...)``."""
    return any(path.startswith("manager.") for path in _attribute_paths(cfg))


def manager_select(cfg: SyncConfig) -> tuple[str, ...]:
    """The manager properties to ``$select`` inside ``$expand=manager(...)``."""
    inner = {top_level(path[len("manager.") :]) for path in _attribute_paths(cfg) if path.startswith("manager.")}
    return ("id", *sorted(inner - {"id"}))


def needs_photo(cfg: SyncConfig) -> bool:
    """Whether the run fetches profile photos: the photos setting is on and the photo field is mapped."""
    return cfg.settings.photos and cfg.mapping.get("photo") == "photo"


def member_of_groups(cfg: SyncConfig) -> frozenset[str]:
    """Lower-case ids of the groups the import rules test membership of."""
    return frozenset(
        condition.value
        for rule in cfg.import_rules
        for condition in rule.conditions
        if condition.operator in MEMBER_OPERATORS
    )


def _attribute_paths(cfg: SyncConfig) -> Iterator[str]:
    for name, path in cfg.mapping.items():
        if name != "photo":
            yield path
    for rule in cfg.import_rules:
        for condition in rule.conditions:
            if condition.operator not in MEMBER_OPERATORS:
                yield condition.attribute
        if rule.departments.from_attribute:
            yield rule.departments.from_attribute


def _number(value: float) -> int | float:
    # 10 and 10.0 must export (and hash) the same.
    return int(value) if float(value).is_integer() else value


def _export_rule(rule: ImportRule) -> dict[str, Any]:
    conditions = []
    for condition in rule.conditions:
        item = {"attribute": condition.attribute, "operator": condition.operator}
        if condition.operator not in VALUELESS_OPERATORS:
            item["value"] = condition.value
        conditions.append(item)
    source = rule.departments
    departments: dict[str, Any] = {}
    if source.names:
        departments = {"names": list(source.names)}
    elif source.from_attribute:
        departments = {"from_attribute": source.from_attribute, "split": source.split}
    return {
        "name": rule.name,
        "description": rule.description,
        "match": rule.match,
        "conditions": conditions,
        "departments": departments,
    }


class _Reader:
    """Collects problems while walking the document, so the admin sees all of them at once."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def problem(self, path: str, why: str) -> None:
        self.problems.append((path, why))

    def object(self, value: object, path: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.problem(path, f"must be an object, got {_kind(value)}")
        return None

    def no_unknown_keys(self, data: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"; did you mean {close[0]}?" if close else f"; known keys: {', '.join(allowed)}"
                self.problem(_join(path, str(key)), f"unknown key{hint}")

    def boolean(self, data: Mapping[str, Any], key: str, default: bool, path: str) -> bool:
        value = data.get(key, default)
        if isinstance(value, bool):
            return value
        self.problem(_join(path, key), f"must be true or false, got {_kind(value)}")
        return default

    def choice(self, data: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str, path: str) -> str:
        value = data.get(key, default)
        if isinstance(value, str) and value in choices:
            return value
        self.problem(_join(path, key), f"must be one of {', '.join(choices)}, got {_shown(value)}")
        return default

    def text(self, data: Mapping[str, Any], key: str, path: str, *, default: str | None = None, limit: int = 0) -> str:
        value = data.get(key, default)
        if value is None:
            self.problem(_join(path, key), "is required")
            return ""
        if not isinstance(value, str):
            self.problem(_join(path, key), f"must be text, got {_kind(value)}")
            return ""
        value = value.strip()
        if limit and len(value) > limit:
            self.problem(_join(path, key), f"is longer than {limit} characters")
        return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str | int | float) else _kind(value)


def _parse_settings(reader: _Reader, data: object, default_timezone: str) -> SyncSettings:
    settings = reader.object(data, "settings")
    if settings is None:
        return SyncSettings()
    reader.no_unknown_keys(settings, _SETTING_KEYS, "settings")
    defaults = SyncSettings()
    values: dict[str, Any] = {}
    for name in _SETTING_BOOLS:
        values[name] = reader.boolean(settings, name, getattr(defaults, name), "settings")
    for name, choices in _SETTING_CHOICES.items():
        values[name] = reader.choice(settings, name, choices, getattr(defaults, name), "settings")
    values["removal_threshold"] = _parse_threshold(reader, settings.get("removal_threshold", {}))
    sync_time = settings.get("sync_time", "03:00")
    if not (isinstance(sync_time, str) and _SYNC_TIME.fullmatch(sync_time)):
        reader.problem("settings.sync_time", f"must be a time of day as HH:MM, e.g. 03:00, got {_shown(sync_time)}")
        sync_time = "03:00"
    values["sync_time"] = sync_time
    values["timezone"] = _parse_timezone(reader, settings.get("timezone", default_timezone))
    return SyncSettings(**values)


def _parse_threshold(reader: _Reader, data: object) -> RemovalThreshold:
    threshold = reader.object(data, "settings.removal_threshold")
    if threshold is None:
        return RemovalThreshold()
    reader.no_unknown_keys(threshold, ("count", "percent"), "settings.removal_threshold")
    count = threshold.get("count", 50)
    if isinstance(count, float) and count.is_integer():
        count = int(count)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        reader.problem("settings.removal_threshold.count", f"must be a whole number of 0 or more, got {_shown(count)}")
        count = 50
    percent = threshold.get("percent", 10)
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
        reader.problem("settings.removal_threshold.percent", f"must be a number from 0 to 100, got {_shown(percent)}")
        percent = 10
    return RemovalThreshold(count=count, percent=float(percent))


TIMEZONE_MAX = 64


def known_timezone(value: object) -> str | None:
    """The IANA time-zone name, trimmed, or None when zoneinfo does not know it (the one check for both
    an organisation's zone and a sync schedule's)."""
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > TIMEZONE_MAX:
        return None
    try:
        ZoneInfo(value.strip())
    # OSError: a folder of the zone database such as "Europe" (IsADirectoryError) or an unreadable file.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return value.strip()


def _parse_timezone(reader: _Reader, value: object) -> str:
    if (zone := known_timezone(value)) is not None:
        return zone
    reader.problem("settings.timezone", f"must be an IANA timezone such as Europe/Berlin, got {_shown(value)}")
    return "UTC"


def _parse_mapping(reader: _Reader, data: object) -> dict[str, str]:
    given = reader.object(data, "mapping")
    if given is None:
        return dict(DEFAULT_MAPPING)
    mapping = dict(DEFAULT_MAPPING)
    customs = 0
    for name, path in given.items():
        where = f"mapping.{name}"
        custom = CUSTOM_FIELD.fullmatch(str(name))
        if name not in DEFAULT_MAPPING and custom is None:
            close = difflib.get_close_matches(str(name), MAPPABLE_FIELDS, n=1)
            hint = f"did you mean {close[0]}?" if close else "custom fields are written custom.<key> with a-z, 0-9, _"
            reader.problem(where, f"unknown employee field; {hint}")
            continue
        customs += custom is not None
        if path is None or (isinstance(path, str) and not path.strip()):
            mapping.pop(name, None)  # mapped to nothing: the field is not transferred
            continue
        if not isinstance(path, str):
            reader.problem(where, f"must be a Microsoft 365 attribute (text) or empty, got {_kind(path)}")
            continue
        path = path.strip()
        why = _mapping_problem(name, path)
        if why:
            reader.problem(where, why)
            continue
        mapping[name] = path
    if "email" not in mapping:
        reader.problem("mapping.email", "cannot be empty: the e-mail address is how employees are matched")
    if customs > MAX_CUSTOM_FIELDS:
        reader.problem("mapping", f"at most {MAX_CUSTOM_FIELDS} custom fields can be mapped")
    return mapping


def _mapping_problem(name: str, path: str) -> str | None:
    if name == "photo":
        return None if path == "photo" else "can only be 'photo' (the profile photo) or empty"
    if path == "photo":
        return "photo is the profile picture; only the photo field can take it"
    if top_level(path) == MEMBER_ATTRIBUTE:
        return "memberOf can only be tested in import rules (operators member_of, not_member_of)"
    return attribute_problem(path)


def _parse_rules(reader: _Reader, data: object) -> tuple[ImportRule, ...]:
    if not isinstance(data, list):
        reader.problem("import_rules", f"must be a list of rules, got {_kind(data)}")
        return ()
    rules, names = [], set()
    for index, item in enumerate(data):
        rule = _parse_rule(reader, item, f"import_rules[{index}]")
        if rule is None:
            continue
        if rule.name and rule.name.casefold() in names:
            reader.problem(f"import_rules[{index}].name", f"another rule is already called {rule.name!r}")
        names.add(rule.name.casefold())
        rules.append(rule)
    return tuple(rules)


def _parse_rule(reader: _Reader, data: object, path: str) -> ImportRule | None:
    rule = reader.object(data, path)
    if rule is None:
        return None
    reader.no_unknown_keys(rule, ("name", "description", "match", "conditions", "departments"), path)
    name = reader.text(rule, "name", path, limit=MAX_RULE_NAME)
    if "name" in rule and isinstance(rule["name"], str) and not name:
        reader.problem(f"{path}.name", "must not be empty")
    description = reader.text(rule, "description", path, default="", limit=1000)
    match = reader.choice(rule, "match", ("all", "any"), "all", path)
    raw_conditions = rule.get("conditions", [])
    conditions: list[Condition] = []
    if not isinstance(raw_conditions, list):
        reader.problem(f"{path}.conditions", f"must be a list, got {_kind(raw_conditions)}")
    else:
        for index, item in enumerate(raw_conditions):
            condition = _parse_condition(reader, item, f"{path}.conditions[{index}]")
            if condition is not None:
                conditions.append(condition)
    departments = _parse_departments(reader, rule.get("departments", {}), f"{path}.departments")
    return ImportRule(name, description, match, tuple(conditions), departments)


def _parse_condition(reader: _Reader, data: object, path: str) -> Condition | None:
    condition = reader.object(data, path)
    if condition is None:
        return None
    reader.no_unknown_keys(condition, ("attribute", "operator", "value"), path)
    operator = condition.get("operator")
    if operator not in OPERATORS:
        why = "is required" if operator is None else f"unknown operator {_shown(operator)}"
        reader.problem(f"{path}.operator", f"{why}; use one of {', '.join(OPERATORS)}")
        return None
    attribute = reader.text(condition, "attribute", path)
    if operator in MEMBER_OPERATORS:
        if attribute and attribute.lower() != MEMBER_ATTRIBUTE.lower():
            reader.problem(f"{path}.attribute", f"{operator} tests group membership: the attribute must be memberOf")
        attribute = MEMBER_ATTRIBUTE
    elif attribute:
        why = (
            f"memberOf works only with member_of and not_member_of, not {operator}"
            if top_level(attribute) == MEMBER_ATTRIBUTE
            else attribute_problem(attribute)
        )
        if why:
            reader.problem(f"{path}.attribute", why)
    value = _parse_condition_value(reader, operator, condition.get("value"), f"{path}.value")
    return Condition(attribute, operator, value)


def _parse_condition_value(reader: _Reader, operator: str, value: object, path: str) -> str:
    if operator in VALUELESS_OPERATORS:
        if value not in (None, ""):
            reader.problem(path, f"{operator} takes no value")
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"  # booleans compare as Graph's filters write them
    elif isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        shown = "missing" if value is None else _shown(value)
        reader.problem(path, f"{operator} needs a non-empty value (got {shown}); use is_empty for empty attributes")
        return ""
    if operator in MEMBER_OPERATORS:
        if not _GUID.fullmatch(value.strip()):
            reader.problem(path, f"must be a group id (a GUID like 1b2c3d4e-…), got {value!r}")
        return value.strip().lower()
    if operator == "matches":
        if len(value) > MAX_REGEX:
            reader.problem(path, f"regular expression is longer than {MAX_REGEX} characters")
        try:
            re.compile(value)
        except re.error as error:
            reader.problem(path, f"is not a valid regular expression: {error}")
        return value
    return value.strip()


def _parse_departments(reader: _Reader, data: object, path: str) -> DepartmentSource:
    source = reader.object(data, path)
    if not source:
        return DepartmentSource()
    reader.no_unknown_keys(source, ("names", "from_attribute", "split"), path)
    if "names" in source and "from_attribute" in source:
        reader.problem(path, "use either names or from_attribute, not both")
        return DepartmentSource()
    if "names" in source:
        if "split" in source:
            reader.problem(f"{path}.split", "only applies to from_attribute")
        return DepartmentSource(names=_parse_department_names(reader, source["names"], f"{path}.names"))
    if "from_attribute" not in source:
        reader.problem(path, "needs names or from_attribute")
        return DepartmentSource()
    attribute = reader.text(source, "from_attribute", path)
    if attribute:
        why = _mapping_problem("department", attribute)
        if why:
            reader.problem(f"{path}.from_attribute", why)
    else:
        reader.problem(f"{path}.from_attribute", "must name an attribute, e.g. department")
    split = source.get("split", DEFAULT_SPLIT)
    if not isinstance(split, str) or len(split) > 10:
        reader.problem(f"{path}.split", f"must be a separator of at most 10 characters, got {_shown(split)}")
        split = DEFAULT_SPLIT
    return DepartmentSource(from_attribute=attribute, split=split)


def _parse_department_names(reader: _Reader, data: object, path: str) -> tuple[str, ...]:
    if not isinstance(data, list) or not data:
        reader.problem(path, "must be a non-empty list of department names")
        return ()
    names: list[str] = []
    seen: set[str] = set()
    for index, name in enumerate(data):
        if not isinstance(name, str) or not name.strip():
            reader.problem(f"{path}[{index}]", f"must be a department name, got {_shown(name)}")
            continue
        name = name.strip()
        if len(name) > MAX_DEPARTMENT_NAME:
            reader.problem(f"{path}[{index}]", f"is longer than {MAX_DEPARTMENT_NAME} characters")
        elif department_key(name) not in seen:
            seen.add(department_key(name))
            names.append(name)
    return tuple(names)
