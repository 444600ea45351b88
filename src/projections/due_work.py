"""The due-work view: what time-driven work each aggregate awaits, and when.

For each event of an aggregate that has time-driven work, the aggregate is read at
that event's version and its ``due_work()`` replaces its rows, so the view always
says what the aggregate itself would say.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from commands.database import Database, Transaction
from commands.store import LifecycleStore
from eventsourcing.utils import get_topic
from lifecycle.contract import Contract
from lifecycle.due import DueItem
from lifecycle.organisation import Organisation
from lifecycle.renewal import Renewal
from lifecycle.subscription import Subscription
from projections.recent import RecentAggregates
from projections.runner import Projection, ProjectionRunner

INSTANT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def instant_key(instant: datetime) -> str:
    """A sortable text form of an instant, in UTC."""
    return instant.astimezone(timezone.utc).strftime(INSTANT_FORMAT)


def _topics_of(*classes: type) -> list[str]:
    topics = []
    for cls in classes:
        for value in vars(cls).values():
            if isinstance(value, type) and issubclass(value, cls.Event):  # type: ignore[attr-defined]
                topics.append(get_topic(value))
    return topics


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
        self.topics = _topics_of(Subscription, Organisation, Contract, Renewal)
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


class DueWorkView:
    """The scheduler's port onto the due-work projection."""

    def __init__(self, runner: ProjectionRunner, database: Database) -> None:
        self.runner = runner
        self.database = database

    def catch_up(self) -> int:
        return self.runner.catch_up()

    def due(self, until: datetime, limit: int) -> list[DueItem]:
        with self.database.transaction(commit=False) as tx:
            rows = tx.all(
                "SELECT key, aggregate_id, kind, due_at FROM due_work WHERE due_at <= ?"
                " ORDER BY due_at, key LIMIT ?",
                (instant_key(until), limit),
            )
        return [
            DueItem(
                due_at=datetime.strptime(row["due_at"], INSTANT_FORMAT).replace(tzinfo=timezone.utc),
                kind=row["kind"],
                aggregate_id=UUID(row["aggregate_id"]),
                key=row["key"],
            )
            for row in rows
        ]
