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

from infrastructure.database import STORE_DOWN_ERRORS, Database, StoreUnavailable, Transaction
from infrastructure.migrations import upgrade
from infrastructure.store import LifecycleStore

log = logging.getLogger("lifecycle.projections")

TRACKING_TABLE = """CREATE TABLE IF NOT EXISTS projection_tracking (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'live',
    error TEXT,
    failed_position BIGINT,
    generation BIGINT NOT NULL DEFAULT 1
)"""
"""``generation`` counts the swaps of side-by-side rebuilds (see ``projections.rebuild``);
a table made before them gains it (``infrastructure.migrations``)."""


Applied = tuple[int, Any, Any]
"""``(position, event, prepared)``: one event as the runner hands it to ``apply``."""


_CLEARS_FAILURE = (
    "status = CASE WHEN status = 'failed' THEN 'live' ELSE status END,"
    " error = CASE WHEN status = 'failed' THEN NULL ELSE error END,"
    " failed_position = CASE WHEN status = 'failed' THEN NULL ELSE failed_position END"
)
"""A claim that commits past a recorded failure also clears it."""

CLAIM = (
    "UPDATE projection_tracking SET position = ?, " + _CLEARS_FAILURE
    + " WHERE name = ? AND position = ?"
)


REPAIR_CHECK_SECONDS = 1.0
"""How often a failed runner looks whether a rebuild has replaced its broken copy."""


CLAIM_ALONE_FUNCTION = """CREATE OR REPLACE FUNCTION lifecycle_claim_v1(
    claim_name text, current_position bigint, new_position bigint
) RETURNS bigint LANGUAGE plpgsql AS $BODY$
DECLARE claimed bigint;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  UPDATE projection_tracking SET position = new_position, """ + _CLEARS_FAILURE + """
  WHERE name = claim_name AND position = current_position
  RETURNING position INTO claimed;
  RETURN claimed;
END;
$BODY$"""
"""The claim of a batch with no event for the projection (PostgreSQL): the same update
as ``CLAIM``, in a statement of its own without waiting for the WAL flush, one round
trip instead of a pipelined transaction. Most batches of most projections are such:
every event moves every projection's position, and each follows a few topics."""

SCHEMA_LOCK = 0x6C69_7000_0000_0001
"""Serialises our functions' ``CREATE OR REPLACE`` between processes starting together."""


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

    def check_rebuilt(self, tx: Transaction, shadow_suffix: str) -> None:
        """Refuse a rebuilt copy (by raising) before it replaces the live one.

        Called in the swap's transaction; by default any rebuilt copy is accepted."""

    def prepare(self, event: Any) -> Any:
        """Read what ``apply`` needs from outside the view (for example an aggregate
        at the event's version). Runs before the write transaction opens, so that no
        read waits on a connection while the writer is held."""
        return None

    @abstractmethod
    def apply(self, tx: Transaction, event: Any, position: int, prepared: Any) -> None:
        """Change the rows for one event, inside the transaction that tracks it."""

    def apply_batch(self, tx: Transaction, batch: Sequence[Applied]) -> None:
        """Change the rows for a batch of ``(position, event, prepared)``, in log order,
        inside the transaction that tracks them: by default one ``apply`` each; a
        projection may write the batch's rows together instead. If it raises, the
        runner rolls the batch back and applies it again one event at a time, to name
        the event that fails."""
        for position, event, prepared in batch:
            self.apply(tx, event, position, prepared)


class ProjectionRunner:
    def __init__(
        self,
        store: LifecycleStore,
        database: Database,
        projection: Projection,
        batch_size: int = 500,
        lock: Any = None,
    ) -> None:
        """``lock`` (a ``commands.scheduler.WorkLock``, e.g. a PostgreSQL advisory lock
        keyed by the projection's name) lets one process at a time follow the log in
        the background; without it the optimistic claim in ``_step`` still applies
        each event once, and other processes only waste a batch's work."""
        self.lock = lock
        self.store = store
        self.database = database
        self.projection = projection
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._interval = 0.2
        self._reached = 0  # the highest position this process has seen it at
        # The tracked position as this runner last wrote or read it; ``None`` until
        # read, and again after another runner moved it (its claim then fails).
        self._position: int | None = None
        # The settled head the head watcher last saw, for the background loop.
        self._known_head: int | None = None
        functions = (
            [f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})", CLAIM_ALONE_FUNCTION]
            if database.dialect == "postgres" and not projection.name.endswith("__next")
            else []
        )
        database.create([TRACKING_TABLE, *projection.tables, *functions])
        if not projection.name.endswith("__next"):  # a rebuild's shadow: table exists
            upgrade(database, "projection_tracking")
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
        position = int(row["position"]) if row else 0
        self._reached = max(self._reached, position)
        return position

    def status(self) -> dict[str, Any]:
        with self.database.transaction(commit=False) as tx:
            row = tx.one("SELECT * FROM projection_tracking WHERE name = ?", (self.name,))
        assert row is not None
        return row

    def catch_up(self, settle_timeout: float = 30.0) -> int:
        """Apply every event recorded so far; return the tracked position.

        On PostgreSQL an event committed already may sit above the settled head while
        an older transaction is still open (``infrastructure.recorders``): this waits up to
        ``settle_timeout`` seconds for those transactions to end, then applies up to
        the settled head and returns."""
        target = int(self.store.recorder.recorded_head() or 0)
        deadline = time.monotonic() + settle_timeout
        delay = 0.002
        with self._lock:
            while True:
                try:
                    position, done = self._step()
                except _Overtaken:
                    continue
                if done and (position >= target or time.monotonic() >= deadline):
                    return position
                if done:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)

    def _step_once(self) -> tuple[int, bool]:
        """One batch (a rebuild's progress steps): the position and whether at the head."""
        with self._lock:
            try:
                return self._step()
            except _Overtaken:
                return self.position(), False

    def _follow(self, head: int) -> None:
        """Apply everything up to ``head``, a settled head seen already (the head
        watcher's): no need to read the position or the head again for it."""
        with self._lock:
            while True:
                try:
                    _, done = self._step(head)
                except _Overtaken:
                    continue
                if done:
                    return

    def _step(self, head: int | None = None) -> tuple[int, bool]:
        current = self._position
        if current is None:
            current = self._position = self.position()
        if head is None or head <= current:
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
        self.store.mapper.prefetch(notifications)  # the batch's data keys, read together
        for notification in notifications:
            try:
                event = self.store.mapper.to_domain_event(notification)
                batch.append((notification.id, event, self.projection.prepare(event)))
            except (StoreUnavailable, *STORE_DOWN_ERRORS):
                raise  # an outage, not a poison event: the runner waits and tries again
            except Exception as error:  # a poison event stops this projection only
                raise ProjectionFailed(self.name, notification.id, error) from error
        try:
            self._write(batch, current, new_position, batched=True)
        except _BatchFailed:
            # Again, one event at a time, to find the event that fails (or to apply
            # them all, if only the batched write failed).
            self._write(batch, current, new_position, batched=False)
        self._position = new_position
        self._reached = max(self._reached, new_position)
        return new_position, new_position >= head

    def _write(
        self, batch: Sequence[Applied], current: int, new_position: int, *, batched: bool
    ) -> None:
        postgres = self.database.dialect == "postgres"
        if postgres and batched and not batch:
            self._claim_alone(current, new_position)
            return
        try:
            # A batch goes in pipeline mode on PostgreSQL: its statements are sent
            # without waiting for each answer (two round trips for the claim and the
            # commit, plus one per read a projection makes), not one round trip each.
            with self.database.transaction(pipelined=batched) as tx:
                if postgres:
                    # A view is derived data: its rows and its position commit
                    # together, so a commit lost in a database crash only means the
                    # same events are applied again from the position before it. Not
                    # waiting for the WAL flush keeps the views fresh and leaves the
                    # disk to the log's appends.
                    tx.execute("SET LOCAL synchronous_commit TO OFF")
                self._claim(tx, current, new_position)
                if batched:
                    self.projection.apply_batch(tx, batch)
                    return
                for position, event, prepared in batch:
                    try:
                        self.projection.apply(tx, event, position, prepared)
                    except (StoreUnavailable, *STORE_DOWN_ERRORS):
                        raise  # an outage, not a poison event
                    except Exception as error:  # a poison event stops this projection only
                        raise ProjectionFailed(self.name, position, error) from error
        except (_Overtaken, ProjectionFailed, StoreUnavailable, *STORE_DOWN_ERRORS):
            raise
        except Exception as error:  # a batch's failure, perhaps met only at its commit
            if batched:
                raise _BatchFailed() from error  # rolled back, then retried event by event
            raise

    def _claim_alone(self, current: int, new_position: int) -> None:
        row = self.database.one_statement(
            "SELECT lifecycle_claim_v1(%s, %s, %s) AS position",
            (self.name, current, new_position),
        )
        if row is None or row["position"] is None:
            self._position = None
            raise _Overtaken()

    def _claim(self, tx: Transaction, current: int, new_position: int) -> None:
        """Claim the batch before applying it: a concurrent runner's claim waits on the
        tracking row, then finds the position moved on, so no event is applied twice.
        A batch that commits past a failure (the code was fixed, the process
        restarted) also clears that failure."""
        params = (new_position, self.name, current)
        if tx.dialect == "postgres":  # an answer to wait for, also in pipeline mode
            claimed = tx.one(CLAIM + " RETURNING position", params) is not None
        else:
            claimed = tx.execute(CLAIM, params) == 1
        if not claimed:
            self._position = None
            raise _Overtaken()

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
        self._interval = interval
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name=f"projection-{self.name}", daemon=True
        )
        self._thread.start()

    def wake(self, head: int | None = None) -> None:
        """Look at the log now rather than at the end of the polling interval; with
        ``head``, only if this runner has not been seen to reach it already."""
        if head is not None:
            if head <= self._reached:
                return
            self._known_head = head
        self._wake.set()

    def restart_if_stopped(self) -> None:
        """After a rebuild replaced a failed copy: follow the log again (a failed runner
        also finds that out by itself, within ``REPAIR_CHECK_SECONDS``)."""
        if self._thread is not None and not self._thread.is_alive() and not self._stop.is_set():
            self.start(self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        release = getattr(self.lock, "release", None)
        if release is not None:  # a lock kept between runs: let another process follow
            release()

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            head, self._known_head = self._known_head, None
            try:
                if self.lock is None:
                    self._background_step(head)
                else:
                    with self.lock.held() as mine:
                        if mine:  # else another process follows the log for this view
                            self._background_step(head)
                        else:
                            self._position = None  # the follower elsewhere moves it
            except (StoreUnavailable, *STORE_DOWN_ERRORS) as error:
                log.warning("projection %s waits for the store: %s", self.name, error)
            except ProjectionFailed as error:
                log.error("%s", error)
                self._record_failure(error)
                if not self._wait_for_repair():
                    return
                continue
            self._wake.wait(interval)
            self._wake.clear()

    def _wait_for_repair(self) -> bool:
        """After a failure: wait until the projection is ``live`` again, which a rebuild
        that swaps in a repaired copy makes it, in this process or in another one (an
        HTTP worker of ``lifecycle serve --workers N``); ``False`` once stopped."""
        while not self._stop.wait(REPAIR_CHECK_SECONDS):
            try:
                if self.status()["status"] == "live":
                    self._position = None  # the rebuild's swap moved it
                    log.info("projection %s follows the log again", self.name)
                    return True
            except (StoreUnavailable, *STORE_DOWN_ERRORS) as error:
                log.warning("projection %s waits for the store: %s", self.name, error)
        return False

    def _background_step(self, head: int | None) -> None:
        if head is None:
            self.catch_up(settle_timeout=0)
        else:
            self._follow(head)

    def _record_failure(self, error: ProjectionFailed) -> None:
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE projection_tracking SET status = 'failed', error = ?, failed_position = ?"
                " WHERE name = ?",
                (repr(error.cause), error.position, self.name),
            )


class HeadWatcher:
    """One thread per process that watches the settled head and wakes the runners
    behind it: views follow a commit within ``interval`` seconds, for one cheap query
    per interval (an index lookup), instead of one query per runner."""

    def __init__(
        self, store: LifecycleStore, runners: Sequence[ProjectionRunner], interval: float
    ) -> None:
        self.store = store
        self.runners = tuple(runners)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="projection-head", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        seen = -1
        while not self._stop.wait(self.interval):
            try:
                head = int(self.store.recorder.max_notification_id() or 0)
            except STORE_DOWN_ERRORS as error:
                log.warning("the head watcher waits for the store: %s", error)
                continue
            if head != seen:
                seen = head
                for runner in self.runners:
                    runner.wake(head)


class _Overtaken(Exception):
    """Another runner moved the position first: this batch was rolled back."""


class _BatchFailed(Exception):
    """A projection's batched write failed: the batch was rolled back."""
