"""R22, R23, R25: cancelling and resuming renewal, expiry at term end, and a cancellation
recorded before the renewal instant winning over the renewal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from given import (
    APPROVED,
    MICROSECOND,
    at,
    change,
    expired,
    names,
    non_renewing,
    past_due,
    subscription,
)

from lifecycle.errors import SubscriptionExpired
from lifecycle.subscription import ACTIVE, EXPIRED, NON_RENEWING

STARTED = at(2025, 3, 15, 9, 45)
TERM_END = at(2026, 3, 15, 9, 45)
MIDTERM = at(2025, 9, 1)


def test_cancelling_renewal_records_renewal_cancelled_with_its_reason() -> None:
    sub = subscription(STARTED)

    sub.cancel_renewal("budget", change(MIDTERM))

    [cancelled] = sub.collect_events()
    assert names([cancelled]) == ["RenewalCancelled"]
    assert cancelled.reason == "budget"


def test_cancelled_subscription_is_non_renewing() -> None:
    assert non_renewing(STARTED).status == NON_RENEWING


def test_non_renewing_subscription_keeps_access_until_term_end() -> None:
    sub = non_renewing(STARTED)

    sub.record_usage(responses=10, seats=0, change=change(TERM_END - MICROSECOND))

    assert sub.status == NON_RENEWING
    assert sub.usage["responses"] == 10


def test_cancelling_renewal_twice_records_it_once() -> None:
    sub = non_renewing(STARTED)

    sub.cancel_renewal("again", change(MIDTERM))

    assert sub.collect_events() == []


def test_expiry_of_a_non_renewing_subscription_is_not_due_before_term_end() -> None:
    assert not non_renewing(STARTED).expiry_due(TERM_END - MICROSECOND)


def test_expiry_of_a_non_renewing_subscription_is_due_at_term_end() -> None:
    assert non_renewing(STARTED).expiry_due(TERM_END)


def test_non_renewing_subscription_expires_at_term_end() -> None:
    sub = non_renewing(STARTED)

    sub.expire_at_term_end(change(TERM_END))

    [expiry] = sub.collect_events()
    assert names([expiry]) == ["Expired"]
    assert expiry.reason == "not_renewed"
    assert (sub.status, sub.expired_at) == (EXPIRED, TERM_END)


def test_expiring_before_term_end_records_nothing() -> None:
    sub = non_renewing(STARTED)

    sub.expire_at_term_end(change(TERM_END - MICROSECOND))

    assert sub.collect_events() == []


def test_active_subscription_does_not_expire_at_term_end() -> None:
    sub = subscription(STARTED)

    sub.expire_at_term_end(change(TERM_END))

    assert sub.collect_events() == []


def test_resuming_renewal_before_expiry_records_renewal_resumed() -> None:
    sub = non_renewing(STARTED)

    sub.resume_renewal(change(TERM_END - MICROSECOND))

    assert names(sub.collect_events()) == ["RenewalResumed"]


def test_resumed_subscription_is_active_again() -> None:
    sub = non_renewing(STARTED)

    sub.resume_renewal(change(MIDTERM))

    assert sub.status == ACTIVE


def test_resumed_subscription_renews_at_term_end() -> None:
    sub = non_renewing(STARTED)
    sub.resume_renewal(change(MIDTERM))

    assert sub.renewal_due(TERM_END)


def test_resuming_an_active_subscription_records_nothing() -> None:
    sub = subscription(STARTED)

    sub.resume_renewal(change(MIDTERM))

    assert sub.collect_events() == []


def test_resuming_after_expiry_is_refused_as_expired() -> None:
    sub = expired(STARTED)

    with pytest.raises(SubscriptionExpired):
        sub.resume_renewal(change(TERM_END + timedelta(days=1)))


def test_cancelling_after_expiry_is_refused_as_expired() -> None:
    sub = expired(STARTED)

    with pytest.raises(SubscriptionExpired):
        sub.cancel_renewal(None, change(TERM_END + timedelta(days=1)))


def test_cancelling_during_past_due_expires_the_subscription_at_once() -> None:
    sub = past_due(STARTED)
    when = TERM_END + timedelta(hours=5)

    sub.cancel_renewal("no new card", change(when))

    events = sub.collect_events()
    assert names(events) == ["RenewalCancelled", "Expired"]
    assert events[1].reason == "renewal_cancelled_while_past_due"
    assert (sub.status, sub.expired_at) == (EXPIRED, when)


def test_cancelling_during_past_due_stops_the_retries() -> None:
    sub = past_due(STARTED)

    sub.cancel_renewal(None, change(TERM_END + timedelta(hours=5)))

    assert not sub.renewal_due(TERM_END + timedelta(days=30))


# --- R25 ------------------------------------------------------------------------------------


def test_cancellation_recorded_before_renewal_instant_means_no_renewal_charge_is_due() -> None:
    sub = subscription(STARTED)
    sub.cancel_renewal(None, change(TERM_END - MICROSECOND))

    assert not sub.renewal_due(TERM_END)


def test_cancellation_recorded_before_renewal_instant_means_no_renewal_charge_is_begun() -> None:
    sub = subscription(STARTED)
    sub.cancel_renewal(None, change(TERM_END - MICROSECOND))
    sub.collect_events()

    request = sub.begin_renewal_charge(change(TERM_END))

    assert request is None
    assert sub.collect_events() == []


def test_cancellation_recorded_after_the_charge_began_does_not_expire_before_its_outcome() -> None:
    sub = subscription(STARTED)
    sub.begin_renewal_charge(change(TERM_END))
    sub.cancel_renewal(None, change(TERM_END + MICROSECOND))
    sub.collect_events()

    sub.expire_at_term_end(change(TERM_END + timedelta(minutes=1)))

    assert sub.collect_events() == []
    assert sub.status == NON_RENEWING


def test_charge_begun_before_a_cancellation_renews_one_more_term_without_auto_renewal() -> None:
    sub = subscription(STARTED)
    request = sub.begin_renewal_charge(change(TERM_END))
    assert request is not None
    sub.cancel_renewal(None, change(TERM_END + MICROSECOND))

    sub.record_renewal_charge(request, APPROVED, change(TERM_END + timedelta(minutes=1)))

    assert (sub.term, sub.status) == (2, NON_RENEWING)
    assert sub.expiry_due(at(2027, 3, 15, 9, 45))


def test_cancellation_recorded_before_renewal_instant_means_expiry_at_the_instant() -> None:
    sub = subscription(STARTED)
    sub.cancel_renewal(None, change(TERM_END - MICROSECOND))

    sub.expire_at_term_end(change(TERM_END))

    assert sub.status == EXPIRED
    assert sub.term == 1


def test_resuming_a_non_renewing_subscription_after_its_term_end_is_refused_as_expired() -> None:
    sub = non_renewing(STARTED)
    with pytest.raises(SubscriptionExpired):
        sub.resume_renewal(change(TERM_END))
    assert sub.collect_events() == []


def test_usage_after_the_term_end_of_a_non_renewing_subscription_is_refused_as_expired() -> None:
    sub = non_renewing(STARTED)
    with pytest.raises(SubscriptionExpired):
        sub.record_usage(1, 0, change(TERM_END + timedelta(hours=1)))


def test_cancelling_during_past_due_with_a_charge_in_flight_waits_for_its_outcome() -> None:
    sub = past_due(STARTED)
    retry_at = sub.next_retry_at
    assert retry_at is not None
    request = sub.begin_renewal_charge(change(retry_at))
    assert request is not None
    sub.cancel_renewal("moving on", change(retry_at + MICROSECOND))
    assert names(sub.collect_events()) == ["RenewalChargeBegun", "RenewalCancelled"]
    sub.record_renewal_charge(request, APPROVED, change(retry_at + 2 * MICROSECOND))
    assert (sub.status, sub.term) == (NON_RENEWING, 2)
