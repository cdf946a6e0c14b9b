"""portal.configuration: one section at a time, every problem by key path, the same write as the CLI's import."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from portal import connections
from portal.audit import Action
from portal.configuration import update_configuration
from portal.db import get_engine, session_scope
from portal.errors import InvalidValue
from portal.models import AuditEvent, Connection
from portal.organizations import create_organization

GROUP = "1b2c3d4e-0000-4000-8000-000000000001"


@pytest.fixture
def connected(config):
    """An organisation with a stored connection (no network) and its default configuration."""
    engine = get_engine(config.database_url)
    with session_scope(config.database_url) as session:
        org = create_organization(session, "acme", "Acme", timezone="Europe/Berlin")
    connection = connections.connect_delegated(engine, org, "tenant", b"", "test")
    return org, connection


def stored(config, connection) -> Connection:
    with session_scope(config.database_url) as session:
        return session.get(Connection, connection.id)


def update(config, connection, section, data, actor="anna@acme.example"):
    with session_scope(config.database_url) as session:
        return update_configuration(session, connection, section, data, actor=actor)


def test_settings_are_saved_with_a_new_fingerprint_and_an_audit_event(config, connected):
    org, connection = connected
    before = stored(config, connection)
    settings = {**before.settings, "removal": "keep", "overwrite_manual": True}
    assert update(config, connection, "settings", settings) == {}
    after = stored(config, connection)
    assert after.settings["removal"] == "keep" and after.settings["overwrite_manual"] is True
    assert after.config_hash != before.config_hash
    assert after.mapping == before.mapping and after.import_rules == before.import_rules
    with session_scope(config.database_url) as session:
        [event] = session.exec(select(AuditEvent).where(AuditEvent.organization_id == org.id)).all()
    assert (event.action, event.actor) == (Action.SETTINGS_CHANGED, "anna@acme.example")
    assert event.details == {"changed": ["overwrite_manual", "removal"]}


def test_schedule_settings_change_nothing_a_run_decides(config, connected):
    _org, connection = connected
    before = stored(config, connection)
    assert update(config, connection, "settings", {**before.settings, "sync_time": "05:30"}) == {}
    after = stored(config, connection)
    assert after.settings["sync_time"] == "05:30" and after.config_hash == before.config_hash


def test_every_problem_comes_back_by_field_and_nothing_is_saved(config, connected):
    _org, connection = connected
    before = stored(config, connection)
    problems = update(config, connection, "settings", {
        "removal": "vaporise", "sync_time": "25:00", "overwrite_manual": "yes", "colour": "blue",
        "removal_threshold": {"count": -1, "percent": 10}})
    assert set(problems) == {"settings.removal", "settings.sync_time", "settings.overwrite_manual",
                             "settings.colour", "settings.removal_threshold.count"}
    assert "delete, deactivate, keep" in problems["settings.removal"]
    assert "HH:MM" in problems["settings.sync_time"]
    assert "unknown key" in problems["settings.colour"]
    after = stored(config, connection)
    assert (after.settings, after.config_hash) == (before.settings, before.config_hash)


def test_mapping_and_rule_problems_name_the_field_they_concern(config, connected):
    _org, connection = connected
    mapping = {**stored(config, connection).mapping, "job_title": "no such attribute!",
               "custom.floor": "officeLocation"}
    problems = update(config, connection, "mapping", mapping)
    assert list(problems) == ["mapping.job_title"]
    rules = [{"name": "Staff", "conditions": [{"attribute": "memberOf", "operator": "member_of", "value": "x"},
                                              {"attribute": "department", "operator": "eq", "value": "Sales"}],
              "departments": {"names": ["Sales"]}}]
    problems = update(config, connection, "import_rules", rules)
    assert set(problems) == {"import_rules[0].conditions[0].value", "import_rules[0].conditions[1].operator"}
    assert "group id" in problems["import_rules[0].conditions[0].value"]


def test_rules_saved_here_are_what_the_cli_exports_and_imports(config, connected, runner, tmp_path):
    org, connection = connected
    rules = [{"name": "Staff", "description": "Everyone in the staff group",
              "conditions": [{"attribute": "memberOf", "operator": "member_of", "value": GROUP}],
              "departments": {"from_attribute": "department", "split": ";"}}]
    assert update(config, connection, "import_rules", rules) == {}
    saved = stored(config, connection)
    out = runner.invoke(args=["m365", "config", org.slug, "--export"])
    assert out.exit_code == 0, out.output
    exported = json.loads(out.output)
    assert exported["import_rules"][0]["conditions"][0]["value"] == GROUP
    # Back through the CLI's import: the same canonical document and the same fingerprint.
    assert update(config, connection, "import_rules", []) == {}
    document = tmp_path / "config.json"
    document.write_text(out.output, encoding="utf-8")
    imported = runner.invoke(args=["m365", "config", org.slug, "--import", str(document)])
    assert imported.exit_code == 0, imported.output
    again = stored(config, connection)
    assert (again.import_rules, again.config_hash) == (saved.import_rules, saved.config_hash)


def test_an_unchanged_section_is_not_logged(config, connected):
    org, connection = connected
    assert update(config, connection, "mapping", stored(config, connection).mapping) == {}
    with session_scope(config.database_url) as session:
        assert session.exec(select(AuditEvent).where(AuditEvent.organization_id == org.id)).all() == []


def test_an_unknown_section_is_refused(config, connected):
    _org, connection = connected
    with pytest.raises(InvalidValue, match="Unknown configuration section"):
        update(config, connection, "photos", {})


def test_a_section_of_the_wrong_shape_is_one_problem_at_its_path(config, connected):
    _org, connection = connected
    assert list(update(config, connection, "import_rules", {"name": "x"})) == ["import_rules"]
    assert list(update(config, connection, "settings", ["not", "an", "object"])) == ["settings"]
