"""The time-driven work runs in one process at a time when several share a database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from api.bootstrap import Container
from commands.scheduler import FileLock, PostgresAdvisoryLock


def advisory_lock(container: Container) -> PostgresAdvisoryLock:
    return PostgresAdvisoryLock(container.services.store.recorder.datastore)


def file_lock(container: Container) -> FileLock:
    database_file = container.services.store.recorder.datastore.pool.db_name
    return FileLock(str(Path(database_file).resolve()) + ".scheduler.lock")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_advisory_lock_is_held_by_one_of_two_containers_at_a_time(
    container: Container, make_container: Callable[..., Container]
) -> None:
    first, second = advisory_lock(container), advisory_lock(make_container())

    with first.held() as first_holds:
        with second.held() as second_holds_meanwhile:
            pass
    with second.held() as second_holds_after:
        pass

    assert (first_holds, second_holds_meanwhile, second_holds_after) == (True, False, True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_file_lock_is_held_by_one_of_two_containers_at_a_time(
    container: Container, make_container: Callable[..., Container]
) -> None:
    first, second = file_lock(container), file_lock(make_container())

    with first.held() as first_holds:
        with second.held() as second_holds_meanwhile:
            pass
    with second.held() as second_holds_after:
        pass

    assert (first_holds, second_holds_meanwhile, second_holds_after) == (True, False, True)
