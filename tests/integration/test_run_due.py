"""The scheduler's run: everything due is done once, however often and by how many."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from api.bootstrap import Container
from commands.clock import ManualClock
from commands.purchases import CompletedPurchase
from commands.time_driven import run_due
from lifecycle.subscription import Subscription

AFTER_FIRST_RENEWAL = datetime(2028, 1, 31, 10, 0, tzinfo=timezone.utc)
AFTER_SECOND_RENEWAL = datetime(2029, 1, 31, 10, 0, tzinfo=timezone.utc)


def set_clock(container: Container, instant: datetime) -> datetime:
    clock = container.services.clock
    assert isinstance(clock, ManualClock)
    clock.set(instant)
    return instant


def run(container: Container) -> int:
    return run_due(container.services, container.due_work, container.services.clock.now()).performed


def renewal_keys(container: Container, subscription_id: UUID) -> list[str]:
    ledger = container.services.gateway.charges()  # type: ignore[attr-defined]
    return sorted(
        str(row["idempotency_key"])
        for row in ledger
        if str(row["idempotency_key"]).startswith(f"{subscription_id}:")
    )


def test_run_due_renews_a_subscription_whose_term_has_ended(
    container: Container, buy: Callable[..., CompletedPurchase]
) -> None:
    bought = buy()
    set_clock(container, AFTER_FIRST_RENEWAL)

    run(container)

    subscription = container.services.load(Subscription, bought.subscription.id, "subscription")
    assert subscription.term == 2
    assert subscription.status == "active"
    assert [p["status"] for p in subscription.payments] == ["succeeded", "succeeded"]


def test_run_due_a_second_time_does_nothing_more(
    container: Container, buy: Callable[..., CompletedPurchase]
) -> None:
    bought = buy()
    set_clock(container, AFTER_FIRST_RENEWAL)
    assert run(container) > 0
    head = container.services.head()
    ledger = container.services.gateway.charges()  # type: ignore[attr-defined]

    again = run(container)

    assert again == 0
    assert container.services.head() == head
    assert container.services.gateway.charges() == ledger  # type: ignore[attr-defined]
    assert renewal_keys(container, bought.subscription.id) == [f"{bought.subscription.id}:2:1"]


def test_a_renewal_raced_by_two_threads_takes_one_charge_per_term(
    container: Container,
    buy: Callable[..., CompletedPurchase],
    together: Callable[..., list[Any]],
) -> None:
    bought = buy()
    subscription_id = bought.subscription.id

    for instant in (AFTER_FIRST_RENEWAL, AFTER_SECOND_RENEWAL):
        set_clock(container, instant)
        together(lambda: run(container), lambda: run(container))

    subscription = container.services.load(Subscription, subscription_id, "subscription")
    assert subscription.term == 3
    assert renewal_keys(container, subscription_id) == [
        f"{subscription_id}:2:1",
        f"{subscription_id}:3:1",
    ]
    assert [p["term_number"] for p in subscription.payments] == [1, 2, 3]


def test_a_renewal_raced_by_two_processes_takes_one_charge_per_term(
    container: Container,
    make_container: Callable[..., Container],
    buy: Callable[..., CompletedPurchase],
    together: Callable[..., list[Any]],
) -> None:
    other = make_container()
    bought = buy()
    subscription_id = bought.subscription.id

    for instant in (AFTER_FIRST_RENEWAL, AFTER_SECOND_RENEWAL):
        set_clock(container, instant)
        set_clock(other, instant)
        together(lambda: run(container), lambda: run(other))

    subscription = container.services.load(Subscription, subscription_id, "subscription")
    assert subscription.term == 3
    assert renewal_keys(container, subscription_id) == [
        f"{subscription_id}:2:1",
        f"{subscription_id}:3:1",
    ]
    assert [p["term_number"] for p in subscription.payments] == [1, 2, 3]
