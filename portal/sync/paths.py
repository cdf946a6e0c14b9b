"""Graph attribute paths such as ``mail``, ``businessPhones[0]`` or ``manager.mail``: parse, check, compile."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

Getter = Callable[[Mapping[str, Any]], Any]

_SEGMENT = re.compile(r"([A-Za-z][A-Za-z0-9_]{0,99})(?:\[(\d{1,3})\])?")

# Text and scalar properties of the Graph user that /users returns on $select.
SCALAR_PROPERTIES = frozenset(
    """
    accountEnabled ageGroup city companyName consentProvidedForMinor country createdDateTime creationType
    deletedDateTime department displayName employeeHireDate employeeId employeeLeaveDateTime employeeType
    externalUserState externalUserStateChangeDateTime faxNumber givenName id isResourceAccount jobTitle
    lastPasswordChangeDateTime legalAgeGroupClassification mail mailNickname mobilePhone officeLocation
    onPremisesDistinguishedName onPremisesDomainName onPremisesImmutableId onPremisesLastSyncDateTime
    onPremisesSamAccountName onPremisesSecurityIdentifier onPremisesSyncEnabled onPremisesUserPrincipalName
    passwordPolicies postalCode preferredDataLocation preferredLanguage securityIdentifier showInAddressList
    signInSessionsValidFromDateTime state streetAddress surname usageLocation userPrincipalName userType
    """.split()
)
# Collections: only one entry can be transferred, so a path must pick it with an index.
COLLECTION_PROPERTIES = frozenset(
    """
    assignedLicenses assignedPlans businessPhones identities imAddresses licenseAssignmentStates
    onPremisesProvisioningErrors otherMails provisionedPlans proxyAddresses
    """.split()
)
# Objects: a path must name one of their attributes.
COMPLEX_PROPERTIES = frozenset("employeeOrgData onPremisesExtensionAttributes passwordProfile signInActivity".split())
# Graph answers 501 when these are $select-ed on a list of users, which would break every run.
NOT_LISTABLE = frozenset(
    "aboutMe birthday hireDate interests mailboxSettings mySite pastProjects preferredName responsibilities "
    "schools skills".split()
)
_EXTENSION = re.compile(r"extension_[0-9a-fA-F]{32}_[A-Za-z0-9_]+")
_KNOWN = SCALAR_PROPERTIES | COLLECTION_PROPERTIES | COMPLEX_PROPERTIES


def parse_path(path: str) -> tuple[str | int, ...]:
    """Split ``a.b[1]`` into ``("a", "b", 1)``; raise ValueError saying what is wrong with the syntax."""
    if not isinstance(path, str) or not path:
        raise ValueError("an attribute path must be a non-empty text")
    steps: list[str | int] = []
    for part in path.split("."):
        found = _SEGMENT.fullmatch(part)
        if found is None:
            raise ValueError(f"{path!r} is not an attribute path (write e.g. mail, businessPhones[0], manager.mail)")
        steps.append(found.group(1))
        if found.group(2) is not None:
            steps.append(int(found.group(2)))
    return tuple(steps)


def top_level(path: str) -> str:
    """The user property a path starts from, the one Graph must be asked for in $select."""
    return path.split(".", 1)[0].split("[", 1)[0]


def attribute_problem(path: str) -> str | None:
    """Why a path cannot be read from a Graph user (unknown property, list without index, …), or None."""
    try:
        steps = parse_path(path)
    except ValueError as error:
        return str(error)
    if steps[0] == "manager":
        if len(steps) < 2 or not isinstance(steps[1], str):
            return "manager is a person; name one of their attributes, e.g. manager.mail or manager.displayName"
        if steps[1] == "manager":
            return "only the direct manager can be read (Graph expands one level for a list of users)"
        inner = path.split(".", 1)[1]
        return _property_problem(inner, parse_path(inner))
    return _property_problem(path, steps)


def _property_problem(path: str, steps: tuple[str | int, ...]) -> str | None:
    name = steps[0]
    assert isinstance(name, str)
    rest = steps[1:]
    if _EXTENSION.fullmatch(name):
        return None  # directory extensions are tenant-defined: their shape is unknown here
    if name in NOT_LISTABLE:
        return f"{name} cannot be read for a list of users (Microsoft Graph refuses it with 501 Not Implemented)"
    if name not in _KNOWN:
        close = difflib.get_close_matches(name, _KNOWN, n=1) or [n for n in _KNOWN if n.lower() == name.lower()]
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"{name} is not a Microsoft 365 user attribute{hint}"
    if name in SCALAR_PROPERTIES and rest:
        return f"{name} is a single value; remove {path[len(name) :]!r}"
    if name in COLLECTION_PROPERTIES and (not rest or not isinstance(rest[0], int)):
        return f"{name} is a list; pick one entry, e.g. {name}[0]"
    if name in COMPLEX_PROPERTIES and (not rest or not isinstance(rest[0], str)):
        example = "onPremisesExtensionAttributes.extensionAttribute1" if name.startswith("onPrem") else f"{name}.…"
        return f"{name} is an object; name one of its attributes, e.g. {example}"
    return None


@lru_cache(maxsize=1024)
def compile_path(path: str) -> Getter:
    """A fast function ``user -> value`` for a path; anything missing along the way gives None."""
    steps = parse_path(path)
    # Specialised closures for the common shapes: these run once per user per field.
    if len(steps) == 1:
        (key,) = steps

        def get_key(user: Mapping[str, Any]) -> Any:
            return user.get(key)

        return get_key
    if len(steps) == 2 and isinstance(steps[1], int):
        key, index = steps

        def get_entry(user: Mapping[str, Any]) -> Any:
            value = user.get(key)
            if isinstance(value, list | tuple) and index < len(value):
                return value[index]
            return None

        return get_entry
    if len(steps) == 2:
        key, inner = steps

        def get_inner(user: Mapping[str, Any]) -> Any:
            value = user.get(key)
            return value.get(inner) if isinstance(value, Mapping) else None

        return get_inner

    def get_deep(user: Mapping[str, Any]) -> Any:
        value: Any = user
        for step in steps:
            if isinstance(step, int):
                if not isinstance(value, list | tuple) or step >= len(value):
                    return None
                value = value[step]
            elif isinstance(value, Mapping):
                value = value.get(step)
            else:
                return None
        return value

    return get_deep
