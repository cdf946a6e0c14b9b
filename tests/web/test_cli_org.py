"""`flask --app portal org create` makes an organisation or says exactly why not."""

import pytest

from portal.db import session_scope
from portal.organizations import get_organization


def _create(runner, *args):
    return runner.invoke(args=["org", "create", *args])


def test_create_stores_the_organisation(runner, config):
    result = _create(runner, "acme", "--name", "Acme GmbH", "--seats", "25", "--timezone", "Europe/Berlin")
    assert result.exit_code == 0, result.output
    assert "Created organisation acme" in result.stdout
    with session_scope(config.database_url) as session:
        org = get_organization(session, "acme")
    assert (org.name, org.seats, org.timezone) == ("Acme GmbH", 25, "Europe/Berlin")


def test_create_defaults_to_unlimited_seats_and_utc(runner, config):
    result = _create(runner, "acme", "--name", "Acme")
    assert result.exit_code == 0, result.output
    assert "unlimited seats" in result.stdout
    with session_scope(config.database_url) as session:
        org = get_organization(session, "acme")
    assert (org.seats, org.timezone) == (None, "UTC")


def test_duplicate_slug_is_refused(runner):
    _create(runner, "acme", "--name", "Acme")
    result = _create(runner, "acme", "--name", "Another Acme")
    assert result.exit_code == 1
    assert "An organisation with slug 'acme' already exists." in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("slug", ["a", "Acme", "acme_gmbh", "acme gmbh", "-acme", "acme-", "ä-corp", "a" * 65])
def test_bad_slug_is_refused_with_the_rule(runner, slug):
    result = _create(runner, "--name", "Acme", "--", slug)  # "--" so "-acme" is not read as an option
    assert result.exit_code == 1
    assert f"Invalid slug {slug!r}" in result.stderr
    assert "lower-case letters, digits or hyphens" in result.stderr


@pytest.mark.parametrize("slug", ["ab", "acme-gmbh", "x1", "a" * 64])
def test_good_slugs_are_accepted(runner, slug):
    assert _create(runner, slug, "--name", "Acme").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timezone", "Mars/Olympus"], "Unknown time zone 'Mars/Olympus'"),
        (["--timezone", "Europe"], "Unknown time zone 'Europe'"),
        (["--timezone", "/etc/passwd"], "Unknown time zone"),
        (["--seats", "-1"], "Seats must be a whole number of 0 or more"),
    ],
)
def test_bad_settings_are_refused(runner, config, args, message):
    result = _create(runner, "acme", "--name", "Acme", *args)
    assert result.exit_code == 1
    assert message in result.stderr
    with session_scope(config.database_url) as session, pytest.raises(LookupError):
        get_organization(session, "acme")


def test_empty_name_is_refused(runner):
    result = _create(runner, "acme", "--name", "  ")
    assert result.exit_code == 1
    assert "name must not be empty" in result.stderr


def test_unknown_organisation_is_named(runner):
    result = runner.invoke(args=["employees", "export", "nope"])
    assert result.exit_code == 1
    assert "No organisation with slug 'nope'." in result.stderr
