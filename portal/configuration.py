"""Changing a connection's sync configuration one section at a time, with every problem by field.

The portal's Settings, Mapping and Import rules pages and the CLI's ``m365 config --import`` store
through ``store_config`` here: validated by ``portal.sync.config.parse_config`` (which names the key
path of every problem), saved in its canonical form, and fingerprinted with ``config_hash`` so that a
change that alters a run's outcome makes the next run read every user again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Connection as DBConnection
from sqlmodel import Session

from portal import audit
from portal.errors import InvalidValue, NotFound
from portal.models import Connection, Organization
from portal.sync.config import ConfigInvalid, SyncConfig, config_hash, export_config, parse_config

SECTIONS = ("settings", "mapping", "import_rules")
_AUDIT = {"settings": audit.Action.SETTINGS_CHANGED, "mapping": audit.Action.MAPPING_CHANGED,
          "import_rules": audit.Action.RULES_CHANGED}


def update_configuration(session: Session, connection: Connection, section: str, data: Any, *,
                         actor: str | None = None) -> dict[str, str]:
    """Replace one section ("settings", "mapping" or "import_rules") of the connection's configuration.

    Returns the problems by key path (``settings.sync_time``, ``mapping.job_title``,
    ``import_rules[2].conditions[0].operator``), several for one path joined by "; " — empty when the
    section was saved. Nothing is saved when there is a problem. With ``actor``, a change is written to
    the audit log in the same transaction.
    """
    if section not in SECTIONS:
        raise InvalidValue(f"Unknown configuration section {section!r}: use settings, mapping or import_rules.")
    row = session.get(Connection, connection.id, with_for_update=True, populate_existing=True)
    if row is None or row.organization_id != connection.organization_id:
        raise NotFound("This Microsoft 365 connection does not exist any more.")
    org = session.get(Organization, row.organization_id)
    document = {"settings": row.settings, "mapping": row.mapping, "import_rules": row.import_rules,
                section: data}
    try:
        cfg = parse_config(document, default_timezone=org.timezone)
    except ConfigInvalid as exc:
        return problems_by_path(exc.problems)
    before = export_config(parse_config({"settings": row.settings, "mapping": row.mapping,
                                         "import_rules": row.import_rules}, default_timezone=org.timezone))
    after = export_config(cfg)
    if before[section] == after[section]:
        return {}
    store_config(session.connection(), row.id, cfg)
    session.refresh(row)
    if actor is not None:
        audit.record(session, org.id, actor, _AUDIT[section], _summary(section, before[section], after[section]),
                     {"changed": _changed(before[section], after[section])})
    return {}


def store_config(conn: DBConnection, connection_id: int, cfg: SyncConfig) -> None:
    """Save a validated configuration in its canonical form with its fingerprint (the one write path)."""
    document = export_config(cfg)
    conn.execute(update(Connection).where(Connection.id == connection_id).values(
        settings=document["settings"], mapping=document["mapping"], import_rules=document["import_rules"],
        config_hash=config_hash(cfg)))


def problems_by_path(problems: list[tuple[str, str]]) -> dict[str, str]:
    """``ConfigInvalid.problems`` as {key path: why}, several problems of one path joined by "; "."""
    found: dict[str, str] = {}
    for path, why in problems:
        found[path] = f"{found[path]}; {why}" if path in found else why
    return found


def _changed(before: Any, after: Any) -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return []


def _summary(section: str, before: Any, after: Any) -> str:
    if section == "import_rules":
        names = ", ".join(rule.get("name", "") for rule in after) or "none (everyone is imported)"
        return f"Changed the import rules: {len(after)} rule(s): {names}."
    what = "sync settings" if section == "settings" else "data mapping"
    return f"Changed the {what}: {', '.join(_changed(before, after))}."
