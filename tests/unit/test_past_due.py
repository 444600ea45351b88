"""R24: a failed renewal charge makes the subscription past due; retries 1, 3 and 7 days
after the first failure; the last failed retry expires it; a successful retry renews
from the original anchor."""

from __future__ import annotations

from datetime import timedelta

from given import (
    APPROVED,
    DECLINED,
    MICROSECOND,
    at,
    card,
    change,
    declined_at,
    names,
    past_due,
    subscription,
)

from lifecycle.calendar import add_years
from lifecycle.subscription import ACTIVE, EXPIRED, PAST_DUE

STARTED = at(2025, 3, 15, 9, 45)
FIRST_FAILURE = at(2026, 3, 15, 9, 45)
DAY = timedelta(days=1)


def test_declined_renewal_charge_records_renewal_charge_failed() -> None:
    sub = subscription(STARTED)
    request = sub.begin_renewal_charge(change(sub.term_end))
    assert request is not None
    sub.collect_events()

    sub.record_renewal_charge(request, DECLINED, change(sub.term_end))

    [failed] = sub.collect_events()
    assert names([failed]) == ["RenewalChargeFailed"]
    assert (failed.term, failed.attempt, failed.payment["status"]) == (2, 1, "failed")


def test_declined_renewal_charge_makes_the_subscription_past_due() -> None:
    assert past_due(STARTED).status == PAST_DUE


def test_declined_renewal_charge_keeps_the_current_term() -> None:
    sub = past_due(STARTED)

    assert (sub.term, sub.term_end) == (1, FIRST_FAILURE)


def test_first_retry_is_one_day_after_the_first_failure() -> None:
    assert past_due(STARTED).next_retry_at == FIRST_FAILURE + DAY


def test_retry_is_not_due_a_microsecond_before_its_instant() -> None:
    assert not past_due(STARTED).renewal_due(FIRST_FAILURE + DAY - MICROSECOND)


def test_retry_is_due_at_its_instant() -> None:
    assert past_due(STARTED).renewal_due(FIRST_FAILURE + DAY)


def test_retry_is_the_next_attempt_for_the_same_term() -> None:
    sub = past_due(STARTED)

    request = sub.begin_renewal_charge(change(FIRST_FAILURE + DAY))

    assert request is not None and request.idempotency_key == f"{sub.id}:2:2"


def test_second_retry_is_three_days_after_the_first_failure() -> None:
    sub = past_due(STARTED)

    declined_at(sub, FIRST_FAILURE + DAY)

    assert sub.next_retry_at == FIRST_FAILURE + 3 * DAY


def test_late_retry_still_schedules_the_next_one_from_the_first_failure() -> None:
    sub = past_due(STARTED)

    declined_at(sub, FIRST_FAILURE + 2 * DAY)

    assert sub.next_retry_at == FIRST_FAILURE + 3 * DAY


def test_third_retry_is_seven_days_after_the_first_failure() -> None:
    sub = past_due(STARTED)
    declined_at(sub, FIRST_FAILURE + DAY)

    declined_at(sub, FIRST_FAILURE + 3 * DAY)

    assert sub.next_retry_at == FIRST_FAILURE + 7 * DAY


def test_subscription_stays_past_due_while_retries_remain() -> None:
    sub = past_due(STARTED)
    declined_at(sub, FIRST_FAILURE + DAY)
    declined_at(sub, FIRST_FAILURE + 3 * DAY)

    assert sub.status == PAST_DUE


def test_fourth_failed_attempt_records_the_failure_and_expiry() -> None:
    sub = past_due(STARTED)
    declined_at(sub, FIRST_FAILURE + DAY)
    declined_at(sub, FIRST_FAILURE + 3 * DAY)
    request = sub.begin_renewal_charge(change(FIRST_FAILURE + 7 * DAY))
    assert request is not None and request.attempt == 4
    sub.collect_events()

    sub.record_renewal_charge(request, DECLINED, change(FIRST_FAILURE + 7 * DAY))

    events = sub.collect_events()
    assert names(events) == ["RenewalChargeFailed", "Expired"]
    assert events[1].reason == "renewal_payment_failed"


def test_fourth_failed_attempt_expires_the_subscription_at_that_instant() -> None:
    sub = past_due(STARTED)
    declined_at(sub, FIRST_FAILURE + DAY)
    declined_at(sub, FIRST_FAILURE + 3 * DAY)

    declined_at(sub, FIRST_FAILURE + 7 * DAY)

    assert (sub.status, sub.expired_at) == (EXPIRED, FIRST_FAILURE + 7 * DAY)


def test_expired_after_the_last_retry_no_renewal_is_due() -> None:
    sub = past_due(STARTED)
    for days in (1, 3, 7):
        declined_at(sub, FIRST_FAILURE + days * DAY)

    assert not sub.renewal_due(FIRST_FAILURE + 365 * DAY)


def test_successful_retry_renews_the_subscription() -> None:
    sub = past_due(STARTED)
    request = sub.begin_renewal_charge(change(FIRST_FAILURE + DAY))
    assert request is not None
    sub.collect_events()

    sub.record_renewal_charge(request, APPROVED, change(FIRST_FAILURE + DAY))

    assert names(sub.collect_events()) == ["Renewed"]
    assert (sub.status, sub.term) == (ACTIVE, 2)


def test_successful_retry_keeps_the_original_anchor() -> None:
    sub = past_due(STARTED)
    declined_at(sub, FIRST_FAILURE + DAY)
    request = sub.begin_renewal_charge(change(FIRST_FAILURE + 3 * DAY))
    assert request is not None

    sub.record_renewal_charge(request, APPROVED, change(FIRST_FAILURE + 3 * DAY))

    assert (sub.anchor, sub.term_end) == (STARTED, add_years(STARTED, 2))


def test_successful_retry_clears_the_retry_schedule() -> None:
    sub = past_due(STARTED)
    request = sub.begin_renewal_charge(change(FIRST_FAILURE + DAY))
    assert request is not None

    sub.record_renewal_charge(request, APPROVED, change(FIRST_FAILURE + DAY))

    assert (sub.failed_attempts, sub.next_retry_at) == (0, None)


def test_replacing_the_card_during_past_due_allows_a_retry_at_once_with_the_new_card() -> None:
    sub = past_due(STARTED)
    soon = FIRST_FAILURE + timedelta(hours=2)
    sub.replace_card(card(token="tok_mc_4444"), change(soon))

    request = sub.begin_renewal_charge(change(soon), retry_now=True)

    assert request is not None
    assert (request.attempt, request.token) == (2, "tok_mc_4444")


def test_retry_now_before_term_end_of_an_active_subscription_takes_no_charge() -> None:
    sub = subscription(STARTED)

    assert sub.begin_renewal_charge(change(STARTED + DAY), retry_now=True) is None


def test_past_due_subscription_is_sent_no_renewal_reminder() -> None:
    sub = past_due(STARTED)

    assert not sub.reminder_due(FIRST_FAILURE + DAY)
