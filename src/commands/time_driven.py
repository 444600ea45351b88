"""Time-driven work: renewals, retries, reminders, expiries; under the system clock by
the scheduler, under the manual clock by an explicit advance."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from commands.clock import ManualClock
from commands.context import Caller
from commands.contracts import open_renewal_window
from commands.messages import Outbox
from commands.renewals import end_term, escalate_overdue
from commands.services import Services, retrying
from commands.subscriptions import follow_expiry, take_renewal_charge
from lifecycle.account import Account
from lifecycle.contract import RENEWAL_WINDOW
from lifecycle.due import DueItem
from lifecycle.errors import Conflict
from lifecycle.organisation import Organisation
from lifecycle.renewal import OVERDUE, TERM_END
from lifecycle.subscription import Subscription

log = logging.getLogger("lifecycle.time_driven")


class DueWork(Protocol):
    """Where the scheduler learns what is due when (the due-work projection)."""

    def catch_up(self) -> int:
        """Bring the due-work view up to the log head; return its position."""

    def due(self, until: datetime, limit: int) -> list[DueItem]:
        """Items due at or before ``until``, earliest first."""


class WorkObserver(Protocol):
    """Told of each due item performed (the service's logs and metrics)."""

    def performing(self, item: DueItem) -> AbstractContextManager[object]:
        """A context around the item's work; an error leaving the work passes through it."""


@dataclass(frozen=True)
class ObservedDueWork:
    """A ``DueWork`` whose performed items are reported to ``observer``: what the
    factory hands to the scheduler and to the clock advance."""

    due_work: DueWork
    observer: WorkObserver

    def catch_up(self) -> int:
        return self.due_work.catch_up()

    def due(self, until: datetime, limit: int) -> list[DueItem]:
        return self.due_work.due(until, limit)


class ClockNotManual(Conflict):
    slug = "clock-not-manual"
    title = "The clock only moves by itself"


def perform(services: Services, item: DueItem) -> None:
    """Do one due item if it is still due; doing it twice changes nothing."""
    caller = Caller.scheduler(item.key)
    handler = HANDLERS.get(item.kind)
    if handler is None:
        log.error("no handler for due work of kind %s (%s)", item.kind, item.key)
        return
    handler(services, caller, item)


def _renew(services: Services, caller: Caller, item: DueItem) -> None:
    take_renewal_charge(services, caller, item.aggregate_id)


def _remind(services: Services, caller: Caller, item: DueItem) -> None:
    def attempt() -> None:
        subscription = services.load(Subscription, item.aggregate_id, "subscription")
        change = caller.change(services.clock.now())
        if not subscription.reminder_due(change.at):
            return
        subscription.record_reminder_sent(change)
        buyer = services.load(Account, subscription.buyer_account_id, "account")
        outbox = Outbox(services.links)
        messages = [outbox.renewal_reminder(buyer, subscription, change)]
        if subscription.card_expires_before_renewal():
            messages.append(outbox.card_expiring(buyer, subscription, change))
        services.save(subscription, *messages)

    retrying(attempt)


def _expire(services: Services, caller: Caller, item: DueItem) -> None:
    def attempt() -> None:
        subscription = services.load(Subscription, item.aggregate_id, "subscription")
        change = caller.change(services.clock.now())
        if not subscription.expiry_due(change.at):
            return
        subscription.expire_at_term_end(change)
        services.save(subscription, *follow_expiry(services, subscription, change, False))

    retrying(attempt)


def _end_trial(services: Services, caller: Caller, item: DueItem) -> None:
    def attempt() -> None:
        organisation = services.load(Organisation, item.aggregate_id, "organisation")
        organisation.end_trial(caller.change(services.clock.now()))
        services.save(organisation)

    retrying(attempt)


HANDLERS: dict[str, Callable[[Services, Caller, DueItem], None]] = {
    "renewal": _renew,
    "renewal_reminder": _remind,
    "expiry": _expire,
    "trial_expiry": _end_trial,
    RENEWAL_WINDOW: open_renewal_window,
    OVERDUE: escalate_overdue,
    TERM_END: end_term,
}


def _next_unseen(due_work: DueWork, until: datetime, seen: set[str]) -> DueItem | None:
    due_work.catch_up()
    for item in due_work.due(until, len(seen) + 20):
        if f"{item.key}@{item.due_at.isoformat()}" not in seen:
            return item
    return None


def _perform(services: Services, due_work: DueWork, item: DueItem) -> None:
    if isinstance(due_work, ObservedDueWork):
        with due_work.observer.performing(item):
            perform(services, item)
    else:
        perform(services, item)


def run_due(services: Services, due_work: DueWork, now: datetime) -> int:
    """Perform everything due at or before ``now`` (system clock), earliest first,
    including work that earlier items create. Each item is tried once per run, so an
    item its aggregate no longer considers due cannot hold the loop. Returns items done."""
    seen: set[str] = set()
    while (item := _next_unseen(due_work, now, seen)) is not None:
        seen.add(f"{item.key}@{item.due_at.isoformat()}")
        _perform(services, due_work, item)
    return len(seen)


def advance_clock(services: Services, due_work: DueWork, to: datetime) -> int:
    """Under the manual clock: perform every item due up to ``to`` in due order, with the
    clock at each item's instant (including items that earlier ones create), then set
    the clock to ``to``. Returns the log head after the work."""
    clock = services.clock
    if not isinstance(clock, ManualClock):
        raise ClockNotManual("the clock can only be advanced when LIFECYCLE_CLOCK=manual")
    if to < clock.now():
        clock.set(to)  # refuses: the clock does not go backwards
    seen: set[str] = set()
    while (item := _next_unseen(due_work, to, seen)) is not None:
        seen.add(f"{item.key}@{item.due_at.isoformat()}")
        if item.due_at > clock.now():
            clock.set(item.due_at)
        _perform(services, due_work, item)
    clock.set(to)
    due_work.catch_up()
    return services.head()
