"""Retry-After in every form Graph sends it, and the backoff used when it sends none."""

import random
from datetime import UTC, datetime

import pytest

from portal.m365.retry import RetryPolicy, parse_retry_after

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("10", 10.0),  # current Learn example
        ("2.128", 2.128),  # the 2021 throttling doc's decimal, which breaks int() parsers
        (" 7 ", 7.0),
        ("0", 0.0),
        ("-3", 0.0),  # never a negative wait
        ("Sat, 01 Mar 2025 12:00:30 GMT", 30.0),  # HTTP-date
        ("Sat, 01 Mar 2025 11:59:00 GMT", 0.0),  # a date in the past: retry now
        ("Sat, 01 Mar 2025 12:01:00", 60.0),  # lenient: a date without a zone is GMT
    ],
)
def test_retry_after_is_parsed_in_every_form(header, seconds):
    assert parse_retry_after(header, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("header", [None, "", "soon", "nan", "inf", "Someday, 99 Foo 2025"])
def test_unusable_retry_after_means_backoff(header):
    assert parse_retry_after(header, now=NOW) is None


def test_backoff_grows_is_jittered_and_capped():
    policy = RetryPolicy(base_delay=1.0, max_delay=60.0)
    rng = random.Random(7)
    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0)]:
        waits = [policy.backoff(retry, rng) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1  # jittered, so many clients don't retry in lockstep


def test_retry_after_wins_over_backoff():
    assert RetryPolicy().delay(1, 12.5) == 12.5
    assert RetryPolicy().delay(1, 0.0) == 0.0
    assert 0.5 <= RetryPolicy().delay(1, None) <= 1.0
