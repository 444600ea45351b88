"""R27: 30 days before an auto-renewal charge a reminder, once per term; a card that
expires before the renewal instant is flagged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from given import (
    MICROSECOND,
    PRICE,
    at,
    card,
    change,
    names,
    non_renewing,
    renewed,
    subscription,
)

from lifecycle.errors import InvalidState

STARTED = at(2025, 3, 15, 9, 45)
TERM_END = at(2026, 3, 15, 9, 45)
REMINDER = TERM_END - timedelta(days=30)


def test_reminder_is_due_30_days_before_term_end() -> None:
    assert subscription(STARTED).reminder_due(REMINDER)


def test_reminder_is_not_due_a_microsecond_earlier() -> None:
    assert not subscription(STARTED).reminder_due(REMINDER - MICROSECOND)


def test_reminder_instant_is_30_days_before_term_end() -> None:
    assert subscription(STARTED).reminder_at == at(2026, 2, 13, 9, 45)


def test_recording_the_reminder_records_renewal_reminder_sent_for_the_term() -> None:
    sub = subscription(STARTED)

    sub.record_reminder_sent(change(REMINDER))

    [sent] = sub.collect_events()
    assert names([sent]) == ["RenewalReminderSent"]
    assert (sent.term, sent.renewal_at, sent.amount) == (1, TERM_END, PRICE)


def test_reminder_is_not_due_again_in_the_same_term_once_sent() -> None:
    sub = subscription(STARTED)

    sub.record_reminder_sent(change(REMINDER))

    assert not sub.reminder_due(REMINDER + timedelta(days=1))


def test_recording_a_second_reminder_in_the_same_term_is_refused() -> None:
    sub = subscription(STARTED)
    sub.record_reminder_sent(change(REMINDER))

    with pytest.raises(InvalidState):
        sub.record_reminder_sent(change(REMINDER + timedelta(days=1)))


def test_recording_a_reminder_before_it_is_due_is_refused() -> None:
    sub = subscription(STARTED)

    with pytest.raises(InvalidState):
        sub.record_reminder_sent(change(REMINDER - MICROSECOND))


def test_reminder_is_due_again_30_days_before_the_next_term_ends() -> None:
    sub = subscription(STARTED)
    sub.record_reminder_sent(change(REMINDER))

    renewed(sub)

    assert sub.reminder_due(at(2027, 3, 15, 9, 45) - timedelta(days=30))


def test_non_renewing_subscription_is_sent_no_reminder() -> None:
    assert not non_renewing(STARTED).reminder_due(REMINDER)


def test_card_expiring_in_the_month_before_renewal_expires_before_renewal() -> None:
    sub = subscription(STARTED, on_file=card(exp_month=2, exp_year=2026))

    assert sub.card_expires_before_renewal()


def test_card_expiring_in_the_renewal_month_does_not_expire_before_renewal() -> None:
    sub = subscription(STARTED, on_file=card(exp_month=3, exp_year=2026))

    assert not sub.card_expires_before_renewal()


def test_reminder_records_that_the_card_expires_before_renewal() -> None:
    sub = subscription(STARTED, on_file=card(exp_month=2, exp_year=2026))

    sub.record_reminder_sent(change(REMINDER))

    [sent] = sub.collect_events()
    assert sent.card_expiring is True


def test_reminder_records_that_a_card_valid_at_renewal_is_not_expiring() -> None:
    sub = subscription(STARTED, on_file=card(exp_month=3, exp_year=2026))

    sub.record_reminder_sent(change(REMINDER))

    [sent] = sub.collect_events()
    assert sent.card_expiring is False
