"""Rendered previews kept briefly in Redis, so a sandboxed <iframe> can load them from their own URL.

The portal's pages forbid inline styles (CSP), and a signature is made of them: the preview is a
separate document with a policy of its own (inline styles and images only, no scripts, sandboxed),
framed by the editor. Redis holds it for ``TTL_SECONDS``, keyed by the organisation and a random id.
"""

from __future__ import annotations

import secrets

from redis import Redis

TTL_SECONDS = 600
# img-src 'self' too: employee photos are served by the portal itself (/photos/…), over http in development.
FRAME_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; frame-ancestors 'self'; "
             "base-uri 'none'; form-action 'none'; sandbox")


def _key(organization_id: int, ident: str) -> str:
    return f"sigsync:signature-preview:{organization_id}:{ident}"


def store(redis_url: str, organization_id: int, html: str) -> str:
    ident = secrets.token_urlsafe(16)
    Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2).set(
        _key(organization_id, ident), html.encode(), ex=TTL_SECONDS)
    return ident


def load(redis_url: str, organization_id: int, ident: str) -> str | None:
    value = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2).get(_key(organization_id, ident))
    return value.decode() if value is not None else None


def document(html: str) -> str:
    """The framed document: the signature on white, as a mail client shows it."""
    return ('<!doctype html><html><head><meta charset="utf-8"><title>Signature preview</title></head>'
            f'<body style="margin:12px;background:#ffffff;color:#000000;font-family:Arial,sans-serif">{html}'
            "</body></html>")
