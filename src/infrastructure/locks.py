"""Locks that let one process at a time do a piece of work when several share a
database: the time-driven work, and each projection's background runner. They
implement ``commands.scheduler.WorkLock``."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from infrastructure.database import STORE_DOWN_ERRORS
from infrastructure.recorders import idle_socket_readable

ADVISORY_LOCK_KEY = 0x6C696663  # "lifc": the time-driven work's lock


class PostgresAdvisoryLock:
    """A session-level advisory lock, held on one pooled connection during a run."""

    def __init__(self, datastore: Any, key: int = ADVISORY_LOCK_KEY) -> None:
        self._datastore = datastore
        self._key = key

    @contextmanager
    def held(self) -> Iterator[bool]:
        with self._datastore.get_connection() as conn:
            got = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (self._key,)).fetchone()
            acquired = bool(got and got["got"])
            try:
                yield acquired
            finally:
                if acquired:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))


class KeptAdvisoryLock:
    """A session-level advisory lock kept between runs, on a connection of its own.

    The process that takes it keeps it, and each of its runs starts without a round
    trip; the others try again at most every ``retry_seconds``, on their own kept
    connection. The lock goes with its session: a process that ends, or whose
    connection the server closed (a restart, a terminated backend), lets another take
    over within ``retry_seconds``; the holder itself sees the loss on its next run."""

    def __init__(self, datastore: Any, key: int, retry_seconds: float = 1.0) -> None:
        self._datastore = datastore
        self._key = key
        self.retry_seconds = retry_seconds
        self._conn: psycopg.Connection[Any] | None = None
        self._holding = False
        self._next_try = 0.0
        self._lock = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[bool]:
        with self._lock:
            yield self._held()

    def _held(self) -> bool:
        conn = self._conn
        if conn is not None and _closed_by_server(conn):
            self._drop()
        if self._holding:
            return True
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + self.retry_seconds
        if self._conn is None:
            pool = self._datastore.pool
            self._conn = psycopg.connect(
                pool.conninfo, **{**pool.kwargs, "autocommit": True, "connect_timeout": 5}
            )
        try:
            got = self._conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (self._key,))
            row = got.fetchone()
        except STORE_DOWN_ERRORS:
            self._drop()
            raise
        self._holding = bool(row and row["got"])
        return self._holding

    def _drop(self) -> None:
        conn, self._conn, self._holding = self._conn, None, False
        if conn is not None:
            conn.close()

    def release(self) -> None:
        """Let the lock go (the process stops following). Unlocked before the session
        ends: the server ends a closed session's backend, and frees its locks, only
        a moment after the client has gone, so another process trying at once could
        still find the lock taken."""
        with self._lock:
            conn = self._conn
            if self._holding and conn is not None and not (conn.closed or conn.broken):
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
                except STORE_DOWN_ERRORS:
                    pass  # the session is gone, and its locks with it
            self._drop()


def _closed_by_server(conn: psycopg.Connection[Any]) -> bool:
    return conn.closed or conn.broken or idle_socket_readable(conn)


class FileLock:
    """An exclusive lock on a file beside the SQLite database."""

    def __init__(self, path: str) -> None:
        self._path = path

    @contextmanager
    def held(self) -> Iterator[bool]:
        fd = os.open(self._path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
