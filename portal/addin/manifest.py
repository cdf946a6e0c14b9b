"""The add-in's XML manifest, generated for this installation (its public URL, its Entra ID app).

Outlook on Mac and mobile accept only the XML ("add-in only") manifest, so Sigsync serves that one. Its id is
derived from the installation's public URL and client id (uuid5): the same installation always downloads the
same add-in, no row to store, and SECRET_KEY can be rotated without making admins deploy a "new" add-in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from config import Config
from portal.addin.identity import SCOPE_NAME, api_scope, application_id_uri

# Outlook updates a deployed add-in only when this changes: raise it with every change to the manifest.
VERSION = "1.0.0.0"
# A fixed namespace for the add-in ids Sigsync derives (uuid5 of the installation's URL and client id).
ID_NAMESPACE = uuid.UUID("0b8e4f8a-5a4e-4d31-9a43-6a1f2b7d9c10")
# Names the manifest, the handler and its notification share.
MESSAGE_HANDLER = "onNewMessageCompose"
APPOINTMENT_HANDLER = "onNewAppointmentOrganizer"
MESSAGE_BUTTON = "SigsyncMessageButton"
APPOINTMENT_BUTTON = "SigsyncAppointmentButton"
ICON_SIZES = (16, 32, 64, 80, 128)


@dataclass(frozen=True)
class Manifest:
    """What templates/addin/manifest.xml is filled in with."""

    id: str
    version: str
    display_name: str
    origin: str
    client_id: str
    resource: str
    scope_name: str
    urls: dict[str, str]
    message_handler: str = MESSAGE_HANDLER
    appointment_handler: str = APPOINTMENT_HANDLER
    message_button: str = MESSAGE_BUTTON
    appointment_button: str = APPOINTMENT_BUTTON


def addin_id(config: Config) -> str:
    """The installation's add-in id: stable for one public URL and client id."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{config.public_url.rstrip('/')}|{config.ms_client_id}"))


def urls(config: Config) -> dict[str, str]:
    """Every URL the manifest names, all absolute under SIGSYNC_PUBLIC_URL."""
    base = config.public_url.rstrip("/")
    found = {
        "runtime": f"{base}/addin/commands.html",
        "runtime_js": f"{base}/addin/launchevent.js",
        "taskpane": f"{base}/addin/taskpane.html",
        "support": f"{base}/",
        "manifest": f"{base}/addin/manifest.xml",
    }
    for size in ICON_SIZES:
        found[f"icon{size}"] = f"{base}/static/addin/icon-{size}.png"
    return found


def origin(public_url: str) -> str:
    """scheme://host[:port] of the public URL (what AppDomain and the CSP speak of)."""
    parts = urlsplit(public_url)
    return f"{parts.scheme}://{parts.netloc}"


def build(config: Config) -> Manifest:
    return Manifest(
        id=addin_id(config),
        version=VERSION,
        display_name="Sigsync signatures",
        origin=origin(config.public_url),
        client_id=config.ms_client_id,
        resource=application_id_uri(config.ms_client_id) if config.ms_client_id else "",
        scope_name=SCOPE_NAME,
        urls=urls(config),
    )


def handler_settings(config: Config) -> dict[str, object]:
    """What the handler and the task pane are told at serve time (they may use absolute URLs only)."""
    return {
        "apiUrl": f"{config.public_url.rstrip('/')}/api/v1/me/signature",
        "clientId": config.ms_client_id,
        "authority": f"{config.ms_authority_host.rstrip('/')}/organizations",
        "scope": api_scope(config.ms_client_id) if config.ms_client_id else "",
        "messageButton": MESSAGE_BUTTON,
        "appointmentButton": APPOINTMENT_BUTTON,
        # Outlook gives an event handler a few minutes at most; the mail must not wait that long for a signature.
        "timeoutMs": 10_000,
    }
