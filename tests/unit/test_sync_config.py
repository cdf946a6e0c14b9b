"""The sync configuration document: defaults, validation that names the bad key, round trip, fingerprint."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.sync.config import (
    DEFAULT_MAPPING,
    EMPLOYEE_FIELDS,
    Condition,
    ConfigInvalid,
    DepartmentSource,
    ImportRule,
    RemovalThreshold,
    SyncSettings,
    config_hash,
    default_config,
    export_config,
    graph_select,
    manager_select,
    member_of_groups,
    needs_manager,
    needs_photo,
    parse_config,
)

GROUP = "0f5a3c2e-7d1b-4e9a-8c6f-2b4d6e8f0a1c"


def rule(name="Staff", conditions=(), **extra):
    return {"name": name, "conditions": list(conditions), **extra}


def test_default_config_imports_everyone_with_the_standard_mapping_in_the_orgs_timezone():
    cfg = default_config("Europe/Berlin")
    assert cfg.settings == SyncSettings(timezone="Europe/Berlin")
    assert cfg.mapping == DEFAULT_MAPPING
    assert cfg.import_rules == ()


def test_empty_document_takes_every_default():
    assert parse_config({}) == default_config("UTC")
    assert parse_config({}, default_timezone="America/New_York").settings.timezone == "America/New_York"


def test_documented_defaults():
    s = parse_config({}).settings
    assert (s.import_new_users, s.overwrite_manual, s.empty_values, s.department_sync) == (
        True,
        False,
        "keep",
        "always",
    )
    assert (s.photos, s.include_disabled, s.include_guests, s.removal) == (False, False, False, "deactivate")
    assert s.removal_threshold == RemovalThreshold(count=50, percent=10.0)
    assert (s.auto_sync, s.sync_time) == (True, "03:00")


def test_a_full_document_is_read():
    cfg = parse_config(
        {
            "settings": {
                "import_new_users": False,
                "overwrite_manual": True,
                "empty_values": "clear",
                "department_sync": "on_create",
                "photos": True,
                "include_disabled": True,
                "include_guests": True,
                "removal": "delete",
                "removal_threshold": {"count": 5, "percent": 2.5},
                "auto_sync": False,
                "sync_time": "22:30",
                "timezone": "Asia/Tokyo",
            },
            "mapping": {"fax": "", "mobile": None, "custom.team": "onPremisesExtensionAttributes.extensionAttribute3"},
            "import_rules": [
                {
                    "name": "Sales",
                    "description": "the sales force",
                    "match": "any",
                    "conditions": [
                        {"attribute": "department", "operator": "starts_with", "value": "Sales"},
                        {"attribute": "memberOf", "operator": "member_of", "value": GROUP.upper()},
                    ],
                    "departments": {"from_attribute": "department", "split": ";"},
                }
            ],
        }
    )
    s = cfg.settings
    assert not s.import_new_users and s.overwrite_manual and s.empty_values == "clear"
    assert s.removal_threshold == RemovalThreshold(5, 2.5) and s.timezone == "Asia/Tokyo" and s.sync_time == "22:30"
    assert "fax" not in cfg.mapping and "mobile" not in cfg.mapping
    assert cfg.mapping["custom.team"] == "onPremisesExtensionAttributes.extensionAttribute3"
    assert cfg.import_rules == (
        ImportRule(
            name="Sales",
            description="the sales force",
            match="any",
            conditions=(
                Condition("department", "starts_with", "Sales"),
                Condition("memberOf", "member_of", GROUP),  # group ids are kept lower-case
            ),
            departments=DepartmentSource(from_attribute="department", split=";"),
        ),
    )


@pytest.mark.parametrize(
    ("document", "path", "why"),
    [
        ([], "config", "must be an object, got a list"),
        ({"setings": {}}, "setings", "did you mean settings?"),
        ({"settings": []}, "settings", "must be an object"),
        ({"settings": {"import_new_users": "yes"}}, "settings.import_new_users", "must be true or false"),
        ({"settings": {"photos": 1}}, "settings.photos", "must be true or false, got a number"),
        ({"settings": {"photo": True}}, "settings.photo", "did you mean photos?"),
        ({"settings": {"empty_values": "drop"}}, "settings.empty_values", "must be one of keep, clear"),
        ({"settings": {"department_sync": "never"}}, "settings.department_sync", "always, on_create"),
        ({"settings": {"removal": "nuke"}}, "settings.removal", "delete, deactivate, keep, got 'nuke'"),
        ({"settings": {"removal_threshold": 5}}, "settings.removal_threshold", "must be an object"),
        ({"settings": {"removal_threshold": {"count": -1}}}, "settings.removal_threshold.count", "0 or more"),
        ({"settings": {"removal_threshold": {"count": "5"}}}, "settings.removal_threshold.count", "whole number"),
        ({"settings": {"removal_threshold": {"count": True}}}, "settings.removal_threshold.count", "whole number"),
        ({"settings": {"removal_threshold": {"count": 2.5}}}, "settings.removal_threshold.count", "whole number"),
        ({"settings": {"removal_threshold": {"percent": 101}}}, "settings.removal_threshold.percent", "0 to 100"),
        ({"settings": {"removal_threshold": {"percent": -0.1}}}, "settings.removal_threshold.percent", "0 to 100"),
        ({"settings": {"removal_threshold": {"limit": 3}}}, "settings.removal_threshold.limit", "unknown key"),
        ({"settings": {"sync_time": "3:00"}}, "settings.sync_time", "HH:MM"),
        ({"settings": {"sync_time": "24:00"}}, "settings.sync_time", "HH:MM"),
        ({"settings": {"sync_time": "12:60"}}, "settings.sync_time", "HH:MM"),
        ({"settings": {"timezone": "Mars/Olympus_Mons"}}, "settings.timezone", "IANA timezone"),
        ({"settings": {"timezone": ""}}, "settings.timezone", "IANA timezone"),
        ({"settings": {"timezone": 1}}, "settings.timezone", "IANA timezone"),
        ({"mapping": []}, "mapping", "must be an object"),
        ({"mapping": {"jobtitle": "jobTitle"}}, "mapping.jobtitle", "did you mean job_title?"),
        ({"mapping": {"custom.Team": "city"}}, "mapping.custom.Team", "custom fields are written custom.<key>"),
        ({"mapping": {"custom.": "city"}}, "mapping.custom.", "unknown employee field"),
        ({"mapping": {"custom." + "x" * 41: "city"}}, "mapping.custom." + "x" * 41, "unknown employee field"),
        ({"mapping": {"job_title": "JobTitle"}}, "mapping.job_title", "did you mean jobTitle?"),
        ({"mapping": {"job_title": "title"}}, "mapping.job_title", "not a Microsoft 365 user attribute"),
        ({"mapping": {"job_title": 5}}, "mapping.job_title", "got a number"),
        ({"mapping": {"phone": "businessPhones"}}, "mapping.phone", "is a list; pick one entry"),
        ({"mapping": {"phone": "mobilePhone[0]"}}, "mapping.phone", "single value"),
        ({"mapping": {"phone": "businessPhones[x]"}}, "mapping.phone", "not an attribute path"),
        ({"mapping": {"first_name": "given name"}}, "mapping.first_name", "not an attribute path"),
        ({"mapping": {"first_name": "givenName."}}, "mapping.first_name", "not an attribute path"),
        (
            {"mapping": {"custom.team": "onPremisesExtensionAttributes"}},
            "mapping.custom.team",
            "is an object; name one of its attributes, e.g. onPremisesExtensionAttributes.extensionAttribute1",
        ),
        ({"mapping": {"city": "skills"}}, "mapping.city", "501"),
        ({"mapping": {"manager_name": "manager"}}, "mapping.manager_name", "name one of their attributes"),
        ({"mapping": {"manager_name": "manager.manager.displayName"}}, "mapping.manager_name", "direct manager"),
        ({"mapping": {"manager_name": "manager.DisplayName"}}, "mapping.manager_name", "did you mean displayName?"),
        ({"mapping": {"photo": "thumbnailPhoto"}}, "mapping.photo", "can only be 'photo'"),
        ({"mapping": {"first_name": "photo"}}, "mapping.first_name", "only the photo field"),
        ({"mapping": {"department": "memberOf"}}, "mapping.department", "only be tested in import rules"),
        ({"mapping": {"email": ""}}, "mapping.email", "how employees are matched"),
        ({"mapping": {"email": None}}, "mapping.email", "how employees are matched"),
        ({"import_rules": {}}, "import_rules", "must be a list of rules"),
        ({"import_rules": ["Staff"]}, "import_rules[0]", "must be an object, got text"),
        ({"import_rules": [{"conditions": []}]}, "import_rules[0].name", "is required"),
        ({"import_rules": [rule(name="  ")]}, "import_rules[0].name", "must not be empty"),
        ({"import_rules": [rule(name=7)]}, "import_rules[0].name", "must be text"),
        ({"import_rules": [rule(name="x" * 101)]}, "import_rules[0].name", "longer than 100"),
        ({"import_rules": [rule("Staff"), rule(" staff ")]}, "import_rules[1].name", "already called 'staff'"),
        ({"import_rules": [rule(match="some")]}, "import_rules[0].match", "must be one of all, any"),
        ({"import_rules": [rule(enabled=True)]}, "import_rules[0].enabled", "unknown key"),
        ({"import_rules": [{"name": "Staff", "conditions": {}}]}, "import_rules[0].conditions", "must be a list"),
        (
            {"import_rules": [rule(conditions=[{"attribute": "city", "operator": "is_empty"}, {"operator": "eq"}])]},
            "import_rules[0].conditions[1].operator",
            "unknown operator 'eq'; use one of equals, not_equals",
        ),
        (
            {"import_rules": [rule(conditions=[{"attribute": "city", "value": "x"}])]},
            "import_rules[0].conditions[0].operator",
            "is required",
        ),
        (
            {"import_rules": [rule(conditions=[{"operator": "equals", "value": "x"}])]},
            "import_rules[0].conditions[0].attribute",
            "is required",
        ),
        (
            {"import_rules": [rule(conditions=[{"attribute": "JobTitle", "operator": "equals", "value": "x"}])]},
            "import_rules[0].conditions[0].attribute",
            "did you mean jobTitle?",
        ),
        (
            {"import_rules": [rule(conditions=[{"attribute": "city", "operator": "equals"}])]},
            "import_rules[0].conditions[0].value",
            "equals needs a non-empty value (got missing); use is_empty",
        ),
        (
            {"import_rules": [rule(conditions=[{"attribute": "city", "operator": "contains", "value": " "}])]},
            "import_rules[0].conditions[0].value",
            "needs a non-empty value",
        ),
        (
            {"import_rules": [rule(conditions=[{"attribute": "city", "operator": "equals", "value": 1.5}])]},
            "import_rules[0].conditions[0].value",
            "got 1.5",
        ),
        (
            {"import_rules": [rule(conditions=[{"attribute": "city", "operator": "is_empty", "value": "x"}])]},
            "import_rules[0].conditions[0].value",
            "is_empty takes no value",
        ),
        (
            {"import_rules": [rule(conditions=[{"attribute": "city", "operator": "matches", "value": "(["}])]},
            "import_rules[0].conditions[0].value",
            "not a valid regular expression",
        ),
        (
            {"import_rules": [rule(conditions=[{"attribute": "city", "operator": "matches", "value": "a" * 501}])]},
            "import_rules[0].conditions[0].value",
            "longer than 500",
        ),
        (
            {"import_rules": [rule(conditions=[{"attribute": "memberOf", "operator": "member_of", "value": "sales"}])]},
            "import_rules[0].conditions[0].value",
            "must be a group id",
        ),
        (
            {"import_rules": [rule(conditions=[{"attribute": "department", "operator": "member_of", "value": GROUP}])]},
            "import_rules[0].conditions[0].attribute",
            "the attribute must be memberOf",
        ),
        (
            {"import_rules": [rule(conditions=[{"attribute": "memberOf", "operator": "equals", "value": GROUP}])]},
            "import_rules[0].conditions[0].attribute",
            "memberOf works only with member_of and not_member_of",
        ),
        (
            {"import_rules": [rule(conditions=[{"attribute": "city", "operator": "equals", "valeu": "x"}])]},
            "import_rules[0].conditions[0].valeu",
            "did you mean value?",
        ),
        (
            {"import_rules": [rule(departments={"names": ["A"], "from_attribute": "department"})]},
            "import_rules[0].departments",
            "either names or from_attribute",
        ),
        ({"import_rules": [rule(departments={"names": []})]}, "import_rules[0].departments.names", "non-empty list"),
        ({"import_rules": [rule(departments={"names": "Sales"})]}, "import_rules[0].departments.names", "list"),
        (
            {"import_rules": [rule(departments={"names": ["Sales", " "]})]},
            "import_rules[0].departments.names[1]",
            "must be a department name",
        ),
        (
            {"import_rules": [rule(departments={"names": ["x" * 201]})]},
            "import_rules[0].departments.names[0]",
            "longer than 200",
        ),
        (
            {"import_rules": [rule(departments={"names": ["Sales"], "split": ";"})]},
            "import_rules[0].departments.split",
            "only applies to from_attribute",
        ),
        (
            {"import_rules": [rule(departments={"from_attribute": "Department"})]},
            "import_rules[0].departments.from_attribute",
            "did you mean department?",
        ),
        (
            {"import_rules": [rule(departments={"from_attribute": "department", "split": 5})]},
            "import_rules[0].departments.split",
            "separator",
        ),
        (
            {"import_rules": [rule(departments={"split": ";"})]},
            "import_rules[0].departments",
            "names or from_attribute",
        ),
        ({"import_rules": [rule(departments={"team": "x"})]}, "import_rules[0].departments.team", "unknown key"),
    ],
)
def test_a_bad_document_is_rejected_naming_the_key_path_and_why(document, path, why):
    with pytest.raises(ConfigInvalid) as info:
        parse_config(document)
    problems = dict(info.value.problems)
    assert path in problems, info.value.problems
    assert why in problems[path]
    assert f"{path}: " in str(info.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigInvalid) as info:
        parse_config(
            {
                "settings": {"removal": "nuke", "sync_time": "noon"},
                "mapping": {"job_title": "JobTitle"},
                "import_rules": [rule(conditions=[{"attribute": "city", "operator": "equals"}, {"operator": "eq"}])],
            }
        )
    assert [path for path, _ in info.value.problems] == [
        "settings.removal",
        "settings.sync_time",
        "mapping.job_title",
        "import_rules[0].conditions[0].value",
        "import_rules[0].conditions[1].operator",
    ]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            {"attribute": "accountEnabled", "operator": "equals", "value": True},
            Condition("accountEnabled", "equals", "true"),
        ),
        ({"attribute": "employeeId", "operator": "equals", "value": 1234}, Condition("employeeId", "equals", "1234")),
        ({"attribute": " city ", "operator": "equals", "value": "  Oslo "}, Condition("city", "equals", "Oslo")),
        ({"attribute": "city", "operator": "is_empty", "value": None}, Condition("city", "is_empty", "")),
        ({"attribute": "city", "operator": "is_not_empty", "value": ""}, Condition("city", "is_not_empty", "")),
        (
            {"attribute": "memberof", "operator": "not_member_of", "value": GROUP.upper()},
            Condition("memberOf", "not_member_of", GROUP),
        ),
        (
            {"attribute": "memberOf", "operator": "member_of", "value": f" {GROUP} "},
            Condition("memberOf", "member_of", GROUP),
        ),
        (
            {"attribute": "businessPhones[0]", "operator": "starts_with", "value": "+49"},
            Condition("businessPhones[0]", "starts_with", "+49"),
        ),
        (
            {"attribute": "extension_0123456789abcdef0123456789abcdef_costCenter", "operator": "equals", "value": "7"},
            Condition("extension_0123456789abcdef0123456789abcdef_costCenter", "equals", "7"),
        ),
    ],
)
def test_condition_values_are_normalised(condition, expected):
    cfg = parse_config({"import_rules": [rule(conditions=[condition])]})
    assert cfg.import_rules[0].conditions == (expected,)


def test_department_names_are_trimmed_and_deduplicated_keeping_the_first_spelling():
    cfg = parse_config({"import_rules": [rule(departments={"names": [" Sales ", "sales", "Marketing"]})]})
    assert cfg.import_rules[0].departments == DepartmentSource(names=("Sales", "Marketing"))


def test_mapping_to_nothing_stops_the_transfer_and_paths_are_trimmed():
    cfg = parse_config({"mapping": {"fax": "", "mobile": None, "photo": "", "job_title": " jobTitle "}})
    assert {"fax", "mobile", "photo"}.isdisjoint(cfg.mapping)
    assert cfg.mapping["job_title"] == "jobTitle"


def test_at_most_fifty_custom_fields():
    mapping = {f"custom.f{i}": "city" for i in range(51)}
    with pytest.raises(ConfigInvalid, match="at most 50 custom fields"):
        parse_config({"mapping": mapping})


def test_a_rejected_document_leaves_nothing_half_applied():
    document = {"settings": {"photos": True, "removal": "nuke"}}
    before = copy.deepcopy(document)
    with pytest.raises(ConfigInvalid):
        parse_config(document)
    assert document == before


# -- export and round trip ---------------------------------------------------------------------------------

EXAMPLE = {
    "settings": {
        "overwrite_manual": True,
        "removal_threshold": {"count": 0, "percent": 12.5},
        "timezone": "Europe/Oslo",
    },
    "mapping": {"fax": "", "custom.cost_center": "employeeOrgData.costCenter"},
    "import_rules": [
        rule(
            "Everyone in Sales",
            [{"attribute": "department", "operator": "contains", "value": "sales"}],
            departments={"names": ["Sales"]},
        ),
        rule(
            "Members",
            [
                {"attribute": "memberOf", "operator": "member_of", "value": GROUP},
                {"attribute": "city", "operator": "is_not_empty"},
            ],
            match="any",
            departments={"from_attribute": "department", "split": ";"},
        ),
    ],
}


def test_export_writes_every_key_and_reads_back_equal():
    cfg = parse_config(EXAMPLE)
    exported = export_config(cfg)
    assert set(exported) == {"settings", "mapping", "import_rules"}
    assert list(exported["mapping"])[: len(EMPLOYEE_FIELDS)] == list(EMPLOYEE_FIELDS)
    assert exported["mapping"]["fax"] == ""
    assert exported["settings"]["removal_threshold"] == {"count": 0, "percent": 12.5}
    assert exported["import_rules"][1]["conditions"][1] == {"attribute": "city", "operator": "is_not_empty"}
    assert parse_config(exported, default_timezone="Asia/Tokyo") == cfg


names = st.sampled_from(["Sales", "sales ", "R&D", "Übersee GmbH", "Ops;Support", "x"])
paths = st.sampled_from(
    [
        "givenName",
        "jobTitle",
        "businessPhones[0]",
        "manager.mail",
        "onPremisesExtensionAttributes.extensionAttribute3",
        "employeeOrgData.division",
        "otherMails[1]",
        "extension_0123456789abcdef0123456789abcdef_team",
    ]
)
conditions = st.one_of(
    st.fixed_dictionaries(
        {
            "attribute": paths,
            "operator": st.sampled_from(["equals", "not_equals", "contains", "starts_with", "ends_with", "matches"]),
            "value": names,
        }
    ),
    st.fixed_dictionaries({"attribute": paths, "operator": st.sampled_from(["is_empty", "is_not_empty"])}),
    st.fixed_dictionaries(
        {
            "attribute": st.just("memberOf"),
            "operator": st.sampled_from(["member_of", "not_member_of"]),
            "value": st.uuids().map(str),
        }
    ),
)
departments = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"names": st.lists(names, min_size=1, max_size=3)}),
    st.fixed_dictionaries({"from_attribute": paths, "split": st.sampled_from(["", ";", ","])}),
)
rules = st.lists(
    st.fixed_dictionaries(
        {
            "name": names,
            "description": st.sampled_from(["", "who gets signatures"]),
            "match": st.sampled_from(["all", "any"]),
            "conditions": st.lists(conditions, max_size=2),
            "departments": departments,
        }
    ),
    max_size=3,
    unique_by=lambda r: r["name"].strip().casefold(),
)
settings = st.fixed_dictionaries(
    {},
    optional={
        "import_new_users": st.booleans(),
        "overwrite_manual": st.booleans(),
        "empty_values": st.sampled_from(["keep", "clear"]),
        "department_sync": st.sampled_from(["always", "on_create"]),
        "photos": st.booleans(),
        "include_disabled": st.booleans(),
        "include_guests": st.booleans(),
        "removal": st.sampled_from(["delete", "deactivate", "keep"]),
        "removal_threshold": st.fixed_dictionaries(
            {}, optional={"count": st.integers(0, 10_000), "percent": st.floats(0, 100) | st.integers(0, 100)}
        ),
        "auto_sync": st.booleans(),
        "sync_time": st.sampled_from(["00:00", "03:00", "23:59"]),
        "timezone": st.sampled_from(["UTC", "Europe/Berlin", "America/Sao_Paulo"]),
    },
)
mappings = st.dictionaries(
    st.sampled_from([f for f in EMPLOYEE_FIELDS if f not in ("email", "photo")] + ["custom.team", "custom.cost_2"]),
    st.one_of(paths, st.just(""), st.none()),
    max_size=4,
)
documents = st.fixed_dictionaries({}, optional={"settings": settings, "mapping": mappings, "import_rules": rules})


@given(documents)
def test_parse_export_parse_round_trips(document):
    cfg = parse_config(document)
    exported = export_config(cfg)
    assert parse_config(exported) == cfg
    assert export_config(parse_config(exported)) == exported
    assert config_hash(parse_config(exported)) == config_hash(cfg)


# -- fingerprint ---------------------------------------------------------------------------------------------


def test_hash_is_a_stable_sha256_of_the_content():
    first, second = parse_config(EXAMPLE), parse_config(copy.deepcopy(EXAMPLE))
    assert config_hash(first) == config_hash(second)
    assert len(config_hash(first)) == 64 and int(config_hash(first), 16) >= 0


def test_percent_written_as_integer_or_float_hashes_the_same():
    as_int = parse_config({"settings": {"removal_threshold": {"percent": 10}}})
    as_float = parse_config({"settings": {"removal_threshold": {"percent": 10.0}}})
    assert as_int == as_float and config_hash(as_int) == config_hash(as_float)


@pytest.mark.parametrize(
    "change",
    [
        {"settings": {"overwrite_manual": True}},
        {"settings": {"removal": "delete"}},
        {"settings": {"removal_threshold": {"count": 3}}},
        {"mapping": {"job_title": "department"}},
        {"mapping": {"fax": ""}},
        {"import_rules": [rule()]},
    ],
)
def test_changing_what_a_run_does_changes_the_hash(change):
    assert config_hash(parse_config(change)) != config_hash(default_config())


@pytest.mark.parametrize(
    "change",
    [
        {"settings": {"sync_time": "23:15"}},
        {"settings": {"auto_sync": False}},
        {"settings": {"timezone": "Asia/Tokyo"}},
    ],
)
def test_changing_only_the_schedule_does_not_force_a_full_run(change):
    assert config_hash(parse_config(change)) == config_hash(default_config())


# -- what the engine must ask Graph for -------------------------------------------------------------------------


def test_default_select_covers_the_standard_mapping_but_not_manager_or_photo():
    cfg = default_config()
    select = graph_select(cfg)
    assert select[:5] == ("id", "mail", "userPrincipalName", "accountEnabled", "userType")
    assert {"givenName", "surname", "businessPhones", "companyName", "employeeId", "streetAddress"} <= set(select)
    assert "manager" not in select and "photo" not in select and len(set(select)) == len(select)
    assert needs_manager(cfg) and manager_select(cfg) == ("id", "displayName", "mail")
    assert not needs_photo(cfg)  # photos are off by default


def test_select_follows_rules_departments_and_custom_fields():
    cfg = parse_config(
        {
            "mapping": {
                "manager_name": "",
                "manager_email": "",
                "custom.team": "onPremisesExtensionAttributes.extensionAttribute3",
            },
            "import_rules": [
                rule(
                    conditions=[
                        {"attribute": "usageLocation", "operator": "equals", "value": "DE"},
                        {"attribute": "memberOf", "operator": "member_of", "value": GROUP},
                        {"attribute": "otherMails[0]", "operator": "is_not_empty"},
                    ],
                    departments={"from_attribute": "employeeOrgData.division"},
                )
            ],
        }
    )
    select = graph_select(cfg)
    assert {"onPremisesExtensionAttributes", "usageLocation", "otherMails", "employeeOrgData"} <= set(select)
    assert "memberOf" not in select and "manager" not in select
    assert not needs_manager(cfg)
    assert member_of_groups(cfg) == frozenset({GROUP})


def test_a_rule_on_the_manager_needs_the_manager_expanded():
    cfg = parse_config(
        {
            "mapping": {"manager_name": "", "manager_email": ""},
            "import_rules": [rule(conditions=[{"attribute": "manager.jobTitle", "operator": "is_not_empty"}])],
        }
    )
    assert needs_manager(cfg) and manager_select(cfg) == ("id", "jobTitle")


@pytest.mark.parametrize(
    ("photos", "photo_mapping", "expected"),
    [(True, "photo", True), (True, "", False), (False, "photo", False)],
)
def test_photos_are_fetched_when_switched_on_and_mapped(photos, photo_mapping, expected):
    cfg = parse_config({"settings": {"photos": photos}, "mapping": {"photo": photo_mapping}})
    assert needs_photo(cfg) is expected
