"""Graph user → employee values: attribute paths, text conversion, column sizes and the e-mail address."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.models import Employee
from portal.sync.config import DEFAULT_MAPPING
from portal.sync.mapping import FIELD_LIMITS, Mapper, as_text, compile_path, skip_reason, truncate, user_email
from portal.sync.paths import parse_path

ADA = {
    "id": "7d54cb02-aaa3-4016-9f9c-a4b49422dd9b",
    "givenName": "  Ada ",
    "surname": "Lovelace",
    "displayName": "Ada Lovelace",
    "mail": "Ada.Lovelace@Contoso.com",
    "userPrincipalName": "ada@contoso.onmicrosoft.com",
    "jobTitle": "Analyst\t",
    "department": None,
    "businessPhones": ["+44 20 7946 0000", "+44 20 7946 0001"],
    "accountEnabled": True,
    "onPremisesExtensionAttributes": {"extensionAttribute1": None, "extensionAttribute3": " Engines "},
    "employeeOrgData": {"division": "Research", "costCenter": 4711},
    "manager": {"id": "m1", "displayName": "Charles Babbage", "mail": "charles@contoso.com"},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("givenName", "  Ada "),
        ("department", None),
        ("faxNumber", None),
        ("businessPhones[0]", "+44 20 7946 0000"),
        ("businessPhones[1]", "+44 20 7946 0001"),
        ("businessPhones[2]", None),
        ("otherMails[0]", None),
        ("givenName[0]", None),
        ("manager.mail", "charles@contoso.com"),
        ("manager.jobTitle", None),
        ("onPremisesExtensionAttributes.extensionAttribute3", " Engines "),
        ("onPremisesExtensionAttributes.extensionAttribute9", None),
        ("employeeOrgData.costCenter", 4711),
        ("mail.domain", None),
        ("manager.businessPhones[0]", None),
        ("accountEnabled", True),
    ],
)
def test_a_path_reads_the_attribute_or_gives_none(path, expected):
    assert compile_path(path)(ADA) == expected


def test_deep_paths_walk_lists_and_objects():
    user = {"identities": [{"issuer": "contoso.com"}, {"issuer": "adatum.com", "ids": ["a", "b"]}]}
    assert compile_path("identities[1].issuer")(user) == "adatum.com"
    assert compile_path("identities[1].ids[1]")(user) == "b"
    assert compile_path("identities[0].ids[0]")(user) is None
    assert compile_path("identities[5].issuer")(user) is None


def test_a_user_without_a_manager_reads_as_none():
    assert compile_path("manager.displayName")({"id": "x"}) is None
    assert compile_path("manager.displayName")({"manager": None}) is None


@pytest.mark.parametrize("path", ["", "given name", "a..b", ".a", "a.", "a[", "a[x]", "a[-1]", "a[1][2]", "1a"])
def test_malformed_paths_are_refused(path):
    with pytest.raises(ValueError):
        parse_path(path)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("  Sales \n", "Sales"),
        (True, "true"),
        (False, "false"),
        (4711, "4711"),
        (["a"], ""),
        ({"a": 1}, ""),
    ],
)
def test_graph_values_become_trimmed_text(value, text):
    assert as_text(value) == text


def test_default_mapping_fills_every_employee_field_as_text():
    values = Mapper(DEFAULT_MAPPING).values(ADA)
    assert values == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "display_name": "Ada Lovelace",
        "email": "ada.lovelace@contoso.com",
        "job_title": "Analyst",
        "department": "",
        "company": "",
        "office": "",
        "phone": "+44 20 7946 0000",
        "mobile": "",
        "fax": "",
        "street": "",
        "postal_code": "",
        "city": "",
        "state": "",
        "country": "",
        "employee_number": "",
        "manager_name": "Charles Babbage",
        "manager_email": "charles@contoso.com",
    }


def test_custom_fields_come_back_under_their_custom_key():
    mapper = Mapper(
        {
            "email": "mail",
            "custom.team": "onPremisesExtensionAttributes.extensionAttribute3",
            "custom.cost_center": "employeeOrgData.costCenter",
            "custom.empty": "onPremisesExtensionAttributes.extensionAttribute1",
        }
    )
    assert mapper.values(ADA) == {
        "custom.team": "Engines",
        "custom.cost_center": "4711",
        "custom.empty": "",
        "email": "ada.lovelace@contoso.com",
    }


def test_unmapped_fields_and_the_photo_are_not_in_the_values():
    values = Mapper({"email": "mail", "job_title": "jobTitle", "photo": "photo", "fax": ""}).values(ADA)
    assert set(values) == {"email", "job_title"}


def test_field_limits_match_the_employee_columns():
    for name, limit in FIELD_LIMITS.items():
        assert Employee.__table__.c[name].type.length == limit, name


@pytest.mark.parametrize(
    ("field", "attribute", "length"),
    [
        ("job_title", "jobTitle", 200),
        ("postal_code", "postalCode", 40),
        ("employee_number", "employeeId", 64),
        ("street", "streetAddress", 1024),
        ("display_name", "displayName", 300),
        ("custom.note", "jobTitle", 1024),
    ],
)
def test_long_values_are_cut_to_the_column_size(field, attribute, length):
    values = Mapper({"email": "mail", field: attribute}).values({attribute: "x" * 5000})
    assert values[field] == "x" * length


@pytest.mark.parametrize(
    ("text", "limit", "cut"),
    [
        ("Zoë", 5, "Zoë"),
        ("Cafe\u0301 Noir", 4, "Caf"),  # the accent belongs to the e: both go
        ("Team 👩\u200d💻 Dev", 6, "Team"),  # an emoji sequence is never split
        ("Büro 🇩🇪🇫🇷", 7, "Büro 🇩🇪"),  # flags are pairs
        ("Büro 🇩🇪🇫🇷", 8, "Büro 🇩🇪"),
        ("Office  B", 7, "Office"),  # no dangling space
        ("👍🏽 ok", 1, ""),  # a skin tone belongs to its emoji
    ],
)
def test_truncation_never_splits_a_character_a_reader_sees(text, limit, cut):
    assert truncate(text, limit) == cut


@given(st.text(), st.integers(0, 30))
def test_truncation_stays_within_the_limit_and_is_a_prefix(text, limit):
    cut = truncate(text, limit)
    assert len(cut) <= limit and text.startswith(cut)


# -- the e-mail address ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "email"),
    [
        ({"mail": "Ada@Contoso.COM", "userPrincipalName": "ada@contoso.onmicrosoft.com"}, "ada@contoso.com"),
        ({"mail": "  ada@contoso.com  "}, "ada@contoso.com"),
        ({"mail": None, "userPrincipalName": "Ada@Contoso.onmicrosoft.com"}, "ada@contoso.onmicrosoft.com"),
        ({"mail": "", "userPrincipalName": "ada@contoso.onmicrosoft.com"}, "ada@contoso.onmicrosoft.com"),
        ({"mail": "not an address", "userPrincipalName": "ada@contoso.com"}, "ada@contoso.com"),
        ({"mail": None, "userPrincipalName": "AdeleV_adatum.com#EXT#@contoso.onmicrosoft.com"}, None),
        ({"mail": "AdeleV@adatum.com", "userPrincipalName": "AdeleV_adatum.com#EXT#@contoso.com"}, "adelev@adatum.com"),
        ({"mail": "a@b@c.com"}, None),
        ({"mail": "@contoso.com"}, None),
        ({"mail": "ada@"}, None),
        ({"mail": "ada lovelace@contoso.com"}, None),
        ({"mail": "a" * 310 + "@contoso.com"}, None),
        ({}, None),
        ({"mail": ["ada@contoso.com"]}, None),
    ],
)
def test_the_email_is_mail_else_a_non_guest_user_principal_name(user, email):
    assert user_email(user) == email


def test_a_mapped_email_attribute_is_tried_first_then_mail_then_the_upn():
    mapper = Mapper({"email": "onPremisesExtensionAttributes.extensionAttribute5"})
    extension = {"onPremisesExtensionAttributes": {"extensionAttribute5": "Signature@Contoso.com"}}
    assert mapper.email({**extension, "mail": "ada@contoso.com"}) == "signature@contoso.com"
    assert mapper.email({"mail": "ada@contoso.com"}) == "ada@contoso.com"
    assert mapper.email({"userPrincipalName": "ada@contoso.com"}) == "ada@contoso.com"
    assert mapper.values({**extension})["email"] == "signature@contoso.com"


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        ({"mail": "ada@contoso.com"}, None),
        (
            {"mail": None, "userPrincipalName": "AdeleV_adatum.com#EXT#@contoso.onmicrosoft.com"},
            "no usable e-mail address: mail is empty and the user principal name is a guest (#EXT#) name",
        ),
        ({}, "no usable e-mail address: mail is empty and the user principal name is empty"),
        (
            {"mail": "ada at contoso", "userPrincipalName": ""},
            "no usable e-mail address: mail 'ada at contoso' is not an e-mail address "
            "and the user principal name is empty",
        ),
        (
            {"mail": "a" * 400 + "@contoso.com"},
            "no usable e-mail address: mail is longer than 320 characters and the user principal name is empty",
        ),
    ],
)
def test_skip_reason_says_why_a_user_has_no_address(user, reason):
    assert skip_reason(user) == reason


def test_skip_reason_names_the_mapped_email_attribute_too():
    mapper = Mapper({"email": "onPremisesExtensionAttributes.extensionAttribute5"})
    assert mapper.skip_reason({}) == (
        "no usable e-mail address: onPremisesExtensionAttributes.extensionAttribute5 is empty, "
        "mail is empty and the user principal name is empty"
    )
