"""The handler file Outlook runs on compose events, served as one self-contained script.

Classic Outlook on Windows loads only the JavaScript file named in the manifest's override, in a runtime with no
DOM and no module loader: so the file carries its settings (a one-line prefix with absolute URLs), the vendored
MSAL.js browser bundle and Sigsync's handler, in that order. The HTML runtime page loads the same file.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from config import BASE_DIR, Config
from portal.addin.manifest import handler_settings

MSAL_VERSION = "5.30.0"
MSAL_BUNDLE = BASE_DIR / "static" / "vendor" / f"msal-browser-{MSAL_VERSION}.min.js"
HANDLER = BASE_DIR / "static" / "addin" / "launchevent.js"
ALLOWED_JSON_NAME = "microsoft-officeaddins-allowed.json"


@lru_cache(maxsize=4)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def settings_line(config: Config) -> str:
    """``var SIGSYNC_ADDIN = {...};``, safe to place in a script (no ``</`` can end it early)."""
    payload = json.dumps(handler_settings(config), sort_keys=True).replace("</", "<\\/")
    return f"var SIGSYNC_ADDIN = {payload};\n"


def launchevent_source(config: Config) -> str:
    """The whole served handler: settings, MSAL.js, handler."""
    return settings_line(config) + _read(MSAL_BUNDLE) + "\n" + _read(HANDLER)


def etag(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def allowed_json(config: Config) -> dict[str, list[str]]:
    """/.well-known/microsoft-officeaddins-allowed.json: the handler files allowed SSO and CORS from this origin."""
    return {"allowed": [f"{config.public_url.rstrip('/')}/addin/launchevent.js"]}
