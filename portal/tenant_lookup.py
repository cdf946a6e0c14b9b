"""Look things up in the connected tenant for the settings pages: users and groups by name, one user in full.

Every function here talks to Microsoft Graph, so it takes the ``Config``, the ``Engine`` (the Graph
client saves its token cache in its own short transaction) and the connection row, and never runs
inside a caller's database transaction. Failures come out as ``LookupFailed`` carrying words an
admin can act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy.engine import Engine

from config import Config
from portal.connections import graph_for
from portal.errors import SigsyncError
from portal.m365.errors import GraphError, M365Error
from portal.m365.graph import GraphClient
from portal.models import Connection
from portal.preview import user_params
from portal.sync.config import SyncConfig

SEARCH_LIMIT = 10  # suggestions shown under a search box
MIN_SEARCH = 1  # characters before a search is sent
MAX_SEARCH = 100
_NOT_FOUND = 404
_IN_LIMIT = 15  # Graph allows at most 15 values in an `in (...)` filter
_USER_FIELDS = ("id", "displayName", "mail", "userPrincipalName", "jobTitle", "department")


class LookupFailed(SigsyncError):
    """Microsoft 365 could not answer a lookup; the message says what to do."""


@dataclass(frozen=True)
class TenantUser:
    """A user of the tenant as a search suggestion shows it."""

    id: str
    display_name: str
    mail: str
    user_principal_name: str
    job_title: str = ""
    department: str = ""

    @property
    def address(self) -> str:
        return self.mail or self.user_principal_name


@dataclass(frozen=True)
class TenantGroup:
    """A group of the tenant as the group picker shows it."""

    id: str
    display_name: str
    mail: str = ""
    description: str = ""


def odata_text(value: str) -> str:
    """A value inside single quotes in an OData filter (quotes doubled, as OData escapes them)."""
    return value.replace("'", "''")


def clean_search(text: str | None) -> str:
    """The search text trimmed and cut to a sane length ("" when there is nothing to search)."""
    return (text or "").strip()[:MAX_SEARCH]


def search_users(config: Config, engine: Engine, connection: Connection, text: str,
                 limit: int = SEARCH_LIMIT) -> list[TenantUser]:
    """Users whose name or address starts with ``text`` (Graph's startswith on displayName, mail, UPN)."""
    text = clean_search(text)
    if len(text) < MIN_SEARCH:
        return []
    quoted = odata_text(text)
    where = " or ".join(f"startswith({name},'{quoted}')" for name in ("displayName", "mail", "userPrincipalName"))
    params = {"$filter": where, "$select": ",".join(_USER_FIELDS), "$top": str(limit)}
    with open_graph(config, engine, connection) as graph:
        page = graph.get("users", params)
    return [_user(item) for item in page.get("value", [])[:limit]]


def search_groups(config: Config, engine: Engine, connection: Connection, text: str,
                  limit: int = SEARCH_LIMIT) -> list[TenantGroup]:
    """Groups whose name starts with ``text`` (``$filter=startswith(displayName,…)``, no advanced query needed)."""
    text = clean_search(text)
    if len(text) < MIN_SEARCH:
        return []
    params = {"$filter": f"startswith(displayName,'{odata_text(text)}')",
              "$select": "id,displayName,mail,description", "$top": str(limit)}
    with open_graph(config, engine, connection) as graph:
        page = graph.get("groups", params)
    return [_group(item) for item in page.get("value", [])[:limit]]


def group_names(config: Config, engine: Engine, connection: Connection, ids: Iterable[str]) -> dict[str, str]:
    """Display names of groups by lower-case id; a group that no longer exists is left out."""
    if not any(i and i.strip() for i in ids):
        return {}
    with open_graph(config, engine, connection) as graph:
        return names_of_groups(graph, ids)


def names_of_groups(graph: GraphClient, ids: Iterable[str]) -> dict[str, str]:
    """``group_names`` through an open client (``$filter=id in (...)``, 15 ids a request)."""
    wanted = sorted({i.strip().lower() for i in ids if i and i.strip()})
    names: dict[str, str] = {}
    for start in range(0, len(wanted), _IN_LIMIT):
        listed = ",".join(f"'{odata_text(i)}'" for i in wanted[start:start + _IN_LIMIT])
        for item in graph.iter_values("groups", {"$filter": f"id in ({listed})", "$select": "id,displayName"}):
            names[str(item["id"]).lower()] = str(item.get("displayName") or "")
    return names


def read_user(config: Config, engine: Engine, connection: Connection, user_id: str,
              cfg: SyncConfig) -> dict[str, Any]:
    """One user with every property the configuration reads (and the manager's, when it reads those)."""
    with open_graph(config, engine, connection) as graph:
        return fetch_user(graph, user_id, cfg)


def fetch_user(graph: GraphClient, user_id: str, cfg: SyncConfig) -> dict[str, Any]:
    """One user read through an open client with the configuration's ``$select`` (and manager ``$expand``)."""
    params = user_params(cfg)
    return graph.get(f"users/{_segment(user_id)}", params)


@contextmanager
def open_graph(config: Config, engine: Engine, connection: Connection) -> Iterator[GraphClient]:
    """A Graph client for the connection whose Microsoft failures come out as ``LookupFailed``."""
    try:
        with graph_for(config, engine, connection, max_retries=2) as graph:
            yield graph
    except GraphError as exc:
        if exc.status == _NOT_FOUND:
            raise LookupFailed("Microsoft 365 has no such user or group (any more). Search for it again.") from exc
        raise LookupFailed(exc.admin_message) from exc
    except M365Error as exc:
        raise LookupFailed(exc.admin_message) from exc


def _segment(user_id: str) -> str:
    return quote(user_id.strip(), safe="@")


def _user(item: dict[str, Any]) -> TenantUser:
    return TenantUser(
        id=str(item.get("id") or ""),
        display_name=str(item.get("displayName") or ""),
        mail=str(item.get("mail") or ""),
        user_principal_name=str(item.get("userPrincipalName") or ""),
        job_title=str(item.get("jobTitle") or ""),
        department=str(item.get("department") or ""),
    )


def _group(item: dict[str, Any]) -> TenantGroup:
    return TenantGroup(
        id=str(item.get("id") or "").lower(),
        display_name=str(item.get("displayName") or ""),
        mail=str(item.get("mail") or ""),
        description=str(item.get("description") or ""),
    )
