"""Graph user dicts → employee field values: trimmed text, cut to the database's column sizes."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from portal.sync.paths import Getter, compile_path

__all__ = ["FIELD_LIMITS", "Mapper", "as_text", "compile_path", "skip_reason", "truncate", "user_email"]

# Employee column sizes (models.Employee max_length); a unit test keeps the two in step.
FIELD_LIMITS = {
    "first_name": 200, "last_name": 200, "display_name": 300, "email": 320, "job_title": 200, "department": 200,
    "company": 200, "office": 200, "phone": 100, "mobile": 100, "fax": 100, "street": 1024, "postal_code": 40,
    "city": 200, "state": 200, "country": 200, "employee_number": 64, "manager_name": 300, "manager_email": 320,
}  # fmt: skip
CUSTOM_LIMIT = 1024  # custom fields live in a JSON column; this keeps one odd attribute from bloating it
EMAIL_LIMIT = FIELD_LIMITS["email"]
_ADDRESS = re.compile(r"[^\s@]+@[^\s@]+")
_ZWJ = "\u200d"


def as_text(value: Any) -> str:
    """A Graph value as employee text: trimmed; "" for None, lists and objects; booleans as true/false."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value.strip()
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return str(value)
    return ""  # lists and objects: a mapping picks one entry with an index or attribute


def truncate(text: str, limit: int) -> str:
    """Cut text to at most ``limit`` characters without splitting an accent, emoji sequence or flag."""
    if len(text) <= limit:
        return text
    cut = limit
    while cut > 0 and (_continues(text[cut]) or text[cut - 1] == _ZWJ):
        cut -= 1
    if cut > 0 and _regional(text[cut]) and _regional(text[cut - 1]):
        run = cut
        while run > 0 and _regional(text[run - 1]):
            run -= 1
        cut -= (cut - run) % 2  # flags are pairs of regional indicators
    return text[:cut].rstrip()


def _continues(char: str) -> bool:
    """Whether the character belongs to the one before it (combining mark, joiner, variation, skin tone)."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or char == _ZWJ
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
    )


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


class Mapper:
    """A field mapping compiled once per run; ``values(user)`` is called for every user."""

    __slots__ = ("_fields", "_email_sources")

    def __init__(self, mapping: Mapping[str, str]) -> None:
        fields: list[tuple[str, Getter, int]] = []
        for name, path in mapping.items():
            if name in ("email", "photo") or not path:
                continue  # email has its own fallback rules; the engine fetches photo bytes itself
            limit = CUSTOM_LIMIT if name.startswith("custom.") else FIELD_LIMITS[name]
            fields.append((name, compile_path(path), limit))
        self._fields = tuple(fields)
        paths = dict.fromkeys((mapping.get("email") or "mail", "mail", "userPrincipalName"))
        self._email_sources = tuple((_label(path), compile_path(path)) for path in paths)

    def values(self, user: Mapping[str, Any]) -> dict[str, str]:
        """Every mapped field (custom ones as ``custom.<key>``) as trimmed text; email as ``user_email``."""
        out: dict[str, str] = {}
        for name, get, limit in self._fields:
            value = get(user)
            text = value.strip() if type(value) is str else as_text(value)
            out[name] = text if len(text) <= limit else truncate(text, limit)
        out["email"] = self.email(user) or ""
        return out

    def email(self, user: Mapping[str, Any]) -> str | None:
        """The employee's e-mail: the mapped attribute, else mail, else a non-guest user principal name."""
        for _, get in self._email_sources:
            value = get(user)
            if type(value) is str and _usable(value := value.strip()):
                return value.lower()
        return None

    def skip_reason(self, user: Mapping[str, Any]) -> str | None:
        """Why the user cannot become an employee (no usable e-mail address), or None."""
        if self.email(user) is not None:
            return None
        complaints = [_complaint(label, get(user)) for label, get in self._email_sources]
        joined = complaints[0] if len(complaints) == 1 else ", ".join(complaints[:-1]) + " and " + complaints[-1]
        return f"no usable e-mail address: {joined}"


def _usable(address: str) -> bool:
    return (
        bool(address)
        and len(address) <= EMAIL_LIMIT
        and not ("#" in address and "#EXT#" in address.upper())
        and _ADDRESS.fullmatch(address) is not None
    )


def _label(path: str) -> str:
    return "the user principal name" if path == "userPrincipalName" else path


def _complaint(label: str, value: Any) -> str:
    text = as_text(value)
    if not text:
        return f"{label} is empty"
    if "#EXT#" in text.upper():
        return f"{label} is a guest (#EXT#) name"
    if len(text) > EMAIL_LIMIT:
        return f"{label} is longer than {EMAIL_LIMIT} characters"
    return f"{label} {text!r} is not an e-mail address"


_DEFAULT = Mapper({"email": "mail"})


def user_email(user: Mapping[str, Any]) -> str | None:
    """The e-mail address of a user under the default mapping: mail, else a non-guest user principal name."""
    return _DEFAULT.email(user)


def skip_reason(user: Mapping[str, Any]) -> str | None:
    """Why a user has no usable e-mail address under the default mapping, or None."""
    return _DEFAULT.skip_reason(user)
