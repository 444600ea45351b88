"""One due item whose work fails never holds back the others: it is recorded with its
error, held back with a growing delay, shown to operators, and retried."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from api.bootstrap import Container
from commands import time_driven
from commands.accounts import open_account
from commands.clock import ManualClock
from commands.context import Caller
from commands.contracts import create_contract, renewal_id_for
from commands.purchases import CompletedPurchase
from commands.services import Services
from commands.time_driven import advance_clock, retry_delay, run_due
from lifecycle.contract import Contract
from lifecycle.contract_terms import Contact
from lifecycle.due import DueItem
from lifecycle.money import Money
from lifecycle.renewal import Renewal
from lifecycle.subscription import Subscription

from .conftest import buy_plan

AFTER_FIRST_RENEWAL = datetime(2028, 2, 1, 9, 0, tzinfo=timezone.utc)


class Fault(Exception):
    pass


@pytest.fixture
def faulty_reminders(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[UUID]]:
    """Subscriptions whose renewal-reminder work raises (a fault injected into the real
    handler table), as long as their id is in the yielded set."""
    broken: set[UUID] = set()
    real = time_driven.HANDLERS["renewal_reminder"]

    def reminder(services: Services, caller: Caller, item: DueItem) -> None:
        if item.aggregate_id in broken:
            raise Fault(f"reminder of {item.aggregate_id} cannot be sent")
        real(services, caller, item)

    monkeypatch.setitem(time_driven.HANDLERS, "renewal_reminder", reminder)
    yield broken


@dataclass(frozen=True)
class HeldBack:
    """A subscription whose renewal reminder failed at its due instant (and another
    subscription, whose work runs)."""

    services: Services
    broken: CompletedPurchase
    reminder_at: datetime

    def reminded(self) -> int:
        return load(self.services, self.broken).reminded_term


@pytest.fixture
def held_back(container: Container, faulty_reminders: set[UUID]) -> HeldBack:
    services = container.services
    broken, _ = two_subscribers(services)
    faulty_reminders.add(broken.subscription.id)
    reminder_at = load(services, broken).term_end - timedelta(days=30)
    advance_clock(services, container.due_work, reminder_at)
    return HeldBack(services, broken, reminder_at)


def two_subscribers(services: Services) -> tuple[CompletedPurchase, CompletedPurchase]:
    return (
        buy_plan(services, email="broken@example.com"),
        buy_plan(services, email="fine@example.com"),
    )


def load(services: Services, bought: CompletedPurchase) -> Subscription:
    return services.load(Subscription, bought.subscription.id, "subscription")


def test_a_failing_due_item_does_not_stop_the_others_in_a_clock_advance(
    container: Container, faulty_reminders: set[UUID]
) -> None:
    services = container.services
    broken, fine = two_subscribers(services)
    faulty_reminders.add(broken.subscription.id)

    advanced = advance_clock(services, container.due_work, AFTER_FIRST_RENEWAL)

    assert load(services, fine).term == 2
    assert load(services, fine).reminded_term == 1
    assert load(services, broken).term == 2  # its renewal is a separate item and ran
    assert [f.key for f in advanced.failed] == [
        f"renewal_reminder:{broken.subscription.id}:1"
    ]
    failure = advanced.failed[0]
    assert failure.attempts == 1
    assert failure.error.startswith("Fault: reminder of")
    assert failure.retry_at == failure.failed_at + timedelta(minutes=1)


def test_a_failed_item_is_listed_until_it_is_retried_successfully(
    container: Container, faulty_reminders: set[UUID], held_back: HeldBack
) -> None:
    assert [f.kind for f in container.due_work.failures()] == ["renewal_reminder"]

    faulty_reminders.clear()  # the fault is repaired
    advanced = advance_clock(
        held_back.services, container.due_work, held_back.reminder_at + timedelta(minutes=1)
    )

    assert advanced.failed == []
    assert container.due_work.failures() == []
    assert held_back.reminded() == 1


def test_each_failure_of_the_same_item_doubles_its_wait(
    container: Container, held_back: HeldBack
) -> None:
    waits = []
    for _ in range(4):
        (failure,) = container.due_work.failures()
        waits.append(failure.retry_at - failure.failed_at)
        advance_clock(held_back.services, container.due_work, failure.retry_at)

    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert container.due_work.failures()[0].attempts == 5


def test_a_held_back_item_is_not_retried_before_its_retry_instant(
    container: Container, faulty_reminders: set[UUID], held_back: HeldBack
) -> None:
    faulty_reminders.clear()

    advance_clock(
        held_back.services, container.due_work, held_back.reminder_at + timedelta(seconds=59)
    )

    assert held_back.reminded() == 0
    assert len(container.due_work.failures()) == 1


def test_an_operator_retry_runs_a_failed_item_at_the_next_advance(
    container: Container, faulty_reminders: set[UUID], held_back: HeldBack
) -> None:
    faulty_reminders.clear()
    (failure,) = container.due_work.failures()

    retried = container.due_work.retry_now(failure.key, held_back.services.clock.now())
    advance_clock(
        held_back.services, container.due_work, held_back.reminder_at + timedelta(seconds=1)
    )

    assert retried is not None and retried.retry_at == held_back.reminder_at
    assert held_back.reminded() == 1
    assert container.due_work.failures() == []


def test_the_system_clock_run_performs_the_rest_when_one_item_fails(
    container: Container, faulty_reminders: set[UUID]
) -> None:
    services = container.services
    broken, fine = two_subscribers(services)
    faulty_reminders.add(broken.subscription.id)
    clock = services.clock
    assert isinstance(clock, ManualClock)
    clock.set(AFTER_FIRST_RENEWAL)

    done = run_due(services, container.due_work, clock.now())

    assert [f.aggregate_id for f in done.failed] == [broken.subscription.id]
    assert done.performed >= 3  # the fine reminder and both renewals
    assert load(services, fine).term == 2
    assert load(services, broken).term == 2


def test_a_failure_no_longer_applies_once_the_aggregate_reschedules_the_item(
    container: Container, held_back: HeldBack
) -> None:
    assert container.due_work.failures()

    # The term renews: the first term's reminder is no longer awaited.
    term_end = load(held_back.services, held_back.broken).term_end
    advance_clock(held_back.services, container.due_work, term_end)

    assert load(held_back.services, held_back.broken).term == 2
    assert [f.key for f in container.due_work.failures()] == []


def test_the_retry_delay_doubles_from_one_minute_up_to_six_hours() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 9, 10, 50, 10_000)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=256),
        timedelta(hours=6),
        timedelta(hours=6),
        timedelta(hours=6),
    ]


# --- dates recorded before they were checked ---------------------------------------------


def contract_from(services: Services, start: date, number: int) -> Contract:
    """A contract created by the handler itself, as one recorded before the API checked
    the supported range of dates."""
    opened = open_account(
        services, Caller.of("tests"), email=f"c{number}@example.com", name="C",
        username=f"c{number}", kind="free",
    ).value
    return create_contract(
        services,
        Caller.of("tests"),
        organisation_id=opened.organisation.id,
        number=number,
        start_date=start,
        term_months=12,
        licences=["research_suite"],
        notice_days=60,
        price=Money(Decimal("1000.00"), "USD"),
        primary_contact=Contact("Grace", "Owner", "grace@example.com"),
        billing_contact=Contact("Bill", "Payer", "bill@example.com"),
    ).value


def test_a_contract_starting_in_year_one_does_not_stop_the_renewals_of_others(
    container: Container,
) -> None:
    services = container.services
    fine = buy_plan(services, email="fine@example.com")
    ancient = contract_from(services, date(1, 1, 1), 11)

    advanced = advance_clock(services, container.due_work, AFTER_FIRST_RENEWAL)

    assert advanced.failed == []
    assert load(services, fine).term == 2
    renewal = services.find(Renewal, _renewal_id(ancient.id))
    assert renewal is not None and renewal.opens_on == date(1, 9, 2)


def _renewal_id(contract_id: UUID) -> UUID:
    return renewal_id_for(contract_id, 1)


def test_due_rows_written_with_an_unpadded_year_are_read_after_a_restart(
    container: Container, make_container: Callable[..., Container]
) -> None:
    services = container.services
    fine = buy_plan(services, email="fine@example.com")
    ancient = contract_from(services, date(1, 1, 1), 12)
    container.due_work.catch_up()
    renewal_id = _renewal_id(ancient.id)
    with services.database.transaction() as tx:  # as the view wrote it before years were padded
        changed = tx.execute(
            "UPDATE due_work SET due_at = '1-11-02T00:00:00.000000Z' WHERE aggregate_id = ?",
            (str(renewal_id),),
        )
    assert changed == 1

    restarted = make_container()
    advanced = advance_clock(restarted.services, restarted.due_work, AFTER_FIRST_RENEWAL)

    assert advanced.failed == []
    assert load(restarted.services, fine).term == 2
    assert restarted.services.load(Renewal, renewal_id, "renewal").escalated
