"""The due-work view says what time-driven work each subscription awaits, and when."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from uuid import UUID

from api.bootstrap import Container
from commands.context import Caller
from commands.purchases import CompletedPurchase
from commands.subscriptions import cancel_renewal

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=timezone.utc)
REMINDER_AT = datetime(2028, 1, 1, 9, 0, tzinfo=timezone.utc)
RENEWAL_AT = datetime(2028, 1, 31, 9, 0, tzinfo=timezone.utc)


def due_for(container: Container, aggregate_id: UUID) -> list[tuple[str, datetime]]:
    container.due_work.catch_up()
    return [
        (item.kind, item.due_at)
        for item in container.due_work.due(FAR_FUTURE, 100)
        if item.aggregate_id == aggregate_id
    ]


def test_a_purchase_lists_the_renewal_reminder_and_the_renewal_of_its_subscription(
    container: Container, buy: Callable[..., CompletedPurchase]
) -> None:
    bought = buy()

    assert due_for(container, bought.subscription.id) == [
        ("renewal_reminder", REMINDER_AT),
        ("renewal", RENEWAL_AT),
    ]


def test_cancelling_renewal_replaces_reminder_and_renewal_with_expiry_at_term_end(
    container: Container, buy: Callable[..., CompletedPurchase], caller: Callable[..., Caller]
) -> None:
    bought = buy()
    due_for(container, bought.subscription.id)

    cancel_renewal(container.services, caller(), bought.subscription.id, reason="budget")

    assert due_for(container, bought.subscription.id) == [("expiry", RENEWAL_AT)]


def test_due_work_lists_only_items_due_by_the_instant_asked(
    container: Container, buy: Callable[..., CompletedPurchase]
) -> None:
    bought = buy()
    container.due_work.catch_up()

    due = container.due_work.due(REMINDER_AT, 100)

    assert [(i.kind, i.aggregate_id) for i in due] == [
        ("renewal_reminder", bought.subscription.id)
    ]
