"""Organisation API tokens: created with a name, shown once, stored as SHA-256, revoked, last use kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import Session, select

from portal.models import ApiToken, utcnow

TOKEN_PREFIX = "sgs_"
# Writing the last-use time on every request would make each API call a write: once a minute is enough.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, organization_id: int, name: str) -> tuple[ApiToken, str]:
    """A new token: (its row, the token itself — shown to the admin once, never stored)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(organization_id=organization_id, name=name.strip()[:200] or "API token", token_hash=_hash(token),
                   prefix=token[:10])
    session.add(row)
    session.flush()
    return row, token


def authenticate(session: Session, token: str) -> ApiToken | None:
    """The live token row for a presented token, its last use noted; None for unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _hash(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    last = row.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    if last is None or now - last >= LAST_USED_GRANULARITY:
        row.last_used_at = now
        session.add(row)
        session.commit()
    return row


def list_tokens(session: Session, organization_id: int) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).where(ApiToken.organization_id == organization_id)
                             .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())).all())


def revoke(session: Session, row: ApiToken) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
