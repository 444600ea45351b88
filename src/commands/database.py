"""Our own tables beside the event log, in the same database and through the same
connection pool as eventsourcing's recorder (SQLite or PostgreSQL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from eventsourcing.persistence import OperationalError as StoreOperationalError
from eventsourcing.persistence import InterfaceError as StoreInterfaceError


class StoreUnavailable(Exception):
    """The database cannot be reached now; the request may be retried."""


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
