"""One rule, one place: time zones, department names, the default department split, the error family."""

from __future__ import annotations

import pytest

from portal.employees.fields import department_key
from portal.errors import InvalidValue, SigsyncError
from portal.m365.errors import ConsentRequired, GraphThrottled
from portal.organizations import validate_timezone
from portal.sync.config import ConfigInvalid, known_timezone, parse_config
from portal.sync.engine import SyncRefused
from portal.sync.lock import LockLost, RunInProgress
from portal.sync.removals import NothingToResolve
from portal.sync.rules import RuleSet


@pytest.mark.parametrize("zone", ["Europe", "Europe/", "America", "../etc", "", "  ", "Mars/Olympus", "x" * 100])
def test_a_folder_or_unknown_name_is_no_time_zone_in_either_check(zone):
    assert known_timezone(zone) is None
    with pytest.raises(InvalidValue, match="Unknown time zone"):
        validate_timezone(zone)
    with pytest.raises(ConfigInvalid, match="settings.timezone"):
        parse_config({"settings": {"timezone": zone}})


def test_a_real_time_zone_passes_both_checks_trimmed():
    assert known_timezone(" Europe/Berlin ") == validate_timezone(" Europe/Berlin ") == "Europe/Berlin"
    assert parse_config({"settings": {"timezone": "Europe/Berlin"}}).settings.timezone == "Europe/Berlin"


def test_department_names_differ_only_in_case_and_spaces_are_one():
    assert department_key("SALES") == department_key(" Sales ") == department_key("sales")
    assert department_key("Straße") == department_key("STRASSE")
    assert department_key("Sales") != department_key("Sales EMEA")


def test_a_semicolon_separated_attribute_gives_several_departments_by_default():
    cfg = parse_config({"import_rules": [{"name": "Everyone", "departments": {"from_attribute": "department"}}]})
    rules = RuleSet(cfg.import_rules, cfg.settings)
    user = {"id": "u1", "mail": "a@contoso.com", "accountEnabled": True, "userType": "Member",
            "department": "Sales;Marketing"}
    assert rules.evaluate(user, frozenset()).departments == ("Sales", "Marketing")
    whole = parse_config({"import_rules": [
        {"name": "Everyone", "departments": {"from_attribute": "department", "split": ""}}]})
    assert RuleSet(whole.import_rules, whole.settings).evaluate(user, frozenset()).departments == ("Sales;Marketing",)


@pytest.mark.parametrize("error", [
    InvalidValue("That value is too long."), ConsentRequired("consent_required"), GraphThrottled(5, 60.0),
    ConfigInvalid([("settings.removal", "must be one of delete, deactivate, keep")]), SyncRefused("Paused."),
    RunInProgress(), LockLost(), NothingToResolve("Run 7 has no removals waiting for approval."),
])
def test_every_error_is_a_sigsync_error_with_words_for_the_admin(error):
    assert isinstance(error, SigsyncError)
    assert error.admin_message and "Traceback" not in error.admin_message


def test_a_run_that_lost_its_lock_is_not_reported_as_already_running():
    assert "already running" in RunInProgress().admin_message
    assert "already running" not in LockLost().admin_message
