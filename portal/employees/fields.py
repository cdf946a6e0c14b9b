"""The employee fields an admin may type, and how typed values are cleaned and checked."""

from __future__ import annotations

import re
from collections.abc import Mapping

from portal.errors import InvalidValue
from portal.models import Employee

EMPLOYEE_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "display_name",
    "email",
    "job_title",
    "department",
    "company",
    "office",
    "phone",
    "mobile",
    "fax",
    "street",
    "postal_code",
    "city",
    "state",
    "country",
    "employee_number",
    "manager_name",
    "manager_email",
)
CUSTOM_PREFIX = "custom."
CUSTOM_KEY_PATTERN = re.compile(r"[a-z0-9_]{1,40}")
CUSTOM_VALUE_MAX = 1024
# The database column lengths, so a value is refused here rather than by the database.
FIELD_MAX_LENGTHS: dict[str, int] = {name: Employee.__table__.columns[name].type.length for name in EMPLOYEE_FIELDS}


def normalize_email(value: str) -> str:
    """The e-mail address trimmed and lower-cased: the key employees are matched by."""
    email = value.strip().lower()
    local, at, domain = email.partition("@")
    if (not at or not local or not domain or "@" in domain
            or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in email)):
        raise InvalidValue(f"{value!r} is not an e-mail address (expected one '@' between a name and a domain).")
    if len(email) > FIELD_MAX_LENGTHS["email"]:
        raise InvalidValue(
            f"E-mail address is too long ({len(email)} characters; at most {FIELD_MAX_LENGTHS['email']})."
        )
    return email


def clean_fields(fields: Mapping[str, str | None]) -> tuple[dict[str, str], dict[str, str]]:
    """Split typed values into column values and custom values, trimmed and checked; None means empty."""
    columns: dict[str, str] = {}
    custom: dict[str, str] = {}
    for name, raw in fields.items():
        value = _text(name, raw)
        if name.startswith(CUSTOM_PREFIX):
            custom[_custom_key(name)] = _within(name, value, CUSTOM_VALUE_MAX)
        elif name == "email":
            columns[name] = normalize_email(value)
        elif name in FIELD_MAX_LENGTHS:
            columns[name] = _within(name, value, FIELD_MAX_LENGTHS[name])
        else:
            raise InvalidValue(f"Unknown field {name!r}. Valid fields: {', '.join(EMPLOYEE_FIELDS)}, custom.<key>.")
    return columns, custom


def _text(name: str, raw: str | None) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise InvalidValue(f"{name} must be text, got {type(raw).__name__}.")
    return raw.strip()


def _custom_key(name: str) -> str:
    key = name.removeprefix(CUSTOM_PREFIX)
    if not CUSTOM_KEY_PATTERN.fullmatch(key):
        raise InvalidValue(f"Invalid custom field {name!r}: the key after 'custom.' must be 1-40 of a-z, 0-9 or _.")
    return key


def _within(name: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidValue(f"{name} is too long ({len(value)} characters; at most {limit}).")
    return value


def department_key(name: str) -> str:
    """The one rule for department names, by hand and in the sync: "Sales", "SALES" and " sales " are one."""
    return name.strip().casefold()
