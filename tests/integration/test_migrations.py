"""A database that an older release created is brought up to the current tables at
start, on both stores, and starting again (or twice at once) changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.idempotency import IdempotencyStore
from infrastructure.migrations import MIGRATIONS, columns
from infrastructure.store import LifecycleStore, persistence_env
from projections.runner import Projection, ProjectionRunner


class Nothing(Projection):
    name = "nothing"

    def apply(self, tx: Any, event: Any, position: int, prepared: Any) -> None:
        pass


@pytest.fixture
def store(database_url: str) -> Iterator[LifecycleStore]:
    store = LifecycleStore(env=persistence_env(database_url))
    yield store
    store.close()


def test_a_tracking_table_made_before_rebuilds_gains_its_generation_and_keeps_its_positions(
    store: LifecycleStore,
) -> None:
    database = store.database
    database.create(
        [
            """CREATE TABLE projection_tracking (
                name TEXT PRIMARY KEY, position BIGINT NOT NULL,
                status TEXT NOT NULL DEFAULT 'live', error TEXT, failed_position BIGINT)"""
        ]
    )
    with database.transaction() as tx:
        tx.execute("INSERT INTO projection_tracking (name, position) VALUES ('nothing', 7)")

    runner = ProjectionRunner(store, database, Nothing())
    ProjectionRunner(store, database, Nothing())  # a second process starting on it

    assert runner.position() == 7
    assert runner.status()["generation"] == 1


def test_every_migration_names_a_column_its_table_is_created_with(
    store: LifecycleStore,
) -> None:
    IdempotencyStore(store.database)
    ProjectionRunner(store, store.database, Nothing())
    with store.database.transaction(commit=False) as tx:
        for step in MIGRATIONS:
            assert step.column in columns(tx, step.table), step
