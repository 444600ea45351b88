"""R30: responses and seats are counted against the caps per term."""

from __future__ import annotations

import pytest
from given import at, change, names, renewed, subscription

from lifecycle.catalogue import Caps
from lifecycle.errors import CapExceeded, Rejected

STARTED = at(2025, 3, 15, 9, 45)
LATER = at(2025, 6, 1)


def test_usage_increment_is_recorded() -> None:
    sub = subscription(STARTED, caps=Caps(responses=1000, seats=5))

    sub.record_usage(responses=7, seats=1, change=change(LATER))

    [used] = sub.collect_events()
    assert names([used]) == ["UsageRecorded"]
    assert (used.responses, used.seats) == (7, 1)


def test_usage_increments_add_up_within_the_term() -> None:
    sub = subscription(STARTED, caps=Caps(responses=1000, seats=5))

    sub.record_usage(responses=7, seats=1, change=change(LATER))
    sub.record_usage(responses=3, seats=2, change=change(LATER))

    assert sub.usage == {"responses": 10, "seats": 3}


def test_usage_over_the_responses_cap_is_refused_naming_the_cap() -> None:
    sub = subscription(STARTED, caps=Caps(responses=100, seats=5))
    sub.record_usage(responses=95, seats=0, change=change(LATER))

    with pytest.raises(CapExceeded) as refused:
        sub.record_usage(responses=6, seats=0, change=change(LATER))

    assert refused.value.extras == {"cap": "responses", "limit": 100, "usage": 95}


def test_usage_over_the_seats_cap_is_refused_naming_the_cap() -> None:
    sub = subscription(STARTED, caps=Caps(responses=100, seats=1))

    with pytest.raises(CapExceeded) as refused:
        sub.record_usage(responses=0, seats=2, change=change(LATER))

    assert refused.value.extras == {"cap": "seats", "limit": 1, "usage": 0}


def test_usage_over_a_cap_records_nothing_and_counts_nothing() -> None:
    sub = subscription(STARTED, caps=Caps(responses=100, seats=1))

    with pytest.raises(CapExceeded):
        sub.record_usage(responses=50, seats=2, change=change(LATER))

    assert sub.collect_events() == []
    assert sub.usage == {"responses": 0, "seats": 0}


def test_usage_reaching_exactly_the_cap_is_recorded() -> None:
    sub = subscription(STARTED, caps=Caps(responses=100, seats=1))

    sub.record_usage(responses=100, seats=0, change=change(LATER))

    assert sub.usage["responses"] == 100


def test_cap_is_reached_when_usage_equals_it() -> None:
    sub = subscription(STARTED, caps=Caps(responses=100, seats=5))

    sub.record_usage(responses=100, seats=0, change=change(LATER))

    assert sub.cap_reached


def test_cap_is_not_reached_one_below_it() -> None:
    sub = subscription(STARTED, caps=Caps(responses=100, seats=5))

    sub.record_usage(responses=99, seats=4, change=change(LATER))

    assert not sub.cap_reached


def test_unlimited_cap_accepts_any_usage() -> None:
    sub = subscription(STARTED, caps=Caps(responses=None, seats=1))

    sub.record_usage(responses=10**9, seats=0, change=change(LATER))

    assert sub.usage["responses"] == 10**9
    assert not sub.cap_reached


def test_negative_usage_is_rejected() -> None:
    sub = subscription(STARTED)

    with pytest.raises(Rejected):
        sub.record_usage(responses=-1, seats=0, change=change(LATER))


def test_zero_usage_records_nothing() -> None:
    sub = subscription(STARTED)

    sub.record_usage(responses=0, seats=0, change=change(LATER))

    assert sub.collect_events() == []


def test_new_term_counts_usage_from_zero() -> None:
    sub = subscription(STARTED, caps=Caps(responses=100, seats=1))
    sub.record_usage(responses=100, seats=1, change=change(LATER))

    renewed(sub)
    sub.record_usage(responses=100, seats=1, change=change(sub.term_start))

    assert sub.usage == {"responses": 100, "seats": 1}
