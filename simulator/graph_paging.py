"""Opaque state tokens ($skiptoken, $deltatoken) and the absolute links that carry them.

A token is base64url(mac + zlib(json)): clients can't read or forge it, and a token from another
simulator process (another secret) is simply unknown, as with Graph.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import zlib
from urllib.parse import quote

_MAC_BYTES = 10


class TokenCodec:
    """Seals small dicts into URL-safe opaque strings and opens them again."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def seal(self, payload: dict) -> str:
        """The opaque token for payload."""
        raw = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 9)
        mac = hmac.new(self._secret, raw, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(mac + raw).rstrip(b"=").decode("ascii")

    def open(self, token: str) -> dict | None:
        """The payload of a token this codec sealed, else None."""
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        mac, raw = blob[:_MAC_BYTES], blob[_MAC_BYTES:]
        if not hmac.compare_digest(mac, hmac.new(self._secret, raw, hashlib.sha256).digest()[:_MAC_BYTES]):
            return None
        try:
            payload = json.loads(zlib.decompress(raw))
        except (zlib.error, ValueError):
            return None
        return payload if isinstance(payload, dict) else None


def without_param(query_string: str, name: str) -> str:
    """The raw query string minus one parameter (case-insensitive name), other parameters untouched."""
    kept = [part for part in query_string.split("&")
            if part and part.split("=", 1)[0].lower() not in (name.lower(), quote(name).lower())]
    return "&".join(kept)


def link(base: str, path: str, query_string: str, name: str, token: str) -> str:
    """An absolute link: the original request with `name=token` replacing any previous one."""
    rest = without_param(query_string, name)
    joined = f"{rest}&" if rest else ""
    return f"{base}/v1.0{path}?{joined}{name}={token}"
