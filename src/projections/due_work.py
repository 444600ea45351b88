"""The due-work view: what time-driven work each aggregate awaits, and when.

For each event of an aggregate that has time-driven work, the aggregate is read at
that event's version and its ``due_work()`` replaces its rows, so the view always
says what the aggregate itself would say.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from commands.time_driven import FailedItem, retry_delay
from infrastructure.database import Database, Transaction
from infrastructure.store import LifecycleStore
from lifecycle.contract import Contract
from lifecycle.due import DueItem
from lifecycle.organisation import Organisation
from lifecycle.renewal import Renewal
from lifecycle.subscription import Subscription
from projections.recent import RecentAggregates
from projections.runner import Projection, ProjectionRunner
from projections.topics import event_topics

INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""How ``instant_key`` writes an instant (``strptime`` reads it back)."""

_UNPADDED = re.compile(r"(\d{1,4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{6})Z")


def instant_key(instant: datetime) -> str:
    """A sortable text form of an instant, in UTC, always with a four-digit year
    (``strftime("%Y")`` leaves years before 1000 unpadded, which neither sorts nor reads
    back)."""
    utc = instant.astimezone(timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def instant_of_key(text: str) -> datetime:
    """The instant ``instant_key`` wrote; also reads the unpadded years of rows written
    before it padded them (``ValueError`` for anything else)."""
    match = _UNPADDED.fullmatch(text)
    if match is None:
        raise ValueError(f"not an instant key: {text[:40]!r}")
    year, month, day, hour, minute, second, micro = map(int, match.groups())
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)


class DueWorkProjection(Projection):
    name = "due_work"
    tables = (
        """CREATE TABLE IF NOT EXISTS due_work (
            key TEXT PRIMARY KEY,
            aggregate_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            due_at TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS due_work_by_time ON due_work (due_at)",
        "CREATE INDEX IF NOT EXISTS due_work_by_aggregate ON due_work (aggregate_id)",
    )

    def __init__(self, store: LifecycleStore) -> None:
        self.store = store
        self.topics = event_topics(Subscription, Organisation, Contract, Renewal)
        self.aggregates = RecentAggregates(store)

    def prepare(self, event: Any) -> list[DueItem]:
        if isinstance(event, Organisation.PersonalDataErased):
            self.aggregates.clear()  # copies made before it hold values it removed
        return list(self.aggregates.at(event).due_work())

    def apply(self, tx: Transaction, event: Any, position: int, prepared: list[DueItem]) -> None:
        tx.execute("DELETE FROM due_work WHERE aggregate_id = ?", (str(event.originator_id),))
        tx.executemany(
            "INSERT INTO due_work (key, aggregate_id, kind, due_at) VALUES (?, ?, ?, ?)",
            [
                (item.key, str(item.aggregate_id), item.kind, instant_key(item.due_at))
                for item in prepared
            ],
        )


FAILURES_TABLE = """CREATE TABLE IF NOT EXISTS due_work_failures (
    key TEXT PRIMARY KEY,
    due_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    failed_at TEXT NOT NULL,
    retry_at TEXT NOT NULL
)"""
"""Due items whose work failed, beside the view (a rebuild of the view leaves it be): a
failure holds back the item it names, ``key`` at ``due_at``, until ``retry_at``. Once
the aggregate schedules that key at another instant, or no longer at all, the failure
no longer applies."""

_ITEM = "w.key, w.aggregate_id, w.kind, w.due_at"
_FAILURE = "f.key, f.due_at, f.kind, f.aggregate_id, f.attempts, f.error, f.failed_at, f.retry_at"
_CURRENT = "JOIN due_work w ON w.key = f.key AND w.due_at = f.due_at"


class DueWorkView:
    """The scheduler's port onto the due-work projection, and the ledger of the items
    whose work failed (``commands.time_driven.DueWork``)."""

    def __init__(self, runner: ProjectionRunner, database: Database) -> None:
        self.runner = runner
        self.database = database
        database.create([FAILURES_TABLE])
        self._pad_years()
        self._held: set[str] = set()
        """Keys of failed items the last ``due`` returned for a retry: only those have
        a failure to forget when they succeed."""

    def _pad_years(self) -> None:
        """Rewrite the rows written before ``instant_key`` padded years before 1000
        (they neither sorted nor read back as instants)."""
        with self.database.transaction() as tx:
            rows = tx.all("SELECT key, due_at FROM due_work WHERE due_at NOT LIKE ?", ("____-%",))
            tx.executemany(
                "UPDATE due_work SET due_at = ? WHERE key = ?",
                [(instant_key(instant_of_key(row["due_at"])), row["key"]) for row in rows],
            )

    def catch_up(self) -> int:
        return self.runner.catch_up()

    def due(self, until: datetime, limit: int) -> list[DueItem]:
        """Items to perform at or before ``until``, earliest first: the view's rows that
        no failure holds back (in the order of its time index), merged with failed
        items whose retry instant has come (due at that instant)."""
        until_key = instant_key(until)
        with self.database.transaction(commit=False) as tx:
            rows = tx.all(
                f"SELECT {_ITEM} FROM due_work w WHERE w.due_at <= ? AND NOT EXISTS"
                " (SELECT 1 FROM due_work_failures f WHERE f.key = w.key AND f.due_at = w.due_at)"
                " ORDER BY w.due_at, w.key LIMIT ?",
                (until_key, limit),
            )
            retries = tx.all(
                f"SELECT {_FAILURE} FROM due_work_failures f {_CURRENT}"
                " WHERE f.retry_at <= ? ORDER BY f.retry_at, f.key LIMIT ?",
                (until_key, limit),
            )
        self._held = {row["key"] for row in retries}
        items = [_item(row, row["due_at"]) for row in rows]
        items += [_item(row, row["retry_at"]) for row in retries]
        return sorted(items, key=lambda item: (item.due_at, item.key))[:limit]

    def failed(self, item: DueItem, error: str, at: datetime) -> FailedItem:
        """Record the failure of ``item``'s work (one more attempt if it had failed
        before at the same due instant) and hold it back until its retry instant."""
        with self.database.transaction() as tx:
            row = tx.one(
                f"SELECT {_ITEM}, f.attempts FROM due_work w LEFT JOIN due_work_failures f"
                " ON f.key = w.key AND f.due_at = w.due_at WHERE w.key = ?",
                (item.key,),
            )
            due_at = row["due_at"] if row else instant_key(item.due_at)
            attempts = (row["attempts"] or 0) + 1 if row else 1
            retry_at = at + retry_delay(attempts)
            values = (
                due_at,
                item.kind,
                str(item.aggregate_id),
                attempts,
                error,
                instant_key(at),
                instant_key(retry_at),
                item.key,
            )
            updated = tx.execute(
                "UPDATE due_work_failures SET due_at = ?, kind = ?, aggregate_id = ?,"
                " attempts = ?, error = ?, failed_at = ?, retry_at = ? WHERE key = ?",
                values,
            )
            if not updated:
                tx.execute(
                    "INSERT INTO due_work_failures (due_at, kind, aggregate_id, attempts,"
                    " error, failed_at, retry_at, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
        self._held.discard(item.key)
        return FailedItem(
            key=item.key,
            kind=item.kind,
            aggregate_id=item.aggregate_id,
            due_at=instant_of_key(due_at),
            attempts=attempts,
            error=error,
            failed_at=at,
            retry_at=retry_at,
        )

    def succeeded(self, item: DueItem) -> None:
        if item.key not in self._held:
            return
        with self.database.transaction() as tx:
            tx.execute("DELETE FROM due_work_failures WHERE key = ?", (item.key,))
        self._held.discard(item.key)

    def failures(self) -> list[FailedItem]:
        """The items a failure holds back now (failures of items no longer scheduled
        at that instant are left out)."""
        with self.database.transaction(commit=False) as tx:
            rows = tx.all(
                f"SELECT {_FAILURE} FROM due_work_failures f {_CURRENT} ORDER BY f.due_at, f.key"
            )
        return [_failure(row) for row in rows]

    def retry_now(self, key: str, at: datetime) -> FailedItem | None:
        """Bring a held-back item's retry forward to ``at`` (an operator's retry)."""
        with self.database.transaction() as tx:
            tx.execute(
                "UPDATE due_work_failures SET retry_at = ? WHERE key = ?", (instant_key(at), key)
            )
            row = tx.one(f"SELECT {_FAILURE} FROM due_work_failures f {_CURRENT} WHERE f.key = ?", (key,))
        return None if row is None else _failure(row)


def _item(row: dict[str, Any], due_at: str) -> DueItem:
    return DueItem(
        due_at=instant_of_key(due_at),
        kind=row["kind"],
        aggregate_id=UUID(row["aggregate_id"]),
        key=row["key"],
    )


def _failure(row: dict[str, Any]) -> FailedItem:
    return FailedItem(
        key=row["key"],
        kind=row["kind"],
        aggregate_id=UUID(row["aggregate_id"]),
        due_at=instant_of_key(row["due_at"]),
        attempts=int(row["attempts"]),
        error=row["error"],
        failed_at=instant_of_key(row["failed_at"]),
        retry_at=instant_of_key(row["retry_at"]),
    )
