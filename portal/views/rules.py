"""Import and department rules: an ordered list of named rules, edited in place, with a live preview.

The editor keeps every unsaved edit in the form (indexed fields ``rules-<i>-…``): adding, removing or
moving a rule or a condition posts the whole form and gets the editor back re-rendered, so a validation
error, or a click on "Move up", never loses what the admin typed. Saving goes through the configuration
service; previews run the engine's own rules (``portal.preview``) on the form's rules, saved or not.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, request, url_for
from sqlalchemy.engine import Engine
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from portal import preview, tenant_lookup, web
from portal.connections import current_connection, export_connection_config
from portal.db import get_engine
from portal.models import Connection
from portal.sync.config import (
    MEMBER_ATTRIBUTE,
    MEMBER_OPERATORS,
    OPERATORS,
    VALUELESS_OPERATORS,
    ConfigInvalid,
    ImportRule,
    SyncConfig,
    parse_config,
)
from portal.views import config_form

bp = Blueprint("rules", __name__, url_prefix="/settings/rules")

OPERATOR_LABELS = {
    "equals": "is", "not_equals": "is not", "contains": "contains", "starts_with": "starts with",
    "ends_with": "ends with", "is_empty": "is empty", "is_not_empty": "is not empty",
    "matches": "matches the pattern", "member_of": "is a member of the group",
    "not_member_of": "is not a member of the group",
}  # fmt: skip
MAX_RULES = 100
MAX_CONDITIONS = 50
_RULE = re.compile(r"rules-(\d+)-key")
_CONDITION = re.compile(r"rules-(\d+)-conditions-(\d+)-operator")
_KEY = re.compile(r"[A-Za-z0-9_-]{1,24}")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
CHOOSE_GROUP = "Choose a group: type the start of its name and pick it from the list."


@dataclass
class ConditionForm:
    attribute: str = ""
    operator: str = "equals"
    value: str = ""
    group_name: str = ""  # shown for member_of; the value holds the group's id

    @property
    def is_group(self) -> bool:
        return self.operator in MEMBER_OPERATORS

    @property
    def needs_value(self) -> bool:
        return self.operator not in VALUELESS_OPERATORS


@dataclass
class RuleForm:
    key: str = field(default_factory=lambda: secrets.token_hex(4))  # a stable id for this rule's controls
    name: str = ""
    description: str = ""
    match: str = "all"
    conditions: list[ConditionForm] = field(default_factory=list)
    dept_mode: str = "none"  # none | names | attribute
    dept_names: str = ""  # one department per line
    dept_attribute: str = "department"
    dept_split: str = ";"

    def document(self) -> dict[str, Any]:
        """The rule as the configuration document writes it."""
        conditions = []
        for condition in self.conditions:
            item = {"attribute": MEMBER_ATTRIBUTE if condition.is_group else condition.attribute,
                    "operator": condition.operator}
            if condition.needs_value:
                item["value"] = condition.value
            conditions.append(item)
        departments: dict[str, Any] = {}
        if self.dept_mode == "names":
            departments = {"names": [n.strip() for n in self.dept_names.splitlines() if n.strip()]}
        elif self.dept_mode == "attribute":
            departments = {"from_attribute": self.dept_attribute, "split": self.dept_split}
        return {"name": self.name, "description": self.description, "match": self.match,
                "conditions": conditions, "departments": departments}


def rules_from_config(rules: tuple[ImportRule, ...], group_names: dict[str, str]) -> list[RuleForm]:
    """The saved rules as the editor shows them (group ids with their names)."""
    forms = []
    for rule in rules:
        source = rule.departments
        mode = "names" if source.names else "attribute" if source.from_attribute else "none"
        forms.append(RuleForm(
            name=rule.name, description=rule.description, match=rule.match,
            conditions=[ConditionForm(c.attribute, c.operator, c.value, group_names.get(c.value, ""))
                        for c in rule.conditions],
            dept_mode=mode, dept_names="\n".join(source.names),
            dept_attribute=source.from_attribute or "department",
            dept_split=source.split if mode == "attribute" else ";",
        ))
    return forms


def rules_from_form(form: MultiDict[str, str]) -> list[RuleForm]:
    """The rules as the form holds them, in the order of their indexes."""
    rules = []
    indexes = sorted(int(m.group(1)) for key in form if (m := _RULE.fullmatch(key)))
    for i in indexes[:MAX_RULES]:
        prefix = f"rules-{i}-"
        key = form.get(prefix + "key", "")
        conditions = []
        positions = sorted(int(m.group(2)) for k in form if (m := _CONDITION.fullmatch(k)) and int(m.group(1)) == i)
        for j in positions[:MAX_CONDITIONS]:
            c = f"{prefix}conditions-{j}-"
            operator = form.get(c + "operator", "equals")
            condition = ConditionForm(form.get(c + "attribute", "").strip(),
                                      operator if operator in OPERATORS else "equals",
                                      form.get(c + "value", ""), form.get(c + "group_name", ""))
            if condition.is_group and not _GUID.fullmatch(condition.value.strip()):
                condition.value, condition.group_name = "", ""  # just switched to a group test: pick one
            elif not condition.is_group and condition.attribute.lower() == MEMBER_ATTRIBUTE.lower():
                condition.attribute = ""  # just switched away from a group test
            conditions.append(condition)
        rules.append(RuleForm(
            key=key if _KEY.fullmatch(key) else secrets.token_hex(4),
            name=form.get(prefix + "name", ""), description=form.get(prefix + "description", ""),
            match="any" if form.get(prefix + "match") == "any" else "all", conditions=conditions,
            dept_mode=form.get(prefix + "dept_mode", "none") if form.get(prefix + "dept_mode") in (
                "none", "names", "attribute") else "none",
            dept_names=form.get(prefix + "dept_names", ""),
            dept_attribute=form.get(prefix + "dept_attribute", "").strip(),
            dept_split=form.get(prefix + "dept_split", ""),
        ))
    return rules


def apply_op(rules: list[RuleForm], op: str) -> str:
    """Change the unsaved rules as one editor button asks; what to announce. ValueError for a bad op."""
    name, *args = op.split(":", 4 if op.startswith("pick:") else 3)
    index = [int(a) for a in args[:2] if a.isascii() and a.isdigit()]

    def rule_at(position: int) -> RuleForm:
        if not 0 <= position < len(rules):
            raise ValueError(op)
        return rules[position]

    if name == "add_rule":
        if len(rules) >= MAX_RULES:
            return f"A configuration holds at most {MAX_RULES} rules."
        rules.append(RuleForm(name=f"Rule {len(rules) + 1}", conditions=[ConditionForm()]))
        return f"Rule {len(rules)} added."
    if not index:
        raise ValueError(op)
    rule = rule_at(index[0])
    label = rule.name or f"rule {index[0] + 1}"
    if name == "remove_rule":
        rules.pop(index[0])
        return f"Rule “{label}” removed. Save to keep the change."
    if name in ("up", "down"):
        target = index[0] + (-1 if name == "up" else 1)
        if not 0 <= target < len(rules):
            return f"Rule “{label}” is already {'first' if name == 'up' else 'last'}."
        rules[index[0]], rules[target] = rules[target], rules[index[0]]
        return f"Rule “{label}” moved to position {target + 1} of {len(rules)}."
    if name == "add_condition":
        if len(rule.conditions) >= MAX_CONDITIONS:
            return f"A rule holds at most {MAX_CONDITIONS} conditions."
        rule.conditions.append(ConditionForm())
        return f"Condition {len(rule.conditions)} added to rule “{label}”."
    if name == "refresh":
        return ""
    if len(index) < 2 or not 0 <= index[1] < len(rule.conditions):
        raise ValueError(op)
    if name == "remove_condition":
        rule.conditions.pop(index[1])
        return f"Condition {index[1] + 1} removed from rule “{label}”."
    if name == "pick" and len(args) >= 3:
        condition = rule.conditions[index[1]]
        condition.value = args[2].strip().lower()
        condition.group_name = args[3] if len(args) > 3 else ""
        return f"Group “{condition.group_name or condition.value}” chosen for condition {index[1] + 1}."
    raise ValueError(op)


def input_problems(rules: list[RuleForm], problems: dict[str, str]) -> dict[str, str]:
    """Configuration problems (``import_rules[2].conditions[0].value``) keyed by the input they concern."""
    found: dict[str, str] = {}
    for path, why in problems.items():
        target = _target(rules, path)
        if target.endswith("group_search") and ("needs a non-empty value" in why or "group id" in why):
            why = CHOOSE_GROUP
        found[target] = f"{found[target]}; {why}" if target in found else why
    return found


_PART_NAMES = {
    "name": "name", "description": "description", "match": "match", "attribute": "attribute", "operator": "test",
    "value": "value", "group_search": "group", "dept_mode": "departments", "dept_names": "department names",
    "dept_attribute": "department attribute", "dept_split": "separator",
}


def problem_label(rules: list[RuleForm], target: str) -> str:
    """Where a problem is, for the summary above the form: "Rule 2 “Sales”, condition 1, value"."""
    m = re.fullmatch(r"rules-(\d+)-(?:conditions-(\d+)-)?(\w+)", target)
    if m is None or int(m.group(1)) >= len(rules):
        return ""
    i = int(m.group(1))
    where = f"Rule {i + 1}" + (f" “{rules[i].name}”" if rules[i].name else "")
    if m.group(2) is not None:
        where += f", condition {int(m.group(2)) + 1}"
    return f"{where}, {_PART_NAMES.get(m.group(3), m.group(3))}"


def _target(rules: list[RuleForm], path: str) -> str:
    m = re.fullmatch(r"import_rules\[(\d+)\]((?:\.\w+|\[\d+\])*)", path)
    if m is None or int(m.group(1)) >= len(rules):
        return "rules-form"
    i = int(m.group(1))
    steps = [name or int(index) for name, index in re.findall(r"\.(\w+)|\[(\d+)\]", m.group(2))]
    part = steps[0] if steps else None
    prefix = f"rules-{i}-"
    if part in ("name", "description", "match"):
        return prefix + part
    if part == "conditions" and len(steps) > 1 and steps[1] < len(rules[i].conditions):
        j, leaf = steps[1], steps[2] if len(steps) > 2 else "operator"
        if leaf in ("value", "attribute") and rules[i].conditions[j].is_group:
            return f"{prefix}conditions-{j}-group_search"
        return f"{prefix}conditions-{j}-{leaf if leaf in ('attribute', 'operator', 'value') else 'operator'}"
    if part == "departments":
        leaf = steps[1] if len(steps) > 1 else ""
        return prefix + {"names": "dept_names", "from_attribute": "dept_attribute", "split": "dept_split"}.get(
            str(leaf), "dept_mode")
    return prefix + "name"


# --- pages ----------------------------------------------------------------------------------------

@bp.get("/")
def index() -> Response:
    """The rules editor with the saved rules, and the preview loading lazily."""
    connection = _connection()
    rules: list[RuleForm] = []
    if connection is not None:
        cfg = _saved_config(connection)
        web.db_session().commit()  # group names come from Graph: no transaction waits on it
        rules = rules_from_config(cfg.import_rules, _group_names(connection, cfg))
    return _render(connection, rules)


@bp.post("/")
def save() -> Response:
    """Save the rules through the configuration service; problems come back inline, nothing lost."""
    connection = _require_connection()
    rules = rules_from_form(request.form)
    problems = config_form.save_section(connection, "import_rules", [r.document() for r in rules])
    if problems:
        return _render(connection, rules, input_problems(rules, problems), status=200 if web.is_htmx() else 422)
    flash("Import rules saved. The next sync imports users by these rules.", "success")
    return web.redirect(url_for("rules.index"))


@bp.post("/edit")
def edit() -> Response:
    """Add, remove or move a rule or a condition, or pick a group, in the unsaved form."""
    connection = _require_connection()
    rules = rules_from_form(request.form)
    try:
        message = apply_op(rules, request.form.get("op", ""))
    except ValueError:
        abort(400)
    if message:
        flash(message, "info")
    return _render(connection, rules)


@bp.get("/groups")
def groups() -> Response:
    """Group picker suggestions: the tenant's groups whose name starts with the text typed."""
    connection = _require_connection()
    rule, condition = request.args.get("rule", ""), request.args.get("condition", "")
    if not (rule.isascii() and rule.isdigit() and condition.isascii() and condition.isdigit()):
        abort(400)
    text = tenant_lookup.clean_search(request.args.get("group_search"))
    web.db_session().commit()
    found, error = [], None
    try:
        found = tenant_lookup.search_groups(web.app_config(), _engine(), connection, text)
    except tenant_lookup.LookupFailed as exc:
        error = str(exc.admin_message)
    return web.render("rules/_group_results.html", partial="rules/_group_results.html", groups=found, text=text,
                      error=error, i=int(rule), j=int(condition), key=request.args.get("key", ""))


@bp.get("/users")
def users() -> Response:
    """Suggestions for "why is this user (not) imported?" (Graph startswith on name and address)."""
    connection = _require_connection()
    text = tenant_lookup.clean_search(request.args.get("user_search"))
    web.db_session().commit()
    found, error = [], None
    try:
        found = tenant_lookup.search_users(web.app_config(), _engine(), connection, text)
    except tenant_lookup.LookupFailed as exc:
        error = str(exc.admin_message)
    return web.render("rules/_user_results.html", partial="rules/_user_results.html", users=found, text=text,
                      error=error)


@bp.post("/preview")
def preview_rules() -> Response:
    """The engine's verdicts for the form's rules on the tenant's first users: counts, departments, a sample."""
    connection = _require_connection()
    rules = rules_from_form(request.form) if "rules_form" in request.form else None
    cfg, problems = _config_for(connection, rules)
    web.db_session().commit()
    if cfg is None:
        return web.render("rules/_preview.html", partial="rules/_preview.html", problems=problems, result=None)
    try:
        with tenant_lookup.open_graph(web.app_config(), _engine(), connection) as graph:
            result = preview.build_preview(graph, cfg)
            cut = tenant_lookup.names_of_groups(graph, result.cut_groups) if result.cut_groups else {}
    except tenant_lookup.LookupFailed as exc:
        return web.render("rules/_preview.html", partial="rules/_preview.html", error=str(exc.admin_message),
                          result=None)
    seats = web.current_org().seats
    return web.render("rules/_preview.html", partial="rules/_preview.html", result=result, seats=seats,
                      limit=preview.PREVIEW_LIMIT, member_limit=preview.GROUP_MEMBER_LIMIT,
                      cut_groups=[cut.get(g, g) for g in result.cut_groups])


@bp.post("/explain")
def explain() -> Response:
    """Which rule imports one user, or why none does, under the form's rules."""
    connection = _require_connection()
    user_id = request.form.get("explain_user", "").strip()
    if not _GUID.fullmatch(user_id):
        abort(400)  # the search suggestions send Graph's object ids; nothing else reaches Graph
    rules = rules_from_form(request.form) if "rules_form" in request.form else None
    cfg, problems = _config_for(connection, rules)
    web.db_session().commit()
    if cfg is None:
        return web.render("rules/_explain.html", partial="rules/_explain.html", problems=problems, result=None)
    try:
        with tenant_lookup.open_graph(web.app_config(), _engine(), connection) as graph:
            result = preview.explain_user(graph, cfg, user_id)
            names = _names_via(graph, cfg)
    except tenant_lookup.LookupFailed as exc:
        return web.render("rules/_explain.html", partial="rules/_explain.html", error=str(exc.admin_message),
                          result=None)
    return web.render("rules/_explain.html", partial="rules/_explain.html", result=result, group_names=names,
                      labels=OPERATOR_LABELS)


# --- helpers --------------------------------------------------------------------------------------

def _render(connection: Connection | None, rules: list[RuleForm], problems: dict[str, str] | None = None,
            status: int = 200) -> Response:
    return web.render("rules/index.html", partial="rules/_editor.html", status=status, connection=connection,
                      rules=rules, problems=problems or {}, operators=OPERATOR_LABELS,
                      labels={t: problem_label(rules, t) for t in problems or {}},
                      attributes=config_form.KNOWN_ATTRIBUTES, max_rules=MAX_RULES)


def _connection() -> Connection | None:
    return current_connection(web.db_session(), web.current_org().id)


def _require_connection() -> Connection:
    connection = _connection()
    if connection is None:
        abort(404)
    return connection


def _engine() -> Engine:
    return get_engine(web.app_config().database_url)


def _saved_config(connection: Connection) -> SyncConfig:
    timezone = web.current_org().timezone
    return parse_config(export_connection_config(connection, timezone), default_timezone=timezone)


def _config_for(connection: Connection, rules: list[RuleForm] | None) -> tuple[SyncConfig | None, dict[str, str]]:
    """The saved configuration with the form's rules in place (None and the problems when they are not valid)."""
    timezone = web.current_org().timezone
    document = export_connection_config(connection, timezone)
    if rules is not None:
        document["import_rules"] = [r.document() for r in rules]
    try:
        return parse_config(document, default_timezone=timezone), {}
    except ConfigInvalid as exc:
        found = config_form.problems_by_path(exc.problems, "import_rules")
        return None, input_problems(rules or [], found) if found else {"rules-form": str(exc)}


def _group_names(connection: Connection, cfg: SyncConfig) -> dict[str, str]:
    ids = {c.value for r in cfg.import_rules for c in r.conditions if c.operator in MEMBER_OPERATORS}
    if not ids:
        return {}
    try:
        return tenant_lookup.group_names(web.app_config(), _engine(), connection, ids)
    except tenant_lookup.LookupFailed:
        return {}  # the ids still show; the admin can pick the group again


def _names_via(graph, cfg: SyncConfig) -> dict[str, str]:
    return tenant_lookup.names_of_groups(
        graph, (c.value for r in cfg.import_rules for c in r.conditions if c.operator in MEMBER_OPERATORS))
