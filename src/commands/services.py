"""What every handler works with: the store, the clock, the gateway, the outbox."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from commands.clock import Clock
from commands.links import LinkSigner
from commands.payments import PaymentGateway
from infrastructure.database import Database
from infrastructure.recorders import SideWrite
from infrastructure.store import LifecycleStore
from lifecycle.catalogue import Catalogue
from lifecycle.datacenters import AddressRange
from lifecycle.errors import Conflict, DomainError, NotFound

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")

CONFLICT_DEADLINE_SECONDS = 5.0
"""How long a command without ``If-Match`` keeps trying when other writers keep getting
to its aggregates first, before it answers that the resource is busy."""
FIRST_BACKOFF_SECONDS = 0.002
MOST_BACKOFF_SECONDS = 0.2

SaveHook = Callable[[Sequence[Aggregate], "DomainError | None"], Sequence[SideWrite]]
"""Given the aggregates about to be saved (their events still pending) and the refusal
the command will answer with, if any: statements to run in the save's transaction."""

_save_hook: ContextVar[SaveHook | None] = ContextVar("lifecycle_save_hook", default=None)


@contextmanager
def with_every_save(hook: SaveHook) -> Iterator[None]:
    """Within this context (one request: it follows into the worker thread that runs
    the handler), every ``Services.save`` that records events also runs ``hook``'s
    statements in its transaction, before any other side write. The HTTP layer uses it
    to mark an Idempotency-Key's command as committed exactly when its events are."""
    token = _save_hook.set(hook)
    try:
        yield
    finally:
        _save_hook.reset(token)


class VersionConflict(Conflict):
    """``If-Match`` named a version the resource has moved on from."""

    slug = "version-conflict"


@dataclass
class Services:
    store: LifecycleStore
    database: Database
    clock: Clock
    gateway: PaymentGateway
    catalogue: Catalogue
    address_ranges: Sequence[AddressRange]
    links: LinkSigner
    account_services_email: str

    # --- reading -------------------------------------------------------------------

    def load(self, kind: type[A], aggregate_id: UUID, what: str) -> A:
        try:
            aggregate = self.store.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} {aggregate_id} not found") from None
        if not isinstance(aggregate, kind):
            raise NotFound(f"{what} {aggregate_id} not found")
        return aggregate

    def find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        try:
            aggregate = self.store.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None

    # --- writing ---------------------------------------------------------------------

    def save(
        self,
        *aggregates: Aggregate | None,
        side_writes: Sequence[SideWrite] = (),
        refusal: DomainError | None = None,
    ) -> int:
        """Record every pending event of the given aggregates in one transaction.

        ``side_writes`` (SQL with ``?`` placeholders, and parameters) run in that same
        transaction after the events, so they commit exactly when the events do; they
        are skipped when there is nothing to record. ``refusal`` is the error the
        command raises right after this save (a declined payment is recorded, then
        refused): the hook of ``with_every_save`` records it as the command's answer.

        Returns the log position of the last event, or the log head when there was
        nothing to record.
        """
        present = [a for a in aggregates if a is not None]
        hook = _save_hook.get()
        if hook is not None and any(a.pending_events for a in present):
            side_writes = (*hook(present, refusal), *side_writes)
        recordings = self.store.save(*present, side_writes=tuple(side_writes))
        if recordings:
            return int(recordings[-1].notification.id)
        return self.head()

    def head(self) -> int:
        """The last position committed so far (views reach it once every transaction
        older than it has ended: see ``infrastructure.recorders``)."""
        return int(self.store.recorder.recorded_head() or 0)


def check_version(aggregate: Aggregate, if_match: int | None) -> None:
    if if_match is not None and aggregate.version != if_match:
        raise VersionConflict(
            f"the resource is at version {aggregate.version}, not {if_match}",
            current_version=aggregate.version,
        )


class ResourceBusy(DomainError):
    """Other writers kept changing the command's aggregates until its deadline passed."""

    slug = "resource-busy"


def retrying(
    attempt: Callable[[], R],
    if_match: int | None = None,
    deadline_seconds: float = CONFLICT_DEADLINE_SECONDS,
) -> R:
    """Run a load-decide-save attempt again when another writer got there first, after
    a short random wait that doubles with each conflict (so that racing commands spread
    out), until it applies or ``deadline_seconds`` have passed (``ResourceBusy``).

    With ``If-Match`` the caller asked for one version: a concurrent write is then
    a version conflict rather than a reason to try again.
    """
    deadline = time.monotonic() + deadline_seconds
    backoff = FIRST_BACKOFF_SECONDS
    while True:
        try:
            return attempt()
        except IntegrityError:
            if if_match is not None:
                raise VersionConflict("the resource changed while the command ran") from None
        wait = _jitter.uniform(backoff / 2, backoff)
        if time.monotonic() + wait >= deadline:
            raise ResourceBusy(
                f"other commands kept changing the resource for {deadline_seconds:g} s; retry"
            )
        time.sleep(wait)
        backoff = min(backoff * 2, MOST_BACKOFF_SECONDS)


_jitter = random.Random()
