"""Time-driven work: renewals, retries, reminders, expiries; under the system clock by
the scheduler, under the manual clock by an explicit advance."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol
from uuid import UUID

from commands.clock import ManualClock
from commands.context import Caller
from commands.contracts import open_renewal_window
from commands.messages import Outbox
from commands.renewals import end_term, escalate_overdue
from commands.services import Services, retrying
from commands.subscriptions import follow_expiry, take_renewal_charge
from infrastructure.database import STORE_DOWN_ERRORS, StoreUnavailable
from lifecycle.account import Account
from lifecycle.contract import RENEWAL_WINDOW
from lifecycle.due import DueItem
from lifecycle.errors import Conflict
from lifecycle.organisation import Organisation
from lifecycle.renewal import OVERDUE, TERM_END
from lifecycle.subscription import Subscription

log = logging.getLogger("lifecycle.time_driven")


@dataclass(frozen=True)
class FailedItem:
    """A due item whose work raised: held back until ``retry_at`` while the rest of
    the queue runs, and shown to operators with its error."""

    key: str
    kind: str
    aggregate_id: UUID
    due_at: datetime
    attempts: int
    error: str
    failed_at: datetime
    retry_at: datetime

    def shown(self) -> dict[str, object]:
        return {
            "key": self.key,
            "kind": self.kind,
            "aggregate_id": str(self.aggregate_id),
            "due_at": _instant(self.due_at),
            "attempts": self.attempts,
            "error": self.error,
            "failed_at": _instant(self.failed_at),
            "retry_at": _instant(self.retry_at),
        }


def _instant(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


RETRY_FIRST = timedelta(minutes=1)
RETRY_MOST = timedelta(hours=6)


def retry_delay(attempts: int) -> timedelta:
    """How long a due item that has failed ``attempts`` times in a row waits before it
    is tried again: one minute, doubling with each failure, at most six hours."""
    return min(RETRY_MOST, RETRY_FIRST * (1 << min(attempts - 1, 20)))


class DueWork(Protocol):
    """Where the scheduler learns what is due when (the due-work projection), and
    where it keeps the items whose work failed."""

    def catch_up(self) -> int:
        """Bring the due-work view up to the log head; return its position."""

    def due(self, until: datetime, limit: int) -> list[DueItem]:
        """Items to perform at or before ``until``, earliest first. An item whose work
        failed comes back at its retry instant (its ``due_at``), not before."""

    def failed(self, item: DueItem, error: str, at: datetime) -> FailedItem:
        """Record that ``item``'s work raised ``error`` at ``at``; hold it back."""

    def succeeded(self, item: DueItem) -> None:
        """Forget an earlier failure of ``item``, if there was one."""

    def failures(self) -> list[FailedItem]:
        """The items held back by a failure, earliest due first."""

    def retry_now(self, key: str, at: datetime) -> FailedItem | None:
        """Make a held-back item due again at ``at`` (``None`` if none has that key)."""


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

    def failed(self, item: DueItem, error: str, at: datetime) -> FailedItem:
        return self.due_work.failed(item, error, at)

    def succeeded(self, item: DueItem) -> None:
        self.due_work.succeeded(item)

    def failures(self) -> list[FailedItem]:
        return self.due_work.failures()

    def retry_now(self, key: str, at: datetime) -> FailedItem | None:
        return self.due_work.retry_now(key, at)


class ClockNotManual(Conflict):
    slug = "clock-not-manual"


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


@dataclass
class WorkDone:
    """What one run of the due work did: how many items it performed, and the ones
    whose work failed (each held back for a retry while the rest ran)."""

    performed: int = 0
    failed: list[FailedItem] = field(default_factory=list)


STORE_DOWN: tuple[type[BaseException], ...] = (StoreUnavailable, *STORE_DOWN_ERRORS)
"""Errors that say the database is gone rather than that an item is at fault: they end
the run (every item would fail alike) and the next run starts over."""


def _next_unseen(due_work: DueWork, until: datetime, seen: set[str]) -> DueItem | None:
    due_work.catch_up()
    for item in due_work.due(until, len(seen) + 20):
        if f"{item.key}@{item.due_at.isoformat()}" not in seen and item.key not in seen:
            return item
    return None


def _perform(services: Services, due_work: DueWork, item: DueItem, done: WorkDone) -> None:
    """Perform one item; should its work raise, record the failure and carry on (a
    store outage ends the run instead)."""
    try:
        if isinstance(due_work, ObservedDueWork):
            with due_work.observer.performing(item):
                perform(services, item)
        else:
            perform(services, item)
    except STORE_DOWN:
        raise
    except Exception as error:  # isolated: recorded, shown to operators, retried later
        failure = due_work.failed(item, _describe(error), services.clock.now())
        log.error(
            "due item %s failed (attempt %d); retried at %s",
            item.key,
            failure.attempts,
            failure.retry_at.isoformat(),
            exc_info=True,
            extra={"due_item": item.key, "kind": item.kind},
        )
        done.failed.append(failure)
        return
    due_work.succeeded(item)
    done.performed += 1


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:1000]


def _mark_seen(seen: set[str], item: DueItem) -> None:
    seen.add(f"{item.key}@{item.due_at.isoformat()}")


def run_due(services: Services, due_work: DueWork, now: datetime) -> WorkDone:
    """Perform everything due at or before ``now`` (system clock), earliest first,
    including work that earlier items create. Each item is tried once per run, so an
    item its aggregate no longer considers due cannot hold the loop, and one whose work
    fails is held back for a later retry while the others run."""
    seen: set[str] = set()
    done = WorkDone()
    while (item := _next_unseen(due_work, now, seen)) is not None:
        _mark_seen(seen, item)
        _perform(services, due_work, item, done)
        if done.failed and done.failed[-1].key == item.key:
            seen.add(item.key)  # not again in this run, whatever its retry instant
    return done


@dataclass(frozen=True)
class Advanced:
    position: int
    """The log head after the work."""
    failed: list[FailedItem]
    """The items whose work failed during the advance, held back for a retry."""


def advance_clock(services: Services, due_work: DueWork, to: datetime) -> Advanced:
    """Under the manual clock: perform every item due up to ``to`` in due order, with the
    clock at each item's instant (including items that earlier ones create), then set
    the clock to ``to``. An item whose work fails is recorded and held back; the others
    run. Returns the log head after the work and the items that failed."""
    clock = services.clock
    if not isinstance(clock, ManualClock):
        raise ClockNotManual("the clock can only be advanced when LIFECYCLE_CLOCK=manual")
    if to < clock.now():
        clock.set(to)  # refuses: the clock does not go backwards
    seen: set[str] = set()
    done = WorkDone()
    while (item := _next_unseen(due_work, to, seen)) is not None:
        _mark_seen(seen, item)
        if item.due_at > clock.now():
            clock.set(item.due_at)
        _perform(services, due_work, item, done)
        if done.failed and done.failed[-1].key == item.key:
            seen.add(item.key)
    clock.set(to)
    due_work.catch_up()
    return Advanced(services.head(), done.failed)
