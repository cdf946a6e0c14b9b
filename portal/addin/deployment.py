"""What an admin needs to deploy the add-in: is the installation reachable the way Office requires, is the
organisation's user sync active (the API knows people only through it), and the admin-consent link."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from sqlmodel import Session, select

from config import Config
from portal.models import Connection

LOCAL_HOSTS = {"localhost", "localhost.localdomain"}


@dataclass(frozen=True)
class Check:
    """One line of the page's checklist: ok or not, in the admin's words."""

    ok: bool
    title: str
    detail: str


def public_url_checks(config: Config) -> list[Check]:
    """Office loads add-ins only from HTTPS addresses that every Outlook can reach."""
    parts = urlsplit(config.public_url)
    host = parts.hostname or ""
    checks = []
    if parts.scheme == "https":
        checks.append(Check(True, "The public URL uses HTTPS", f"{config.public_url} is an https:// address."))
    else:
        checks.append(Check(False, "The public URL is not HTTPS: Outlook will refuse the add-in",
                            f"{config.public_url} is plain HTTP. Office loads add-ins only over HTTPS: serve the "
                            "portal behind TLS and set SIGSYNC_PUBLIC_URL to its https:// address, then download the "
                            "manifest again."))
    if _is_local(host):
        checks.append(Check(False, "The public URL points at this computer",
                            f"{host} is reachable only here; your colleagues' Outlook cannot load the add-in from it. "
                            "Set SIGSYNC_PUBLIC_URL to the address people reach the portal at."))
    if not config.ms_client_id:
        checks.append(Check(False, "No Entra ID app registration is configured",
                            "MS_CLIENT_ID is empty: the add-in cannot ask Microsoft 365 who is writing."))
    return checks


def _is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def live_connection(session: Session, organization_id: int) -> Connection | None:
    """The organisation's Microsoft 365 connection that is not disconnected (None when there is none)."""
    return session.exec(select(Connection).where(Connection.organization_id == organization_id,
                                                 Connection.state != "disconnected")
                        .order_by(Connection.id.desc())).first()


def sync_check(connection: Connection | None) -> Check:
    """The add-in identifies people by their Microsoft 365 object id, which only an active user sync links."""
    if connection is None:
        return Check(False, "Microsoft 365 is not connected",
                     "The add-in works only while the user sync is active: connect Microsoft 365 first.")
    if connection.state == "active":
        return Check(True, "The user sync is active",
                     f"Connected to tenant {connection.tenant_id}; the add-in finds people by their Microsoft 365 id.")
    state = {"paused": "paused", "needs_consent": "waiting for consent"}.get(connection.state, connection.state)
    return Check(False, f"The user sync is {state}",
                 "While the user sync is not active the add-in inserts no signature (the API answers 409). "
                 "Resume it, or connect again, on the Sync page.")


def admin_consent_url(config: Config, tenant_id: str) -> str | None:
    """Entra ID's admin-consent page for Sigsync's app in the organisation's tenant (grants the API scope for all)."""
    if not config.ms_client_id or not tenant_id:
        return None
    query = urlencode({"client_id": config.ms_client_id})
    return f"{config.ms_authority_host.rstrip('/')}/{tenant_id}/adminconsent?{query}"
