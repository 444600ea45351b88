"""What time-driven work a subscription awaits in each state, and when."""

from __future__ import annotations

from datetime import timedelta

from given import (
    at,
    change,
    expired,
    non_renewing,
    past_due,
    renewed,
    subscription,
)

from lifecycle.due import DueItem

STARTED = at(2025, 3, 15, 9, 45)
TERM_END = at(2026, 3, 15, 9, 45)


def test_active_subscription_awaits_its_reminder_and_its_renewal() -> None:
    sub = subscription(STARTED)

    assert sub.due_work() == [
        DueItem(
            TERM_END - timedelta(days=30),
            "renewal_reminder",
            sub.id,
            f"renewal_reminder:{sub.id}:1",
        ),
        DueItem(TERM_END, "renewal", sub.id, f"renewal:{sub.id}:2:1"),
    ]


def test_active_subscription_reminded_this_term_awaits_only_its_renewal() -> None:
    sub = subscription(STARTED)
    sub.record_reminder_sent(change(sub.reminder_at))

    assert sub.due_work() == [DueItem(TERM_END, "renewal", sub.id, f"renewal:{sub.id}:2:1")]


def test_renewed_subscription_awaits_the_next_terms_reminder_and_renewal() -> None:
    sub = subscription(STARTED)
    sub.record_reminder_sent(change(sub.reminder_at))
    renewed(sub)
    next_end = at(2027, 3, 15, 9, 45)

    assert sub.due_work() == [
        DueItem(
            next_end - timedelta(days=30),
            "renewal_reminder",
            sub.id,
            f"renewal_reminder:{sub.id}:2",
        ),
        DueItem(next_end, "renewal", sub.id, f"renewal:{sub.id}:3:1"),
    ]


def test_subscription_with_a_begun_charge_awaits_that_charge_at_once() -> None:
    sub = subscription(STARTED)
    sub.begin_renewal_charge(change(TERM_END))

    assert sub.due_work() == [DueItem(TERM_END, "renewal", sub.id, f"renewal:{sub.id}:2:1")]


def test_non_renewing_subscription_awaits_only_its_expiry_at_term_end() -> None:
    sub = non_renewing(STARTED)

    assert sub.due_work() == [DueItem(TERM_END, "expiry", sub.id, f"expiry:{sub.id}:1")]


def test_past_due_subscription_awaits_only_its_next_retry() -> None:
    sub = past_due(STARTED)

    assert sub.due_work() == [
        DueItem(TERM_END + timedelta(days=1), "renewal", sub.id, f"renewal:{sub.id}:2:2")
    ]


def test_expired_subscription_awaits_nothing() -> None:
    assert expired(STARTED).due_work() == []
