"""The log's recorders: on PostgreSQL, readers never pass an event that is still
being written although saves take no table lock; on both stores, side writes commit
and roll back with their events."""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

import psycopg
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from commands.services import retrying
from infrastructure.database import Database
from infrastructure.store import LifecycleStore, persistence_env


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Amended")
    def amend(self, text: str) -> None:
        self.text = text


@pytest.fixture
def store(database_url: str) -> Any:
    store = LifecycleStore(env=persistence_env(database_url))
    store.dialect = "sqlite" if database_url.startswith("sqlite") else "postgres"
    yield store
    store.close()


@pytest.fixture
def pg_store(postgres_url: str) -> Any:
    store = LifecycleStore(env=persistence_env(postgres_url))
    yield store
    store.close()


def database(store: Any) -> Database:
    return Database(store.recorder.datastore, store.dialect)


def notes_table(db: Database) -> None:
    db.create(["CREATE TABLE IF NOT EXISTS side_notes (note_id TEXT PRIMARY KEY, text TEXT)"])


def test_side_writes_commit_with_the_events(store: LifecycleStore) -> None:
    db = database(store)
    notes_table(db)
    note = Note("first")
    store.save(note, side_writes=[("INSERT INTO side_notes VALUES (?, ?)", (str(note.id), "x"))])
    with db.transaction(commit=False) as tx:
        row = tx.one("SELECT text FROM side_notes WHERE note_id = ?", (str(note.id),))
    assert row == {"text": "x"}
    assert store.repository.get(note.id).text == "first"


def saved_with_a_stale_copy(store: LifecycleStore) -> tuple[Note, Note]:
    """A note saved twice ("first", then "second"), and a copy read between the two
    saves with a change of its own pending: saving the copy conflicts."""
    note = Note("first")
    store.save(note)
    stale = store.repository.get(note.id)
    note.amend("second")
    store.save(note)
    stale.amend("conflicting")
    return note, stale


def test_side_writes_roll_back_with_events_that_conflict(store: LifecycleStore) -> None:
    db = database(store)
    notes_table(db)
    note, stale = saved_with_a_stale_copy(store)
    with pytest.raises(IntegrityError):
        store.save(stale, side_writes=[("INSERT INTO side_notes VALUES (?, ?)", ("k", "y"))])
    with db.transaction(commit=False) as tx:
        assert tx.one("SELECT text FROM side_notes WHERE note_id = 'k'") is None
    assert store.repository.get(note.id).text == "second"


def test_a_save_with_nothing_to_record_makes_no_side_writes(store: LifecycleStore) -> None:
    db = database(store)
    notes_table(db)
    store.save(side_writes=[("INSERT INTO side_notes VALUES (?, ?)", ("none", "z"))])
    with db.transaction(commit=False) as tx:
        assert tx.one("SELECT text FROM side_notes WHERE note_id = 'none'") is None


# --- PostgreSQL: commit order without a table lock ---------------------------------


def _append_arguments(store: LifecycleStore, note: Note) -> tuple[list[Any], ...]:
    """The append function's arguments for a new note's events."""
    stored = [store.mapper.to_stored_event(e) for e in note.collect_events()]
    return (
        [s.originator_id for s in stored],
        [s.originator_version for s in stored],
        [s.topic for s in stored],
        [s.state for s in stored],
    )


def test_the_head_stays_below_an_event_whose_transaction_is_still_open(
    pg_store: LifecycleStore, postgres_url: str
) -> None:
    before = pg_store.recorder.max_notification_id() or 0
    arguments = _append_arguments(pg_store, Note("slow"))
    recorder: Any = pg_store.recorder
    with psycopg.connect(postgres_url) as slow:
        slow.execute(recorder.append_statement, arguments)  # opens a transaction
        slow_position = slow.execute("SELECT max(notification_id) FROM lifecycle_events").fetchone()
        assert slow_position is not None
        quick = Note("quick")
        recordings = pg_store.save(quick)
        quick_position = recordings[-1].notification.id

        assert quick_position > slow_position[0]
        head = pg_store.recorder.max_notification_id() or 0
        assert before <= head < slow_position[0]
        slow.commit()
    # Other transactions on the cluster (the suite creates databases as it goes) may
    # hold the head back a little longer; nothing holds it for ever.
    deadline = time.monotonic() + 30
    while (pg_store.recorder.max_notification_id() or 0) < quick_position:
        assert time.monotonic() < deadline, "the head never reached a committed event"
        time.sleep(0.01)


@pytest.mark.parametrize("events", ["one", "several"])
def test_events_must_be_the_first_write_of_their_transaction(
    pg_store: LifecycleStore, postgres_url: str, events: str
) -> None:
    arguments = _append_arguments(pg_store, Note("late"))
    recorder: Any = pg_store.recorder
    if events == "one":  # the function a save of a single event calls
        statement, arguments = recorder.append_one_statement, [a[0] for a in arguments]
    else:
        statement = recorder.append_statement
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TEMP TABLE scratch (n int)")
        conn.execute("INSERT INTO scratch VALUES (1)")
        with pytest.raises(psycopg.DatabaseError, match="first write"):
            conn.execute(statement, arguments)


@pytest.mark.parametrize("events", [1, 2])
def test_a_failed_append_releases_the_append_lock(pg_store: LifecycleStore, events: int) -> None:
    _, stale = saved_with_a_stale_copy(pg_store)
    with pytest.raises(IntegrityError):
        pg_store.save(stale, *[Note("with it") for _ in range(events - 1)])

    saved = threading.Event()

    def save_another() -> None:
        pg_store.save(Note("after the failure"))
        saved.set()

    thread = threading.Thread(target=save_another, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert saved.is_set(), "a save waited on the lock the failed append held"


def test_the_events_record_the_transaction_that_wrote_them(
    pg_store: LifecycleStore, postgres_url: str
) -> None:
    first, second = Note("a"), Note("b")
    pg_store.save(first, second)
    pg_store.save(Note("c"))
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT notification_id, tx_id FROM lifecycle_events"
            " ORDER BY notification_id DESC LIMIT 3"
        ).fetchall()
    (third_id, third_tx), (second_id, second_tx), (first_id, first_tx) = rows
    assert first_tx == second_tx < third_tx
    assert first_id < second_id < third_id


def test_appends_answer_with_their_positions_in_order(pg_store: LifecycleStore) -> None:
    notes = [Note(str(n)) for n in range(5)]
    recordings = pg_store.save(*notes)
    positions = [r.notification.id for r in recordings]
    assert positions == sorted(positions)
    assert len(set(positions)) == 5


def test_concurrent_writers_never_let_a_tailing_reader_skip_an_event(
    pg_store: LifecycleStore,
) -> None:
    """Eight writers whose transactions commit out of position order (each waits a
    different while before committing); a reader that follows the settled head from
    position to position sees every event exactly once."""
    recorder: Any = pg_store.recorder
    start = recorder.max_notification_id() or 0
    writers, per_writer = 8, 15
    done = threading.Event()

    def write(w: int) -> None:
        for n in range(per_writer):
            delay = ((w * 7 + n * 3) % 5) / 200
            pg_store.save(Note(f"{w}-{n}"), side_writes=[("SELECT pg_sleep(?)", (delay,))])

    seen: list[int] = []

    def follow() -> None:
        position = start
        while True:
            finished = done.is_set()
            head = recorder.max_notification_id() or 0
            if head > position:
                batch = recorder.select_notifications(start=position + 1, limit=1000, stop=head)
                seen.extend(n.id for n in batch)
                position = head
            elif finished and position >= (recorder.recorded_head() or 0):
                return
            else:
                time.sleep(0.001)

    reader = threading.Thread(target=follow)
    reader.start()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join(timeout=60)

    every = [n.id for n in recorder.select_notifications(start=start + 1, limit=10_000)]
    assert len(every) == writers * per_writer
    assert seen == every


def test_a_selection_without_stop_never_passes_an_event_still_being_written(
    pg_store: LifecycleStore, postgres_url: str
) -> None:
    """A reader that omits ``stop`` and moves to the last notification it was given,
    as the library's own readers do, must not be given an event committed above one
    that is still being written: it would skip that one when it commits."""
    recorder: Any = pg_store.recorder
    before = recorder.recorded_head() or 0
    with psycopg.connect(postgres_url) as slow:
        slow.execute(recorder.append_statement, _append_arguments(pg_store, Note("slow")))
        row = slow.execute("SELECT max(notification_id) FROM lifecycle_events").fetchone()
        assert row is not None
        slow_position = row[0]
        later = pg_store.save(Note("later"))[-1].notification.id

        given = [n.id for n in recorder.select_notifications(start=before + 1, limit=100)]
        library = [n.id for n in pg_store.notification_log.select(start=before + 1, limit=10)]
        everything = recorder.select_notifications(start=before + 1, limit=100, settled_only=False)

        assert all(position < slow_position for position in given + library)
        assert [n.id for n in everything] == [later]
        slow.commit()
    deadline = time.monotonic() + 30  # other transactions on the cluster may hold it back
    while [n.id for n in recorder.select_notifications(start=before + 1, limit=100)] != [
        slow_position,
        later,
    ]:
        assert time.monotonic() < deadline, "the events never became readable in order"
        time.sleep(0.01)


# --- PostgreSQL: conflicting saves ------------------------------------------------------


class InThread:
    """A call run in a thread of its own: its result or error, and when it ended."""

    def __init__(self, call: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = time.monotonic()
        self.ended: float | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Any) -> None:
        try:
            self.result = call()
        except BaseException as error:  # noqa: BLE001 - kept for the test to inspect
            self.error = error
        self.ended = time.monotonic()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()


def _open_save_of(store: LifecycleStore, postgres_url: str, note: Note) -> psycopg.Connection[Any]:
    """A connection whose transaction has appended the note's events and stays open."""
    recorder: Any = store.recorder
    conn = psycopg.connect(postgres_url)
    conn.execute(recorder.append_statement, _append_arguments(store, note))
    return conn


def _wait_until_a_save_waits_for_a_lock(postgres_url: str) -> None:
    deadline = time.monotonic() + 20
    with psycopg.connect(postgres_url, autocommit=True) as watcher:
        while True:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if row and row[0] > 0:
                return
            assert time.monotonic() < deadline, "the conflicting save never waited"
            time.sleep(0.01)


def _with_lock_timeout(url: str, seconds: int) -> str:
    return url + ("&" if "?" in url else "?") + f"lock_timeout={seconds}"


@pytest.mark.parametrize("events", [1, 2])
def test_an_unrelated_save_never_waits_behind_a_save_that_conflicts_with_an_open_one(
    pg_store: LifecycleStore, postgres_url: str, events: int
) -> None:
    """A holds note X at version 1 in an open transaction; B saves X at version 1 too
    and must wait for A. C saves something else: it completes while A is still open.
    When A commits, B fails as a conflict, which the handlers' retry loop takes: it
    runs again on X as A left it."""
    note = Note("x")
    twin = copy.deepcopy(note)  # the same aggregate at the same version, pending
    attempts: list[int] = []

    def save_b() -> Any:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            return pg_store.save(twin, *[Note("with it") for _ in range(events - 1)])
        current = pg_store.repository.get(note.id)
        current.amend("after A")
        return pg_store.save(current)

    a = _open_save_of(pg_store, postgres_url, note)
    try:
        b = InThread(lambda: retrying(save_b))
        _wait_until_a_save_waits_for_a_lock(postgres_url)
        c = InThread(lambda: pg_store.save(Note("unrelated")))
        c_done = c.join(timeout=10)
        a_ended = time.monotonic()
        a.commit()
    finally:
        a.close()  # rolls back if not committed, so that nothing is left waiting

    assert c_done and c.error is None, "the unrelated save waited for the conflicting pair"
    assert c.ended is not None and c.ended < a_ended
    assert c.ended - c.started < 1.0
    assert b.join(timeout=20)
    assert b.error is None
    assert attempts == [1, 2]
    assert pg_store.repository.get(note.id).text == "after A"


def test_a_save_that_conflicts_with_an_open_one_fails_as_a_conflict_after_the_lock_timeout(
    postgres_url: str,
) -> None:
    store = LifecycleStore(env=persistence_env(_with_lock_timeout(postgres_url, 1)))
    try:
        note = Note("x")
        twin = copy.deepcopy(note)
        a = _open_save_of(store, postgres_url, note)
        try:
            b = InThread(lambda: store.save(twin))
            b_done = b.join(timeout=15)
            a_ended = time.monotonic()
        finally:
            a.close()  # rolls back
        assert b_done, "the save waited for the open one past the lock timeout"
        assert b.ended is not None and b.ended < a_ended
        assert b.ended - b.started >= 0.95
        assert isinstance(b.error, IntegrityError), b.error
        assert "still open" in str(b.error)
    finally:
        store.close()


def test_a_save_that_waited_for_an_open_one_succeeds_when_that_one_rolls_back(
    pg_store: LifecycleStore, postgres_url: str
) -> None:
    note = Note("x")
    twin = copy.deepcopy(note)
    twin.amend("mine")
    a = _open_save_of(pg_store, postgres_url, note)
    try:
        b = InThread(lambda: pg_store.save(twin))
        _wait_until_a_save_waits_for_a_lock(postgres_url)
        a.rollback()
    finally:
        a.close()
    assert b.join(timeout=20)
    assert b.error is None
    assert pg_store.repository.get(note.id).text == "mine"
