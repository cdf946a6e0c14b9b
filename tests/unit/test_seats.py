"""Seats for new employees: the lowest e-mail addresses win, whatever order Graph returns users in."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.sync.plan import SeatAllocator as PlanSeatAllocator
from portal.sync.seats import SeatAllocator


def offer_all(allocator, emails):
    evicted = []
    for email in emails:
        evicted.extend(allocator.offer(email, {"email": email}))
    return evicted


def test_unlimited_seats_seat_everyone_at_once_and_hold_nothing():
    allocator = SeatAllocator(None)
    assert allocator.unlimited
    assert offer_all(allocator, ["b@x.com", "a@x.com"]) == []
    assert allocator.winners() == []


@pytest.mark.parametrize(
    ("seats", "offered", "winners", "evicted"),
    [
        (2, ["c@x", "a@x", "b@x"], ["a@x", "b@x"], ["c@x"]),
        (2, ["a@x", "b@x", "c@x"], ["a@x", "b@x"], ["c@x"]),  # a later, higher address loses at once
        (2, ["c@x", "d@x", "a@x"], ["a@x", "c@x"], ["d@x"]),  # a later, lower address takes a seat back
        (3, ["b@x", "a@x"], ["a@x", "b@x"], []),  # room for everyone
        (0, ["a@x", "b@x"], [], ["a@x", "b@x"]),  # no seats left
        (-4, ["a@x"], [], ["a@x"]),  # over the limit already: no seats
    ],
)
def test_the_lowest_addresses_keep_the_seats(seats, offered, winners, evicted):
    allocator = SeatAllocator(seats)
    lost = offer_all(allocator, offered)
    assert not allocator.unlimited
    assert [email for email, _ in allocator.winners()] == winners
    assert sorted(email for email, _ in lost) == evicted


def test_the_payload_travels_with_its_address():
    allocator = SeatAllocator(1)
    allocator.offer("b@x", "payload b")
    assert allocator.offer("a@x", "payload a") == [("b@x", "payload b")]
    assert allocator.winners() == [("a@x", "payload a")]


@given(st.sets(st.emails(), max_size=40), st.integers(0, 10), st.randoms())
def test_the_outcome_does_not_depend_on_graphs_page_order(emails, seats, random):
    order = sorted(emails)
    shuffled = list(order)
    random.shuffle(shuffled)
    allocator = SeatAllocator(seats)
    lost = []
    for email in shuffled:
        lost.extend(allocator.offer(email, email))
        assert len(allocator.winners()) <= seats  # memory stays O(seats)
    assert [email for email, _ in allocator.winners()] == order[:seats]
    assert sorted(email for email, _ in lost) == order[seats:]


def test_the_engine_finds_the_allocator_next_to_the_plan():
    assert PlanSeatAllocator is SeatAllocator


def test_the_allocator_holds_at_most_seats_candidates_and_knows_their_addresses():
    from portal.sync.seats import SeatAllocator

    seats = SeatAllocator(3)
    lost = []
    for i in range(1000, 0, -1):
        lost += seats.offer(f"user{i:04d}@contoso.com", i)
        assert len(seats._heap) <= 3  # memory is O(seats), not O(users offered)
    assert [email for email, _ in seats.winners()] == ["user0001@contoso.com", "user0002@contoso.com",
                                                       "user0003@contoso.com"]
    assert len(lost) == 997
    assert seats.holds("user0002@contoso.com") and not seats.holds("user0999@contoso.com")
