"""After PostgreSQL restarts, the service's pooled connections are found dead before
they are lent, so the first command after the restart succeeds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eventsourcing.domain import Aggregate, event

from infrastructure.database import Database
from infrastructure.store import LifecycleStore, persistence_env
from pg_cluster import PostgresCluster


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with PostgresCluster() as cluster:
        yield cluster


def test_the_first_save_after_a_database_restart_succeeds(cluster: PostgresCluster) -> None:
    store = LifecycleStore(env=persistence_env(cluster.url + "?pool_size=2&max_overflow=0"))
    try:
        database = Database(store.recorder.datastore, "postgres")
        for _ in range(3):
            store.save(Note("before"))
        with database.transaction(commit=False) as tx:
            assert tx.one("SELECT 1 AS one") == {"one": 1}

        cluster.stop("fast")
        cluster.start()

        with database.transaction(commit=False) as tx:  # no retry on this path
            assert tx.one("SELECT 1 AS one") == {"one": 1}
        note = Note("after")
        store.save(note)
        assert store.repository.get(note.id).text == "after"
    finally:
        store.close()
