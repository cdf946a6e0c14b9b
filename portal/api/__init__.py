"""Sigsync's JSON API under /api/v1: signatures.py (organisation API tokens) and me.py (the Outlook add-in,
Entra ID access tokens) share one blueprint and one OpenAPI document."""

from portal.api import me, signatures

me.register(signatures.bp, signatures.OPENAPI)
