"""`flask --app portal employees …`: what an operator sees when adding, editing, pausing and exporting."""

import csv
import io
import json

import pytest
from sqlmodel import select

from portal.db import session_scope
from portal.employees import assign_department
from portal.models import AuditEvent, Employee
from portal.organizations import get_organization


def cli(runner, *args):
    return runner.invoke(args=[str(arg) for arg in args])


def ok(runner, *args):
    result = cli(runner, *args)
    assert result.exit_code == 0, result.output
    return result


def refused(runner, *args):
    """Run a command that must fail cleanly; return its error text."""
    result = cli(runner, *args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.stderr


def export_json(runner, slug="acme"):
    return json.loads(ok(runner, "employees", "export", slug, "--format", "json").stdout)


def export_csv(runner, slug="acme"):
    return list(csv.DictReader(io.StringIO(ok(runner, "employees", "export", slug, "--format", "csv").stdout)))


def by_email(rows):
    return {row["email"]: row for row in rows}


@pytest.fixture
def acme(runner):
    ok(runner, "org", "create", "acme", "--name", "Acme GmbH")
    return "acme"


def add_synced_employee(config, email, status="active", **fields):
    """An employee as the sync would have written it: linked, with what Microsoft 365 said."""
    with session_scope(config.database_url) as session:
        org = get_organization(session, "acme")
        session.add(
            Employee(
                organization_id=org.id,
                email=email,
                source="m365",
                status=status,
                m365_id=f"id-{email}",
                synced_values=dict(fields),
                created_by_sync=True,
                **fields,
            )
        )


def stored_employee(config, email):
    with session_scope(config.database_url) as session:
        return session.exec(select(Employee).where(Employee.email == email)).one()


# --- add and export -------------------------------------------------------------------------


def test_added_employee_shows_up_in_export(runner, acme):
    result = ok(
        runner, "employees", "add", acme, " Anna.Berg@Example.com ",
        "--field", "first_name=Anna", "--field", "last_name=Berg", "--field", "job_title= Head of Sales ",
        "--field", "custom.pronouns=she/her",
    )  # fmt: skip
    assert result.stdout.strip() == "Added anna.berg@example.com to acme."
    [row] = export_json(runner)
    assert row["email"] == "anna.berg@example.com"
    assert (row["first_name"], row["last_name"], row["job_title"]) == ("Anna", "Berg", "Head of Sales")
    assert row["custom"] == {"pronouns": "she/her"}
    assert (row["source"], row["status"], row["m365_id"], row["departments"]) == ("manual", "active", None, [])


def test_empty_organisation_exports_nothing(runner, acme):
    assert export_json(runner) == []
    assert ok(runner, "employees", "export", acme, "--format", "csv").stdout.startswith("first_name,last_name,")
    assert export_csv(runner) == []


def test_duplicate_email_in_other_case_is_refused(runner, acme):
    ok(runner, "employees", "add", acme, "anna@example.com", "--field", "first_name=Anna")
    error = refused(runner, "employees", "add", acme, "ANNA@Example.COM", "--field", "first_name=Other")
    assert "acme already has an employee anna@example.com" in error
    [row] = export_json(runner)
    assert row["first_name"] == "Anna"


def test_same_email_may_exist_in_two_organisations(runner, acme):
    ok(runner, "org", "create", "globex", "--name", "Globex")
    ok(runner, "employees", "add", acme, "anna@example.com")
    ok(runner, "employees", "add", "globex", "anna@example.com")
    assert len(export_json(runner, "acme")) == len(export_json(runner, "globex")) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-address"], "'not-an-address' is not an e-mail address"),
        (["anna@example.com", "--field", "titel=CTO"], "Unknown field 'titel'"),
        (["anna@example.com", "--field", "email=other@example.com"], "Two different e-mail addresses"),
    ],
)
def test_bad_add_is_refused_and_writes_nothing(runner, acme, args, message):
    assert message in refused(runner, "employees", "add", acme, *args)
    assert export_json(runner) == []


def test_add_to_unknown_organisation_is_refused(runner):
    assert "No organisation with slug 'nope'." in refused(runner, "employees", "add", "nope", "anna@example.com")


# --- seats ----------------------------------------------------------------------------------


def test_seat_limit_is_refused_with_a_message_naming_the_limit(runner):
    ok(runner, "org", "create", "small", "--name", "Small", "--seats", 2)
    ok(runner, "employees", "add", "small", "a@example.com")
    ok(runner, "employees", "add", "small", "b@example.com")
    error = refused(runner, "employees", "add", "small", "c@example.com")
    assert "small has used all of its 2 seat(s)" in error
    assert len(export_json(runner, "small")) == 2


def test_zero_seats_admits_nobody(runner):
    ok(runner, "org", "create", "trial", "--name", "Trial", "--seats", 0)
    assert "all of its 0 seat(s)" in refused(runner, "employees", "add", "trial", "a@example.com")


def test_excluded_employee_frees_its_seat_and_needs_one_to_come_back(runner):
    ok(runner, "org", "create", "small", "--name", "Small", "--seats", 1)
    ok(runner, "employees", "add", "small", "a@example.com")
    ok(runner, "employees", "exclude", "small", "a@example.com")
    ok(runner, "employees", "add", "small", "b@example.com")
    assert "all of its 1 seat(s)" in refused(runner, "employees", "include", "small", "a@example.com")
    assert by_email(export_json(runner, "small"))["a@example.com"]["status"] == "excluded"


def test_paused_employee_keeps_its_seat(runner):
    ok(runner, "org", "create", "small", "--name", "Small", "--seats", 1)
    ok(runner, "employees", "add", "small", "a@example.com")
    ok(runner, "employees", "pause", "small", "a@example.com")
    assert "all of its 1 seat(s)" in refused(runner, "employees", "add", "small", "b@example.com")


# --- edit -----------------------------------------------------------------------------------


def test_edit_writes_fields_and_an_empty_custom_value_removes_it(runner, acme):
    ok(runner, "employees", "add", acme, "anna@example.com", "--field", "custom.pronouns=she/her")
    result = ok(
        runner, "employees", "edit", acme, "ANNA@example.com",
        "--field", "job_title=CTO", "--field", "custom.pronouns=", "--field", "custom.team=Platform",
    )  # fmt: skip
    assert "Updated anna@example.com" in result.stdout
    [row] = export_json(runner)
    assert row["job_title"] == "CTO"
    assert row["custom"] == {"team": "Platform"}


def test_edit_of_unknown_field_names_the_valid_fields(runner, acme):
    ok(runner, "employees", "add", acme, "anna@example.com")
    error = refused(runner, "employees", "edit", acme, "anna@example.com", "--field", "titel=CTO")
    assert "Unknown field 'titel'" in error
    assert "Valid fields: first_name, last_name, display_name, email, job_title" in error
    assert "custom.<key>" in error


def test_failed_edit_writes_nothing(runner, acme):
    ok(runner, "employees", "add", acme, "anna@example.com", "--field", "job_title=Sales")
    refused(runner, "employees", "edit", acme, "anna@example.com", "--field", "job_title=CTO", "--field", "x=1")
    assert export_json(runner)[0]["job_title"] == "Sales"


def test_edit_refuses_a_value_longer_than_the_column(runner, acme):
    ok(runner, "employees", "add", acme, "anna@example.com")
    error = refused(runner, "employees", "edit", acme, "anna@example.com", "--field", "postal_code=" + "1" * 41)
    assert "postal_code is too long (41 characters; at most 40)" in error


def test_edit_can_change_the_email_but_not_to_a_taken_one(runner, acme):
    ok(runner, "employees", "add", acme, "anna@example.com")
    ok(runner, "employees", "add", acme, "ben@example.com")
    error = refused(runner, "employees", "edit", acme, "anna@example.com", "--field", "email=BEN@example.com")
    assert "already has an employee ben@example.com" in error
    ok(runner, "employees", "edit", acme, "anna@example.com", "--field", "email=Anna.Berg@Example.com")
    assert sorted(by_email(export_json(runner))) == ["anna.berg@example.com", "ben@example.com"]


def test_edit_of_a_synced_employee_keeps_what_m365_said(runner, acme, config):
    add_synced_employee(config, "carl@example.com", job_title="Engineer", city="Bonn")
    ok(runner, "employees", "edit", acme, "carl@example.com", "--field", "job_title=Lead Engineer")
    carl = stored_employee(config, "carl@example.com")
    assert carl.job_title == "Lead Engineer"
    # The sync sees job_title differ from synced_values and so knows it was typed by hand.
    assert carl.synced_values == {"job_title": "Engineer", "city": "Bonn"}
    assert (carl.source, carl.m365_id) == ("m365", "id-carl@example.com")


def test_edit_of_unknown_employee_is_refused(runner, acme):
    error = refused(runner, "employees", "edit", acme, "ghost@example.com", "--field", "job_title=CTO")
    assert "No employee ghost@example.com in acme." in error


@pytest.mark.parametrize("option", ["job_title", "=CTO"])
def test_field_option_without_name_and_value_is_a_usage_error(runner, acme, option):
    ok(runner, "employees", "add", acme, "anna@example.com")
    result = cli(runner, "employees", "edit", acme, "anna@example.com", "--field", option)
    assert result.exit_code == 2
    assert "is not NAME=VALUE" in result.stderr


def test_field_given_twice_is_a_usage_error(runner, acme):
    result = cli(runner, "employees", "add", acme, "a@example.com", "--field", "city=Bonn", "--field", "city=Köln")
    assert result.exit_code == 2
    assert "city is given twice" in result.stderr


# --- pause, resume, exclude, include --------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "action", "status"),
    [
        ([], "pause", "paused"),
        (["pause"], "resume", "active"),
        ([], "exclude", "excluded"),
        (["pause"], "exclude", "excluded"),
        (["exclude"], "include", "active"),
    ],
)
def test_sync_actions_change_the_status(runner, acme, before, action, status):
    ok(runner, "employees", "add", acme, "anna@example.com")
    for step in before:
        ok(runner, "employees", step, acme, "anna@example.com")
    result = ok(runner, "employees", action, acme, "Anna@Example.com")
    assert f"(status: {status})" in result.stdout
    assert export_json(runner)[0]["status"] == status


@pytest.mark.parametrize(
    ("before", "action", "message"),
    [
        ([], "resume", "anna@example.com is already active."),
        ([], "include", "anna@example.com is already active."),
        (["pause"], "pause", "anna@example.com is already paused."),
        (["exclude"], "exclude", "anna@example.com is already excluded."),
        (["exclude"], "resume", "Cannot resume anna@example.com: it is excluded, not paused. Use include"),
        (["exclude"], "pause", "Cannot pause anna@example.com: it is excluded, not active. Include it first."),
        (["pause"], "include", "Cannot include anna@example.com: it is paused, not excluded. Use resume"),
    ],
)
def test_nonsense_sync_actions_are_refused(runner, acme, before, action, message):
    ok(runner, "employees", "add", acme, "anna@example.com")
    for step in before:
        ok(runner, "employees", step, acme, "anna@example.com")
    assert message in refused(runner, "employees", action, acme, "anna@example.com")


def test_inactive_employee_can_be_excluded_but_not_paused(runner, acme, config):
    add_synced_employee(config, "gone@example.com", status="inactive")
    assert "it is inactive, not active" in refused(runner, "employees", "pause", acme, "gone@example.com")
    ok(runner, "employees", "exclude", acme, "gone@example.com")
    assert export_json(runner)[0]["status"] == "excluded"


def test_sync_action_on_unknown_employee_is_refused(runner, acme):
    assert "No employee ghost@example.com in acme." in refused(runner, "employees", "pause", acme, "ghost@example.com")


# --- export formats -------------------------------------------------------------------------


@pytest.fixture
def international(runner, acme, config):
    ok(
        runner, "employees", "add", acme, "juergen.mueller@example.com",
        "--field", "first_name=Jürgen", "--field", "last_name=Müller", "--field", "display_name=Jürgen Müller",
        "--field", "city=Köln", "--field", "custom.greeting=Grüße, \"Jürgen\"",
    )  # fmt: skip
    ok(runner, "employees", "add", acme, "wang.wei@example.com", "--field", "display_name=王伟", "--field", "city=北京")
    with session_scope(config.database_url) as session:
        org = get_organization(session, acme)
        assign_department(session, org, "wang.wei@example.com", "Vertrieb")
        assign_department(session, org, "wang.wei@example.com", "Asien & Pazifik")
    return acme


def test_json_export_keeps_umlauts_and_cjk(runner, international):
    stdout = ok(runner, "employees", "export", international).stdout
    assert "Jürgen Müller" in stdout and "王伟" in stdout  # real characters, not \u escapes
    rows = by_email(json.loads(stdout))
    assert rows["juergen.mueller@example.com"]["display_name"] == "Jürgen Müller"
    assert rows["juergen.mueller@example.com"]["custom"] == {"greeting": 'Grüße, "Jürgen"'}
    assert rows["wang.wei@example.com"]["display_name"] == "王伟"
    assert rows["wang.wei@example.com"]["departments"] == ["Asien & Pazifik", "Vertrieb"]


def test_csv_export_keeps_umlauts_and_cjk_and_joins_departments(runner, international):
    rows = by_email(export_csv(runner))
    juergen, wang = rows["juergen.mueller@example.com"], rows["wang.wei@example.com"]
    assert (juergen["first_name"], juergen["last_name"], juergen["city"]) == ("Jürgen", "Müller", "Köln")
    assert juergen["custom.greeting"] == 'Grüße, "Jürgen"'
    assert (wang["display_name"], wang["city"], wang["custom.greeting"]) == ("王伟", "北京", "")
    assert wang["departments"] == "Asien & Pazifik; Vertrieb"
    assert (wang["source"], wang["status"], wang["m365_id"]) == ("manual", "active", "")


def test_export_prints_only_the_data(runner, international):
    for fmt in ("json", "csv"):
        result = ok(runner, "employees", "export", international, "--format", fmt)
        assert result.stderr == ""
    assert ok(runner, "employees", "export", international).stdout.startswith("[")


def test_pause_resume_exclude_include_from_the_command_line_are_in_the_audit_log(runner, acme, config):
    ok(runner, "employees", "add", acme, "anna@example.com")
    for action in ("pause", "resume", "exclude", "include"):
        ok(runner, "employees", action, acme, "anna@example.com")
    with session_scope(config.database_url) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
        logged = [(event.actor, event.action) for event in events if event.action.startswith("employee_")]
    assert logged == [("command line", "employee_paused"), ("command line", "employee_resumed"),
                      ("command line", "employee_excluded"), ("command line", "employee_included")]
