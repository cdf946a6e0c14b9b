"""When to wait and for how long before asking Microsoft again."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Statuses worth retrying: Graph's throttling (429) and its documented transient failures.
RETRY_STATUSES = frozenset({429, 503, 504})


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: integer, decimal (Graph's 2.128) or HTTP-date; None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until(text, now)
        if seconds is None:
            return None
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _seconds_until(http_date: str, now: datetime | None) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; be lenient with ones that omit it
        when = when.replace(tzinfo=UTC)
    return (when - (now or datetime.now(UTC))).total_seconds()


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how long the Graph client keeps trying one request."""

    max_retries: int = 6  # retries after the first attempt
    base_delay: float = 1.0  # first backoff when Graph gives no Retry-After
    max_delay: float = 60.0  # cap on one computed backoff wait
    budget: float = 300.0  # total seconds one request may spend waiting before we give up

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Capped exponential backoff with equal jitter, for retry 1, 2, 3, ..."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, retry_number - 1))
        # Equal jitter: at least half the ceiling (never hammering), spread so workers don't sync up.
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)

    def delay(self, retry_number: int, retry_after: float | None, rng: random.Random | None = None) -> float:
        """The wait before a retry: Graph's Retry-After when given (never shorter), else backoff."""
        if retry_after is not None:
            return retry_after
        return self.backoff(retry_number, rng)
