"""Failed sign-ins slow down password guessing, per account and per client address.

The failures are rows in the database, not process memory, so the limit holds across every
portal worker on every machine. A correct password is refused too while a limit holds:
otherwise the throttle would only slow a guesser down until the right guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, select

from portal.models import SigninAttempt, utcnow

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5  # failures for one address within WINDOW
CLIENT_LIMIT = 20  # failures from one client address within WINDOW, whatever the account
KEEP = timedelta(days=1)


@dataclass(frozen=True)
class Refusal:
    """Sign-in is refused for now; ``minutes`` until it is allowed again."""

    minutes: int

    @property
    def message(self) -> str:
        unit = "minute" if self.minutes == 1 else "minutes"
        return (f"Too many failed sign-ins. For your security, signing in is paused for {self.minutes} {unit}; "
                "try again then, or ask another admin to reset your password.")


def check(session: Session, email: str, client: str, now: datetime | None = None) -> Refusal | None:
    """A Refusal while this account or this client has failed too often recently, else None."""
    now = now or utcnow()
    since = now - WINDOW
    waits = []
    for column, value, limit in ((SigninAttempt.email, _key(email), ACCOUNT_LIMIT),
                                 (SigninAttempt.client, client, CLIENT_LIMIT)):
        times = session.exec(
            select(SigninAttempt.attempted_at).where(column == value, SigninAttempt.attempted_at > since)
            .order_by(SigninAttempt.attempted_at.desc()).limit(limit)
        ).all()
        if len(times) >= limit:
            # Allowed again once the oldest of the last `limit` failures leaves the window.
            waits.append(_aware(times[-1]) + WINDOW - now)
    if not waits:
        return None
    return Refusal(minutes=max(1, math.ceil(max(waits).total_seconds() / 60)))


def record_failure(session: Session, email: str, client: str) -> None:
    """Remember one failed sign-in (and forget those old enough not to matter)."""
    now = utcnow()
    session.exec(delete(SigninAttempt).where(SigninAttempt.attempted_at < now - KEEP))
    session.add(SigninAttempt(email=_key(email), client=client[:64], attempted_at=now))
    session.flush()


def clear_account(session: Session, email: str) -> None:
    """Forget an account's failures after it signed in (the client's failures still count)."""
    session.exec(delete(SigninAttempt).where(SigninAttempt.email == _key(email)))


def failures(session: Session, email: str) -> int:
    """How many recent failures an account has (for tests and operators)."""
    return session.exec(
        select(func.count()).select_from(SigninAttempt)
        .where(SigninAttempt.email == _key(email), SigninAttempt.attempted_at > utcnow() - WINDOW)
    ).one()


def _key(email: str) -> str:
    return email.strip().lower()[:320]


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)
