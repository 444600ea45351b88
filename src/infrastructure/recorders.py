"""The event log's recorders: eventsourcing's, extended at its documented extension
point (``APPLICATION_RECORDER_TOPIC``) in two ways.

**Commit order without a table lock (PostgreSQL).** The stock recorder takes an
``EXCLUSIVE`` lock on the events table in every save so that notification ids commit
in id order, and a reader that has seen id *n* can never later find a smaller one.
That lock is held until the commit's WAL flush, so every writer of the log waits for
every other one. This recorder keeps the readers' guarantee by a different route (see
``docs/decisions/0001-commit-ordered-log-without-a-table-lock.md``):

- a save runs the ``lifecycle_append`` function, which, under a session advisory lock
  held only while the rows are inserted (not until commit), gives the transaction its
  id and the events their notification ids, and records that transaction id beside
  each event (``tx_id``). Transaction ids and notification ids are therefore handed
  out in the same order;
- before it takes that lock, the function holds each (aggregate, version) it writes
  (a transaction-level advisory lock), so a save that conflicts with another save
  still open waits there, not in the insert under the append lock where every other
  writer would wait behind it. It waits at most ``POSTGRES_LOCK_TIMEOUT`` seconds,
  which the function sets for its transaction as the stock recorder does, and then
  fails as a conflict (an ``IntegrityError``, as the insert's own would be);
- readers never pass the *settled head*: the highest notification id written by a
  transaction older than the oldest transaction still running
  (``pg_snapshot_xmin``). Any transaction still running has a larger transaction id,
  hence larger notification ids, than every settled event; so an event committed
  later can never land below a position a reader has already passed.
  ``select_notifications`` stops there unless told otherwise (``settled_only``).

Commits no longer wait for each other, so concurrent writers share WAL flushes. A
save without side writes is a single statement: one round trip, its own transaction.

**Side writes (both backends).** ``Application.save(..., side_writes=[(sql, params)])``
runs each statement (``?`` placeholders) in the events' own transaction, after the
events are inserted: a row that must exist exactly when the events do (an
idempotency key's outcome, for instance) commits or rolls back with them.
"""

from __future__ import annotations

import select
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg_pool

from eventsourcing.persistence import InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry
from psycopg.sql import SQL, Composable, Composed, Identifier, Literal

from infrastructure.database import Transaction

SideWrite = tuple[str, Sequence[Any]]

APPEND_LOCK_KEY = 0x6C6966656379636C  # "lifecycl": the advisory lock of the append section

# The function's signature (its argument types) is part of its identity: bump the name
# if the body's contract changes, so that an older process never runs a newer body.
APPEND_FUNCTION = "lifecycle_append_v3"
APPEND_ONE_FUNCTION = "lifecycle_append_one_v2"

# The SQLSTATE of a save that gave up waiting for another open save of the same
# aggregate version. Class 23 (integrity constraint violation), as the insert's own
# unique violation is: drivers and eventsourcing report it as an IntegrityError.
STILL_OPEN_SQLSTATE = "23L01"

# The body's step that holds one (aggregate, version), ``held_id`` at ``held_version``,
# until the transaction ends: a transaction-level advisory lock on the two keys' hashes
# (the two-key space, which no other lock of the service uses). Another save of the
# same version still open holds it too; this save then waits here, before the append
# lock, for at most the lock timeout. The lock is first tried without waiting, so a
# save without a conflict enters no EXCEPTION block (a subtransaction).
HOLD = (
    "   IF NOT pg_try_advisory_xact_lock(hashtext(held_id::text), hashtext(held_version::text))"
    "   THEN"
    "     BEGIN"
    "       PERFORM pg_advisory_xact_lock(hashtext(held_id::text), hashtext(held_version::text));"
    "     EXCEPTION WHEN lock_not_available THEN"
    "       RAISE EXCEPTION USING ERRCODE = '{still_open}', MESSAGE = 'another save of '"
    "         || held_id || ' at version ' || held_version || ' is still open';"
    "     END;"
    "   END IF;"
)


def check_without_round_trip(conn: psycopg.Connection[Any]) -> None:
    """The pool's check of a connection it is about to lend.

    The stock pre-ping sends an empty query: a round trip on every save. A connection
    the server has closed (a restart, an idle timeout, a terminated backend) has its
    socket readable while idle: the termination message or end of file is waiting. Only
    then is the round trip paid, to find out for sure. A server that vanished without
    closing its sockets is found on first use instead, where the recorder's retries
    and the store-unavailable answers take over."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    if idle_socket_readable(conn):
        psycopg_pool.ConnectionPool.check_connection(conn)


def idle_socket_readable(conn: psycopg.Connection[Any]) -> bool:
    """Whether an idle session's socket has something to read: only when the server
    ended the session (a termination message or end of file is waiting)."""
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    return bool(readable)


class CommitOrderedPostgresRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL application recorder without the table lock."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        # eventsourcing passes the pool its check at construction (POSTGRES_PRE_PING)
        # and offers no way to choose it; the pool keeps it in ``_check``.
        if datastore.pre_ping and getattr(datastore.pool, "_check", None) is not None:
            datastore.pool._check = check_without_round_trip
        schema = Identifier(self.datastore.schema)
        table = Identifier(self.events_table_name)
        # The stock CREATE TABLE (kept as the library wrote it) plus our column. Rows
        # written before the column existed, or by a stock recorder under its table
        # lock, carry 0: settled at once, which is what that lock guaranteed.
        self.sql_create_statements.append(
            SQL("ALTER TABLE {0}.{1} ADD COLUMN IF NOT EXISTS tx_id bigint NOT NULL DEFAULT 0")
            .format(schema, table)
        )
        self.sql_create_statements.append(
            self._append_function(
                APPEND_FUNCTION,
                "ids {id_type}[], versions bigint[], topics text[], states bytea[]",
                "SETOF bigint",
                # In one order (of the locks' keys) for every save: two saves that
                # share two keys cannot each hold one and wait for the other.
                "   FOR held_id, held_version IN"
                "     SELECT e.i, e.v FROM unnest(ids, versions) AS e(i, v)"
                "     ORDER BY hashtext(e.i::text), hashtext(e.v::text)"
                "   LOOP" + HOLD + "   END LOOP;",
                "     RETURN QUERY INSERT INTO {schema}.{table}"
                "       (originator_id, originator_version, topic, state, tx_id)"
                "       SELECT e.i, e.v, e.t, e.s, tx"
                "       FROM unnest(ids, versions, topics, states) AS e(i, v, t, s)"
                "       RETURNING notification_id;",
            )
        )
        # Most saves carry one event: a twin taking plain values, not arrays, spares
        # the client the arrays' encoding (the larger part of a save's own CPU).
        self.sql_create_statements.append(
            self._append_function(
                APPEND_ONE_FUNCTION,
                "id {id_type}, version bigint, topic text, state bytea",
                "bigint",
                "   held_id := id; held_version := version;" + HOLD,
                "     INSERT INTO {schema}.{table}"
                "       (originator_id, originator_version, topic, state, tx_id)"
                "       VALUES (id, version, topic, state, tx)"
                "       RETURNING notification_id INTO nid;",
                "   RETURN nid;",
            )
        )
        # POSTGRES_LOCK_TIMEOUT, as the stock recorder applies it (SET LOCAL in the write
        # transaction): the function sets it first thing, for its transaction.
        timeout = Literal(f"{int(self.datastore.lock_timeout)}s")
        self.append_statement = SQL("SELECT * FROM {0}.{1}(%s, %s, %s, %s, {2})").format(
            schema, Identifier(APPEND_FUNCTION), timeout
        )
        self.append_one_statement = SQL("SELECT {0}.{1}(%s, %s, %s, %s, {2}) AS id").format(
            schema, Identifier(APPEND_ONE_FUNCTION), timeout
        )
        self.settled_head_statement = SQL(
            "SELECT notification_id FROM {0}.{1}"
            " WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
            " ORDER BY notification_id DESC LIMIT 1"
        ).format(schema, table)

    def _append_function(
        self, name: str, arguments: str, returns: str, hold: str, insert: str, result: str = ""
    ) -> Composed:
        """An append function: it refuses unless the events are its transaction's first
        write, sets the lock timeout for its transaction, runs ``hold`` (which holds
        every (aggregate, version) it writes until the transaction ends, waiting for any
        other open save of one of them), then takes the transaction id and runs
        ``insert`` under the append lock, which it releases before returning (also when
        the insert fails)."""
        return SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}(" + arguments + ", timeout text)"
            " RETURNS " + returns + " LANGUAGE plpgsql AS $BODY$"
            " DECLARE tx bigint; nid bigint; held_id {id_type}; held_version bigint;"
            " BEGIN"
            "   IF pg_current_xact_id_if_assigned() IS NOT NULL THEN"
            "     RAISE EXCEPTION 'events must be the first write of their transaction'"
            "       USING ERRCODE = 'LC001';"
            "   END IF;"
            "   PERFORM set_config('lock_timeout', timeout, true);"
            + hold +
            "   PERFORM pg_advisory_lock({key});"
            "   BEGIN"
            "     tx := pg_current_xact_id()::text::bigint;"
            + insert +
            "   EXCEPTION WHEN OTHERS OR query_canceled THEN"
            "     PERFORM pg_advisory_unlock({key});"
            "     RAISE;"
            "   END;"
            "   PERFORM pg_advisory_unlock({key});"
            + result +
            " END;"
            " $BODY$"
        ).format(  # type: ignore[arg-type]
            schema=Identifier(self.datastore.schema),
            function=Identifier(name),
            id_type=SQL(self.datastore.originator_id_type),
            table=Identifier(self.events_table_name),
            key=SQL(str(APPEND_LOCK_KEY)),
            still_open=SQL(STILL_OPEN_SQLSTATE),
        )

    def _create_table(self, curs: Any) -> None:
        # Two processes starting together may race on CREATE OR REPLACE FUNCTION
        # ("tuple concurrently updated"): serialise the schema set-up itself.
        curs.execute(SQL("SELECT pg_advisory_xact_lock({0})").format(SQL(str(APPEND_LOCK_KEY + 1))))
        super()._create_table(curs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        side_writes: Sequence[SideWrite] = kwargs.get("side_writes") or ()
        with self.datastore.get_connection() as conn:
            if not side_writes:
                # One statement in autocommit: its own transaction, one round trip.
                with conn.cursor() as curs:
                    return self._append(curs, stored_events)
            with conn.transaction(), conn.cursor() as curs:
                ids = self._append(curs, stored_events)
                tx = Transaction(curs, "postgres")
                for sql, params in side_writes:
                    tx.execute(sql, params)
                return ids

    def _append(self, curs: Any, stored_events: Sequence[StoredEvent]) -> list[int]:
        if len(stored_events) == 1:
            e = stored_events[0]
            curs.execute(
                self.append_one_statement,
                (e.originator_id, e.originator_version, e.topic, e.state),
                prepare=True,
            )
            return [curs.fetchone()["id"]]
        # Four plain arrays: much cheaper to send than an array of a composite type.
        columns = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        curs.execute(self.append_statement, columns, prepare=True)
        return [row[APPEND_FUNCTION] for row in curs.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def max_notification_id(self) -> int | None:
        """The settled head: readers may read up to here and never find a smaller id
        committed afterwards."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.settled_head_statement, prepare=True)
            row = curs.fetchone()
            return None if row is None else int(row["notification_id"])

    def recorded_head(self) -> int | None:
        """The highest notification id committed so far; ids below it may still be
        in transactions that have not committed (see ``max_notification_id``). The
        stock method read here retries by itself."""
        return super().max_notification_id()

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
        settled_only: bool = True,
    ) -> Sequence[Notification]:
        """The stock selection, never past the settled head (read in the same
        statement), whether or not ``stop`` is given: a reader that moves its position
        to the last notification it was given, as the library's own readers do, cannot
        pass an event that commits later below it.

        ``settled_only=False`` reads every event committed so far instead, with no such
        promise: for a look at the log as it is now (a start-up check, a test), not for
        following it."""
        conditions: list[Composable] = []
        params: list[Any] = []
        if start is not None:
            above = ">=" if inclusive_of_start else ">"
            conditions.append(SQL("notification_id " + above + " %s"))
            params.append(start)
        if stop is not None:
            conditions.append(SQL("notification_id <= %s"))
            params.append(stop)
        if settled_only:
            conditions.append(SQL("notification_id <= ({0})").format(self.settled_head_statement))
        if topics:
            conditions.append(SQL("topic = ANY(%s)"))
            params.append(list(topics))
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {0}.{1}"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        if conditions:
            statement += SQL(" WHERE ") + SQL(" AND ").join(conditions)
        statement += SQL(" ORDER BY notification_id LIMIT %s")
        params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return [
                Notification(
                    id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Any:
        raise NotImplementedError(
            "the log is followed by polling (projections.runner); saves send no NOTIFY"
        )


class SideWritingSQLiteRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite application recorder, with side writes. SQLite allows one
    writer at a time, so commit order is id order without further work."""

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        tx = Transaction(c, "sqlite")
        for sql, params in (kwargs.get("side_writes") or ()) if stored_events else ():
            tx.execute(sql, params)
        return ids

    def recorded_head(self) -> int | None:
        """One writer at a time: what is committed is settled."""
        return self.max_notification_id()

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
        settled_only: bool = True,
    ) -> Sequence[Notification]:
        """The stock selection; ``settled_only`` is accepted as on PostgreSQL and
        changes nothing: what is committed is settled."""
        return super().select_notifications(
            start, limit, stop, topics, inclusive_of_start=inclusive_of_start
        )
