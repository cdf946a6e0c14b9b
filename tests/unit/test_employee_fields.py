"""Typed employee values are trimmed, checked and refused with a message that says what to fix."""

import pytest

from portal.employees import EMPLOYEE_FIELDS, clean_fields, normalize_email


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("anna@example.com", "anna@example.com"),
        ("  Anna.Berg@Example.COM \t", "anna.berg@example.com"),
        ("JÜRGEN@müller.de", "jürgen@müller.de"),
        ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org"),
    ],
)
def test_normalize_email_trims_and_lowercases(typed, stored):
    assert normalize_email(typed) == stored


@pytest.mark.parametrize("typed", ["", "   ", "anna", "@example.com", "anna@", "a@b@example.com", "anna berg@x.com"])
def test_normalize_email_refuses_what_is_not_an_address(typed):
    with pytest.raises(ValueError, match="is not an e-mail address"):
        normalize_email(typed)


def test_normalize_email_refuses_an_address_longer_than_the_column():
    with pytest.raises(ValueError, match="at most 320"):
        normalize_email("a" * 310 + "@example.com")


def test_employee_fields_are_the_columns_in_the_documented_order():
    assert EMPLOYEE_FIELDS[:4] == ("first_name", "last_name", "display_name", "email")
    assert EMPLOYEE_FIELDS[-2:] == ("manager_name", "manager_email")
    assert len(EMPLOYEE_FIELDS) == 19


def test_clean_fields_splits_columns_from_custom_fields_and_trims():
    columns, custom = clean_fields(
        {"job_title": "  CTO ", "email": " A@B.de", "custom.pronouns": " she/her", "fax": None}
    )
    assert columns == {"job_title": "CTO", "email": "a@b.de", "fax": ""}
    assert custom == {"pronouns": "she/her"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"jobtitle": "CTO"}, r"Unknown field 'jobtitle'\. Valid fields: first_name, last_name, .*custom\.<key>"),
        ({"photo": "x"}, "Unknown field 'photo'"),
        ({"custom.Pronouns": "x"}, "the key after 'custom.' must be 1-40 of a-z, 0-9 or _"),
        ({"custom.": "x"}, "Invalid custom field 'custom.'"),
        ({"custom." + "k" * 41: "x"}, "Invalid custom field"),
        ({"postal_code": "1" * 41}, r"postal_code is too long \(41 characters; at most 40\)"),
        ({"custom.note": "x" * 1025}, "at most 1024"),
        ({"phone": 49}, "phone must be text"),
    ],
)
def test_clean_fields_refuses_with_a_message_naming_the_problem(fields, message):
    with pytest.raises(ValueError, match=message):
        clean_fields(fields)
