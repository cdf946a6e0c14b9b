"""Seat allocation for new employees that does not depend on the order Graph returns users in."""

from __future__ import annotations

import heapq
from typing import Any


class _Latest:
    """Heap key that inverts the order of e-mails, so heapq's smallest is the highest address."""

    __slots__ = ("email",)

    def __init__(self, email: str) -> None:
        self.email = email

    def __lt__(self, other: _Latest) -> bool:
        return self.email > other.email


class SeatAllocator:
    """Hands the organisation's free seats to the new employees with the lowest e-mail addresses.

    With unlimited seats (``seats_left`` None) nothing is held: ``unlimited`` is true, ``offer`` returns
    no evictions and the engine creates each new employee at once. With a limit, at most ``seats_left``
    candidates are held (memory O(seats)); ``offer`` returns the candidates that lost their seat (they
    get a "seat limit" decision) and ``winners()`` the ones to create once every page has been read.
    The outcome depends only on the set of e-mails offered, not on their order (e-mails are unique).
    """

    __slots__ = ("seats", "_heap", "_held")

    def __init__(self, seats_left: int | None) -> None:
        self.seats = None if seats_left is None else max(0, seats_left)
        self._heap: list[tuple[_Latest, str, Any]] = []
        self._held: set[str] = set()  # the e-mails in the heap (at most ``seats``)

    @property
    def unlimited(self) -> bool:
        """Whether every candidate gets a seat immediately."""
        return self.seats is None

    def holds(self, email: str) -> bool:
        """Whether a candidate with this address is waiting for its seat."""
        return email in self._held

    def offer(self, email: str, payload: Any) -> list[tuple[str, Any]]:
        """Offer a new employee; returns the (email, payload) pairs that lost out to lower addresses."""
        if self.seats is None:
            return []
        if self.seats == 0:
            return [(email, payload)]
        entry = (_Latest(email), email, payload)
        if len(self._heap) < self.seats:
            heapq.heappush(self._heap, entry)
            self._held.add(email)
            return []
        if email >= self._heap[0][1]:
            return [(email, payload)]
        _, lost_email, lost_payload = heapq.heapreplace(self._heap, entry)
        self._held.discard(lost_email)
        self._held.add(email)
        return [(lost_email, lost_payload)]

    def winners(self) -> list[tuple[str, Any]]:
        """The held candidates that keep their seat, by e-mail."""
        return sorted(((email, payload) for _, email, payload in self._heap), key=lambda pair: pair[0])
