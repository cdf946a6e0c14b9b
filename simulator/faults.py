"""Fault injection: throttling, outages, latency, dropped connections, and delta-token trouble.

A fault is a rule: what happens (kind), to which requests (surface, path prefix, method), and how
often (the next `count` matching requests, a `rate` between 0 and 1, after skipping `after`).
Rates use a seeded generator so a test run is repeatable.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from dataclasses import asdict, dataclass, field

KINDS = ("throttle", "unavailable", "latency", "drop", "delta_reset")


@dataclass
class Fault:
    """One injected fault rule."""

    kind: str  # throttle (429), unavailable (503/504), latency, drop (close the socket), delta_reset (410)
    status: int | None = None  # 429 for throttle; 503 (default) or 504 for unavailable
    retry_after: float | None = None  # seconds for Retry-After; None sends none (only allowed for 503/504)
    decimal: bool = False  # Retry-After as "2.128" instead of an integer (the 2021 docs' sample)
    latency_ms: int = 0
    count: int | None = None  # affect only the next N matching requests
    rate: float | None = None  # affect this share of matching requests
    after: int = 0  # let this many matching requests through first ("drop after N requests")
    path_prefix: str | None = None  # e.g. "/v1.0/users/delta"; None: every path of the surface
    method: str | None = None
    surface: str = "graph"
    id: int = 0
    hits: int = 0  # how many requests it affected so far
    seen: int = field(default=0, repr=False)

    def retry_after_header(self) -> str | None:
        """The Retry-After value as sent on the wire."""
        if self.retry_after is None:
            return None
        if self.decimal:
            return f"{self.retry_after:.3f}"
        return str(max(0, math.ceil(self.retry_after)))

    def to_dict(self) -> dict:
        """A JSON-friendly view (the control API lists faults with it)."""
        data = asdict(self)
        data.pop("seen")
        return data


@dataclass(frozen=True)
class Decision:
    """What to do with one request: wait, then maybe fail or drop it."""

    latency_ms: int = 0
    failure: Fault | None = None  # throttle/unavailable rule to answer with
    drop: bool = False


class Faults:
    """Thread-safe set of active fault rules plus delta-token switches."""

    def __init__(self, seed: int = 1) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._ids = itertools.count(1)
        self._random = random.Random(seed)
        self.delta_expired_before = 0.0  # delta tokens issued before this moment count as expired

    # -- adding and removing -------------------------------------------------------------

    def add(self, fault: Fault) -> Fault:
        """Activate a rule; returns it with its id."""
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; one of {', '.join(KINDS)}")
        if fault.kind == "throttle":
            fault.status = 429
            fault.retry_after = 2 if fault.retry_after is None else fault.retry_after
        elif fault.kind == "unavailable":
            fault.status = fault.status or 503
            if fault.status not in (503, 504):
                raise ValueError("unavailable faults answer 503 or 504")
        if fault.rate is not None and not 0 <= fault.rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            fault.id = next(self._ids)
            self._rules.append(fault)
        return fault

    def throttle(self, count: int | None = None, rate: float | None = None, retry_after: float = 2,
                 decimal: bool = False, path_prefix: str | None = None) -> Fault:
        """429 TooManyRequests with Retry-After for the matching requests."""
        return self.add(Fault("throttle", retry_after=retry_after, decimal=decimal, count=count, rate=rate,
                              path_prefix=path_prefix))

    def unavailable(self, status: int = 503, count: int | None = None, rate: float | None = None,
                    retry_after: float | None = None, path_prefix: str | None = None) -> Fault:
        """503 Service Unavailable or 504 Gateway Timeout, with or without Retry-After."""
        return self.add(Fault("unavailable", status=status, retry_after=retry_after, count=count, rate=rate,
                              path_prefix=path_prefix))

    def latency(self, ms: int, count: int | None = None, path_prefix: str | None = None) -> Fault:
        """Answer matching requests only after `ms` milliseconds."""
        return self.add(Fault("latency", latency_ms=ms, count=count, path_prefix=path_prefix))

    def drop(self, after: int = 0, count: int | None = 1, path_prefix: str | None = None) -> Fault:
        """Close the connection without an answer, once `after` matching requests went through."""
        return self.add(Fault("drop", after=after, count=count, path_prefix=path_prefix))

    def reset_delta(self, count: int | None = 1, path_prefix: str | None = "/v1.0/users/delta") -> Fault:
        """Answer the next delta request that carries a token with 410 Gone (sync reset)."""
        return self.add(Fault("delta_reset", count=count, path_prefix=path_prefix))

    def expire_delta_tokens(self) -> None:
        """Every delta and skip token issued until now is expired from now on."""
        with self._lock:
            self.delta_expired_before = time.time()

    def remove(self, fault_id: int) -> bool:
        """Deactivate one rule; False when there was none with that id."""
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != fault_id]
            return len(self._rules) != before

    def clear(self) -> None:
        """Deactivate every rule and forget expired-token switches."""
        with self._lock:
            self._rules.clear()
            self.delta_expired_before = 0.0

    def active(self) -> list[Fault]:
        """The rules still in force."""
        with self._lock:
            return list(self._rules)

    # -- applying ----------------------------------------------------------------------

    def decide(self, method: str, path: str, surface: str = "graph", batch: bool = False,
               batch_item: bool = False) -> Decision:
        """Consult (and consume) the rules for one request.

        `batch`: the outer $batch POST, which Graph never throttles as a whole (its items are throttled
        one by one) unless a rule names $batch. `batch_item`: a request inside a batch, which has no
        connection of its own to drop."""
        latency, failure, drop = 0, None, False
        with self._lock:
            for rule in list(self._rules):
                if rule.kind == "delta_reset" or not self._matches(rule, method, path, surface):
                    continue
                if batch and rule.kind == "throttle" and not (rule.path_prefix or "").endswith("$batch"):
                    continue
                if batch_item and rule.kind == "drop":
                    continue
                if rule.kind in ("throttle", "unavailable", "drop") and (failure or drop):
                    continue  # one failure per request; later rules keep their budget
                if not self._fire(rule):
                    continue
                if rule.kind == "latency":
                    latency += rule.latency_ms
                elif rule.kind == "drop":
                    drop = True
                else:
                    failure = rule
        return Decision(latency, failure, drop)

    def take_delta_reset(self, path: str) -> bool:
        """Whether this delta request (with a token) must get 410 Gone; consumes the rule."""
        with self._lock:
            for rule in list(self._rules):
                if rule.kind == "delta_reset" and self._matches(rule, "GET", path, "graph") and self._fire(rule):
                    return True
        return False

    def delta_token_expired(self, issued_at: float) -> bool:
        """Whether a token issued at this moment was expired by expire_delta_tokens()."""
        return issued_at <= self.delta_expired_before

    @staticmethod
    def _matches(rule: Fault, method: str, path: str, surface: str) -> bool:
        return (rule.surface == surface and (rule.method is None or rule.method.upper() == method.upper())
                and (rule.path_prefix is None or path.lower().startswith(rule.path_prefix.lower())))

    def _fire(self, rule: Fault) -> bool:
        # Called with the lock held: count the request against the rule and say whether it fires.
        rule.seen += 1
        if rule.seen <= rule.after:
            return False
        if rule.rate is not None and self._random.random() >= rule.rate:
            return False
        rule.hits += 1
        if rule.count is not None and rule.hits >= rule.count:
            self._rules.remove(rule)
        return True
