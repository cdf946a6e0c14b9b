"""What the mapping and rules editors share: the attribute suggestions and saving one configuration section."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from portal import configuration, web
from portal.models import Connection
from portal.sync.paths import SCALAR_PROPERTIES

# Suggestions for attribute inputs (a <datalist>): any valid path may still be typed, e.g. a tenant's
# directory extension extension_<app id>_<name>.
KNOWN_ATTRIBUTES: tuple[str, ...] = (
    *sorted(SCALAR_PROPERTIES, key=str.casefold),
    "businessPhones[0]", "otherMails[0]", "proxyAddresses[0]", "imAddresses[0]",
    "employeeOrgData.costCenter", "employeeOrgData.division",
    *(f"onPremisesExtensionAttributes.extensionAttribute{n}" for n in range(1, 16)),
    "manager.displayName", "manager.mail", "manager.jobTitle", "manager.mobilePhone",
    "manager.businessPhones[0]", "photo",
)


def save_section(connection: Connection, section: str, data: Any) -> dict[str, str]:
    """Save one section of the connection's configuration; every problem by key path (empty when saved)."""
    session = web.db_session()
    problems = configuration.update_configuration(session, connection, section, data, actor=web.actor())
    if problems:
        session.rollback()
        return dict(problems)
    session.commit()
    return {}


def problems_by_path(problems: Iterable[tuple[str, str]], section: str) -> dict[str, str]:
    """``ConfigInvalid.problems`` of one section as {key path: why} (several for one path joined)."""
    return {path: why for path, why in configuration.problems_by_path(list(problems)).items()
            if path == section or path.startswith((f"{section}.", f"{section}["))}
