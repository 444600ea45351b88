"""Under the manual clock an advance performs the time-driven work in time order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from api.bootstrap import Container
from commands.purchases import CompletedPurchase
from commands.time_driven import advance_clock
from lifecycle.organisation import Organisation
from lifecycle.subscription import Subscription
from projections.notifications import list_notifications


def at(month: int, day: int) -> datetime:
    return datetime(2028, month, day, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def failed_renewals(
    container: Container, buy: Callable[..., CompletedPurchase]
) -> CompletedPurchase:
    """A subscription whose card is declined at every renewal attempt, advanced
    well past its last retry."""
    bought = buy(token="tok_fails_renewal")
    advance_clock(container.services, container.due_work, at(3, 1))
    return bought


def test_a_declined_renewal_goes_past_due_is_retried_and_expires_in_time_order(
    container: Container, failed_renewals: CompletedPurchase
) -> None:
    events = list(container.services.store.events.get(failed_renewals.subscription.id))

    assert [(type(e).__name__, e.timestamp) for e in events[1:]] == [
        ("RenewalReminderSent", at(1, 1)),
        ("RenewalChargeBegun", at(1, 31)),
        ("RenewalChargeFailed", at(1, 31)),
        ("RenewalChargeBegun", at(2, 1)),
        ("RenewalChargeFailed", at(2, 1)),
        ("RenewalChargeBegun", at(2, 3)),
        ("RenewalChargeFailed", at(2, 3)),
        ("RenewalChargeBegun", at(2, 7)),
        ("RenewalChargeFailed", at(2, 7)),
        ("Expired", at(2, 7)),
    ]


def test_a_declined_renewal_passes_through_past_due_before_it_expires(
    container: Container, failed_renewals: CompletedPurchase
) -> None:
    store = container.services.store
    subscription_id = failed_renewals.subscription.id
    last = store.repository.get(subscription_id).version

    statuses = [store.repository.get(subscription_id, version=v).status for v in range(1, last + 1)]

    assert list(dict.fromkeys(statuses)) == ["active", "past_due", "expired"]


def test_the_organisation_is_on_licence_free_once_its_subscription_expired(
    container: Container, failed_renewals: CompletedPurchase
) -> None:
    services = container.services
    organisation = services.load(Organisation, failed_renewals.organisation.id, "organisation")
    subscription = services.load(Subscription, failed_renewals.subscription.id, "subscription")

    assert subscription.status == "expired"
    assert subscription.expired_at == at(2, 7)
    assert organisation.licence == "free"
    assert organisation.subscription_id is None


def test_each_renewal_attempt_is_one_declined_charge_in_the_ledger(
    container: Container, failed_renewals: CompletedPurchase
) -> None:
    subscription_id = failed_renewals.subscription.id
    ledger = container.services.gateway.charges()  # type: ignore[attr-defined]

    renewals = [
        (row["idempotency_key"], row["approved"], row["charged_at"])
        for row in ledger
        if str(row["idempotency_key"]).startswith(str(subscription_id))
    ]

    assert renewals == [
        (f"{subscription_id}:2:{attempt}", 0, instant.isoformat())
        for attempt, instant in enumerate([at(1, 31), at(2, 1), at(2, 3), at(2, 7)], start=1)
    ]


def test_the_buyer_is_told_of_each_failed_attempt_and_of_the_downgrade(
    container: Container, failed_renewals: CompletedPurchase
) -> None:
    container.runners["notifications"].catch_up()

    kinds = [
        row["kind"]
        for row in list_notifications(container.services.database, "buyer@example.com")
    ]

    assert kinds == [
        "purchase_confirmation",
        "renewal_reminder",
        "payment_failed",
        "payment_failed",
        "payment_failed",
        "payment_failed",
        "downgrade_notice",
    ]


def test_the_clock_stands_where_it_was_advanced_to(
    container: Container, failed_renewals: CompletedPurchase
) -> None:
    assert container.services.clock.now() == at(3, 1)
