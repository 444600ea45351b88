"""Following the event log: a projection's rows and its tracked position are written
in one transaction, so an event is applied exactly once, also after a crash.

eventsourcing's own ``ProjectionRunner`` needs the recorder's ``subscribe()``, which the
SQLite recorder lacks; this runner polls the notification log from the tracked
position instead, on both backends.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from commands.database import Database, StoreUnavailable, Transaction
from commands.store import LifecycleStore

log = logging.getLogger("lifecycle.projections")

TRACKING_TABLE = """CREATE TABLE IF NOT EXISTS projection_tracking (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'live',
    error TEXT,
    failed_position BIGINT
)"""


class ProjectionFailed(Exception):
    """An event the projection could not apply; it stops at that position."""

    def __init__(self, name: str, position: int, cause: BaseException) -> None:
        super().__init__(f"projection {name} failed at position {position}: {cause!r}")
        self.position = position
        self.cause = cause


class Projection(ABC):
    """A read model: its tables, and how each event changes its rows."""

    name: str
    tables: Sequence[str] = ()
    topics: Sequence[str] = ()

    def prepare(self, event: Any) -> Any:
        """Read what ``apply`` needs from outside the view (for example an aggregate
        at the event's version). Runs before the write transaction opens, so that no
        read waits on a connection while the writer is held."""
        return None

    @abstractmethod
    def apply(self, tx: Transaction, event: Any, position: int, prepared: Any) -> None:
        """Change the rows for one event, inside the transaction that tracks it."""


class ProjectionRunner:
    def __init__(
        self,
        store: LifecycleStore,
        database: Database,
        projection: Projection,
        batch_size: int = 500,
    ) -> None:
        self.store = store
        self.database = database
        self.projection = projection
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        database.create([TRACKING_TABLE, *projection.tables])
        with database.transaction() as tx:
            tx.execute(
                "INSERT INTO projection_tracking (name, position) VALUES (?, 0)"
                " ON CONFLICT (name) DO NOTHING",
                (projection.name,),
            )

    @property
    def name(self) -> str:
        return self.projection.name

    def position(self) -> int:
        with self.database.transaction(commit=False) as tx:
            row = tx.one("SELECT position FROM projection_tracking WHERE name = ?", (self.name,))
        return int(row["position"]) if row else 0

    def status(self) -> dict[str, Any]:
        with self.database.transaction(commit=False) as tx:
            row = tx.one("SELECT * FROM projection_tracking WHERE name = ?", (self.name,))
        assert row is not None
        return row

    def catch_up(self) -> int:
        """Apply every event recorded so far; return the tracked position."""
        with self._lock:
            while True:
                try:
                    position, done = self._step()
                except _Overtaken:
                    continue
                if done:
                    return position

    def _step(self) -> tuple[int, bool]:
        current = self.position()
        head = int(self.store.recorder.max_notification_id() or 0)
        if current >= head:
            return current, True
        notifications = self.store.recorder.select_notifications(
            start=current + 1,
            limit=self.batch_size,
            stop=head,
            topics=tuple(self.projection.topics),
        )
        full = len(notifications) == self.batch_size
        new_position = notifications[-1].id if full else head
        batch = []
        for notification in notifications:
            try:
                event = self.store.mapper.to_domain_event(notification)
                batch.append((notification.id, event, self.projection.prepare(event)))
            except StoreUnavailable:
                raise
            except Exception as error:  # a poison event stops this projection only
                raise ProjectionFailed(self.name, notification.id, error) from error
        with self.database.transaction() as tx:
            for position, event, prepared in batch:
                try:
                    self.projection.apply(tx, event, position, prepared)
                except StoreUnavailable:
                    raise
                except Exception as error:  # a poison event stops this projection only
                    raise ProjectionFailed(self.name, position, error) from error
            moved = tx.execute(
                "UPDATE projection_tracking SET position = ? WHERE name = ? AND position = ?",
                (new_position, self.name, current),
            )
            if moved != 1:
                raise _Overtaken()
        return new_position, new_position >= head

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait until the projection has applied ``position``; ``False`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            if self.position() >= position:
                return True
            self._wake.set()
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    # --- running in the background -----------------------------------------------

    def start(self, interval: float = 0.2) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name=f"projection-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.catch_up()
            except StoreUnavailable as error:
                log.warning("projection %s waits for the store: %s", self.name, error)
            except ProjectionFailed as error:
                log.error("%s", error)
                self._record_failure(error)
                return
            self._wake.wait(interval)
            self._wake.clear()

    def _record_failure(self, error: ProjectionFailed) -> None:
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE projection_tracking SET status = 'failed', error = ?, failed_position = ?"
                " WHERE name = ?",
                (repr(error.cause), error.position, self.name),
            )


class _Overtaken(Exception):
    """Another runner moved the position first: this batch was rolled back."""
