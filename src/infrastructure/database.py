"""Our own tables beside the event log, in the same database and through the same
connection pool as eventsourcing's recorder (SQLite or PostgreSQL)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import psycopg
import psycopg_pool
from eventsourcing.persistence import OperationalError as StoreOperationalError
from eventsourcing.persistence import InterfaceError as StoreInterfaceError


class StoreUnavailable(Exception):
    """The database cannot be reached now; the request may be retried."""


class StoreDeadline:
    """Until when the work being done (an HTTP request) may wait for the database.

    A handler runs in a thread that cannot be cancelled, so the deadline is kept where
    the waiting happens: the pool lends a connection after waiting at most until the
    deadline, and after it only a connection that is ready at once. When the database
    has gone away none is (the pool finds its sessions closed), so the store call
    raises ``StoreUnavailable`` then, instead of waiting out the event store's own
    retries (ten attempts, each waiting up to the pool's timeout). No transaction is
    begun without a connection, so no command commits after its request was answered
    503. Once the work has recorded its events (``lift``), it waits as before: a
    command that committed is not turned into a 503 for being slow to keep its answer.
    """

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.lifted = False

    def remaining(self) -> float | None:
        """Seconds left (0 or less once passed), or ``None`` when lifted."""
        return None if self.lifted else self.at - time.monotonic()

    def lift(self) -> None:
        self.lifted = True


READY_AT_ONCE_SECONDS = 0.05
"""After its deadline a request still takes a connection the pool lends this fast."""

_deadline: ContextVar[StoreDeadline | None] = ContextVar("store_deadline", default=None)


@contextmanager
def store_deadline(seconds: float) -> Iterator[StoreDeadline]:
    """Bound the waits for the store in this context (and in the threads it starts,
    which copy it) by a deadline ``seconds`` from now."""
    deadline = StoreDeadline(seconds)
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)


def lift_store_deadline() -> None:
    """The current work has committed: it waits for the store as before from now on."""
    deadline = _deadline.get()
    if deadline is not None:
        deadline.lift()


def bound_waits_by_deadline(pool: psycopg_pool.ConnectionPool[Any]) -> None:
    """Make ``pool`` wait for a connection only until the current ``StoreDeadline``.

    eventsourcing constructs the pool and asks it for every connection with its
    configured timeout (``POSTGRES_CONNECT_TIMEOUT``); this wraps that one method of
    this one pool. A wait the deadline cut short raises ``StoreUnavailable``, which the
    event store does not retry. Work without a deadline (projections, time-driven work)
    waits as before."""
    getconn = pool.getconn

    def getconn_until_deadline(timeout: float | None = None) -> Any:
        deadline = _deadline.get()
        left = None if deadline is None else deadline.remaining()
        wait = pool.timeout if timeout is None else timeout
        if left is None or wait <= left:
            return getconn(timeout)
        try:
            return getconn(max(left, READY_AT_ONCE_SECONDS))
        except psycopg_pool.PoolTimeout as error:
            raise StoreUnavailable(
                "the request's deadline passed waiting for the database"
            ) from error

    pool.getconn = getconn_until_deadline  # type: ignore[method-assign]


STORE_DOWN_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    StoreOperationalError,
    StoreInterfaceError,
)


class Transaction:
    """One database transaction; SQL uses ``?`` placeholders on both backends."""

    def __init__(self, cursor: Any, dialect: str) -> None:
        self._cursor = cursor
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cursor.execute(self._sql(sql), tuple(params))
        return int(self._raw().rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor.executemany(self._sql(sql), [tuple(r) for r in rows])

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        self._cursor.execute(self._sql(sql), tuple(params))
        row = self._cursor.fetchone()
        return None if row is None else dict(row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self._cursor.execute(self._sql(sql), tuple(params))
        return [dict(row) for row in self._cursor.fetchall()]

    def _raw(self) -> Any:
        return getattr(self._cursor, "sqlite_cursor", self._cursor)


class Database:
    """Transactions on the event store's own datastore, for tables that are ours."""

    def __init__(self, datastore: Any, dialect: str) -> None:
        if dialect not in ("sqlite", "postgres"):
            raise ValueError(dialect)
        self.datastore = datastore
        self.dialect = dialect

    @contextmanager
    def transaction(self, *, commit: bool = True, pipelined: bool = False) -> Iterator[Transaction]:
        """``pipelined`` (PostgreSQL; ignored on SQLite): statements are sent without
        waiting for their answers, until one is read (``one``, ``all``) or the
        transaction ends; ``execute`` then returns no row count (-1)."""
        try:
            if pipelined and self.dialect == "postgres":
                with (
                    self.datastore.get_connection() as conn,
                    conn.pipeline(),
                    conn.transaction(force_rollback=not commit),
                    conn.cursor() as cursor,
                ):
                    yield Transaction(cursor, self.dialect)
                return
            with self.datastore.transaction(commit=commit) as cursor:
                yield Transaction(cursor, self.dialect)
        except STORE_DOWN_ERRORS as error:
            raise StoreUnavailable(str(error)) from error
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "unable to open" in str(error):
                raise StoreUnavailable(str(error)) from error
            raise

    def one_statement(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """PostgreSQL: one statement in its own transaction, one round trip (``%s``
        placeholders); its first row."""
        try:
            with self.datastore.get_connection() as conn:
                row = conn.execute(sql, tuple(params), prepare=True).fetchone()
        except STORE_DOWN_ERRORS as error:
            raise StoreUnavailable(str(error)) from error
        return None if row is None else dict(row)

    def create(self, statements: Sequence[str]) -> None:
        """Create tables and indexes (``CREATE ... IF NOT EXISTS``) in one transaction."""
        with self.transaction() as tx:
            for statement in statements:
                tx.execute(statement)

    @property
    def bigint(self) -> str:
        return "BIGINT" if self.dialect == "postgres" else "INTEGER"
