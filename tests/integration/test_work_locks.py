"""The time-driven work runs in one process at a time when several share a database."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from api.bootstrap import Container
from infrastructure.locks import FileLock, KeptAdvisoryLock, PostgresAdvisoryLock


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


def kept_lock(container: Container) -> KeptAdvisoryLock:
    """A projection runner's lock: kept between runs; tries again at once here."""
    return KeptAdvisoryLock(container.services.store.recorder.datastore, 0x7E57, retry_seconds=0)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_kept_lock_stays_with_its_holder_until_released(
    container: Container, make_container: Callable[..., Container]
) -> None:
    first, second = kept_lock(container), kept_lock(make_container())
    runs = []
    for _ in range(3):
        with first.held() as first_holds, second.held() as second_holds:
            runs.append((first_holds, second_holds))
    first.release()
    with second.held() as second_holds_after, first.held() as first_holds_after:
        pass
    second.release()

    assert runs == [(True, False)] * 3
    assert (second_holds_after, first_holds_after) == (True, False)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_kept_lock_whose_session_the_server_ended_passes_to_another_process(
    container: Container, make_container: Callable[..., Container], postgres_url: str
) -> None:
    first, second = kept_lock(container), kept_lock(make_container())
    with first.held() as first_holds:
        assert first_holds
    assert first._conn is not None
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first._conn.info.backend_pid,))

    deadline = time.monotonic() + 10
    while True:  # the server frees the lock once the ended backend has gone
        with second.held() as second_holds:
            if second_holds:
                break
        assert time.monotonic() < deadline, "the ended session's lock was never freed"
        time.sleep(0.01)
    with first.held() as first_holds_after:
        pass
    first.release()
    second.release()

    assert first_holds_after is False
