"""Side-by-side rebuilds: a projection is rebuilt from position 0 into shadow tables
(``<table>__next``) while its current tables keep serving and keep following the log;
once the shadow has caught up with the live copy, one transaction drops the old tables,
renames the shadow ones into their place, moves the tracked position and counts the
``generation`` up in ``projection_tracking``. Readers never name a generation: they
read the same table names before and after the swap. Table renames and drops are
transactional on both SQLite and PostgreSQL.

A rebuild that fails (a poison event, an error) drops its shadow tables; the old copy
keeps serving and the failure is kept in ``projection_tracking.error``.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from infrastructure.database import Transaction
from projections.runner import Applied, Projection, ProjectionFailed, ProjectionRunner

log = logging.getLogger("lifecycle.projections")

SUFFIX = "__next"
TABLE_NAME = re.compile(r"CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.IGNORECASE)
INDEX_NAME = re.compile(r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.IGNORECASE)

Progress = Callable[[int, int], None]


def names_of(projection: Projection) -> tuple[list[str], list[str]]:
    tables = [m.group(1) for ddl in projection.tables for m in TABLE_NAME.finditer(ddl)]
    indexes = [m.group(1) for ddl in projection.tables for m in INDEX_NAME.finditer(ddl)]
    return tables, indexes


class _Renamer:
    def __init__(self, names: Sequence[str]) -> None:
        self._pattern = (
            re.compile(r"\b(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")
            if names
            else None
        )
        self._renamed: dict[str, str] = {}

    def __call__(self, sql: str) -> str:
        if self._pattern is None:
            return sql
        renamed = self._renamed.get(sql)
        if renamed is None:
            if len(self._renamed) > 1000:  # statements built on the fly: keep it bounded
                self._renamed.clear()
            renamed = self._renamed[sql] = self._pattern.sub(lambda m: m.group(1) + SUFFIX, sql)
        return renamed


class RenamedTransaction(Transaction):
    """The same transaction, with the projection's table and index names pointing at
    the shadow copy."""

    def __init__(self, tx: Transaction, rename: Callable[[str], str]) -> None:
        super().__init__(tx._cursor, tx.dialect)
        self._rename = rename

    def _sql(self, sql: str) -> str:
        return super()._sql(self._rename(sql))


class ShadowProjection(Projection):
    """The projection writing into its ``__next`` tables."""

    def __init__(self, live: Projection) -> None:
        self.live = live
        self.name = live.name + SUFFIX
        tables, indexes = names_of(live)
        self.rename = _Renamer([*tables, *indexes])
        self.tables = tuple(self.rename(ddl) for ddl in live.tables)
        self.topics = live.topics
        self._last: tuple[Transaction, RenamedTransaction] | None = None

    def prepare(self, event: Any) -> Any:
        return self.live.prepare(event)

    def _renamed(self, tx: Transaction) -> RenamedTransaction:
        last = self._last
        if last is not None and last[0] is tx:
            return last[1]
        # One wrapper per transaction, so projections may cache per transaction.
        renamed = RenamedTransaction(tx, self.rename)
        self._last = (tx, renamed)
        return renamed

    def apply(self, tx: Transaction, event: Any, position: int, prepared: Any) -> None:
        self.live.apply(self._renamed(tx), event, position, prepared)

    def apply_batch(self, tx: Transaction, batch: Sequence[Applied]) -> None:
        self.live.apply_batch(self._renamed(tx), batch)


class RebuildFailed(Exception):
    pass


class Rebuilder:
    """Rebuilds one projection beside its live copy."""

    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, progress: Progress | None = None) -> bool:
        """Rebuild in a background thread; ``False`` when one is already running here."""
        with self._guard:
            if self.running:
                return False
            before = self.runner.status()
            self._mark_rebuilding()
            self._thread = threading.Thread(
                target=self._run_quietly,
                args=(progress, before),
                name=f"rebuild-{self.runner.name}",
                daemon=True,
            )
            self._thread.start()
            return True

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run_quietly(self, progress: Progress | None, before: dict[str, Any]) -> None:
        try:
            self.run(progress, before=before)
        except RebuildFailed as error:
            log.error("%s", error)

    def run(
        self, progress: Progress | None = None, *, before: dict[str, Any] | None = None
    ) -> int:
        """Rebuild now, in this thread; returns the new generation. ``before`` is the
        tracking row as it was before the status became ``rebuilding``."""
        runner = self.runner
        database = runner.database
        if before is None:
            before = runner.status()
            self._mark_rebuilding()
        shadow = ShadowProjection(runner.projection)
        shadow_tables, shadow_indexes = names_of(shadow)
        try:
            self._drop(shadow_tables)
            shadow_runner = ProjectionRunner(
                runner.store, database, shadow, batch_size=runner.batch_size
            )
            with database.transaction() as tx:
                tx.execute(
                    "UPDATE projection_tracking SET position = 0, status = 'rebuilding',"
                    " error = NULL, failed_position = NULL WHERE name = ?",
                    (shadow.name,),
                )
            while True:
                position = self._catch_up(shadow_runner, progress)
                with runner._lock:  # this process's live runner waits for the swap
                    generation = self._swap(shadow, shadow_runner, position, shadow_indexes)
                    runner._position = None  # the swap moved it
                if generation is not None:
                    break
        except ProjectionFailed as error:
            self._abandon(before, shadow, shadow_tables, f"rebuild failed: {error}", error.position)
            raise RebuildFailed(f"rebuild of {runner.name} failed: {error}") from error
        except Exception as error:  # any failure: drop the copy, keep the old one, re-raise typed
            self._abandon(before, shadow, shadow_tables, f"rebuild failed: {error!r}", None)
            raise RebuildFailed(f"rebuild of {runner.name} failed: {error!r}") from error
        if progress is not None:
            progress(position, position)
        runner.restart_if_stopped()
        log.info("projection %s rebuilt: generation %s", runner.name, generation)
        return generation

    def _mark_rebuilding(self) -> None:
        with self.runner.database.transaction() as tx:
            tx.execute(
                "UPDATE projection_tracking SET status = 'rebuilding' WHERE name = ?",
                (self.runner.name,),
            )

    def _catch_up(self, shadow_runner: ProjectionRunner, progress: Progress | None) -> int:
        while True:
            head = int(self.runner.store.recorder.max_notification_id() or 0)
            position, done = shadow_runner._step_once()
            if progress is not None:
                progress(position, max(head, position))
            if done:
                return position

    def _swap(
        self,
        shadow: ShadowProjection,
        shadow_runner: ProjectionRunner,
        position: int,
        shadow_indexes: list[str],
    ) -> int | None:
        """Swap in one transaction, when the shadow is at least as far as the live copy;
        ``None`` when the live copy moved on meanwhile (another process)."""
        runner = self.runner
        tables, _ = names_of(runner.projection)
        with runner.database.transaction() as tx:
            # Lock the live tracking row: a runner elsewhere waits, then finds it moved.
            tx.execute(
                "UPDATE projection_tracking SET status = status WHERE name = ?", (runner.name,)
            )
            live = tx.one("SELECT * FROM projection_tracking WHERE name = ?", (runner.name,))
            mine = tx.one("SELECT position FROM projection_tracking WHERE name = ?", (shadow.name,))
            if live is None:
                raise RuntimeError(f"the tracking row of {runner.name} vanished during the rebuild")
            if mine is None:
                raise RuntimeError("the rebuild's tracking row vanished (another rebuild swapped)")
            if int(mine["position"]) < int(live["position"]):
                return None
            runner.projection.check_rebuilt(tx, SUFFIX)
            for table in tables:
                tx.execute(f"DROP TABLE IF EXISTS {table}")
                tx.execute(f"ALTER TABLE {table}{SUFFIX} RENAME TO {table}")
                if tx.dialect == "postgres":  # the primary key's index keeps its name
                    tx.execute(f"ALTER INDEX IF EXISTS {table}{SUFFIX}_pkey RENAME TO {table}_pkey")
            for index in shadow_indexes:
                tx.execute(f"DROP INDEX IF EXISTS {index}")
            for ddl in runner.projection.tables:
                if INDEX_NAME.search(ddl):
                    tx.execute(ddl)
            generation = int(live.get("generation") or 1) + 1
            tx.execute(
                "UPDATE projection_tracking SET position = ?, status = 'live', error = NULL,"
                " failed_position = NULL, generation = ? WHERE name = ?",
                (int(mine["position"]), generation, runner.name),
            )
            tx.execute("DELETE FROM projection_tracking WHERE name = ?", (shadow.name,))
        return generation

    def _drop(self, tables: list[str]) -> None:
        with self.runner.database.transaction() as tx:
            for table in tables:
                tx.execute(f"DROP TABLE IF EXISTS {table}")

    def _abandon(
        self,
        before: dict[str, Any],
        shadow: ShadowProjection,
        shadow_tables: list[str],
        error: str,
        failed_position: int | None,
    ) -> None:
        """The old copy keeps serving, in the status it had; the rebuild's error is kept."""
        try:
            self._drop(shadow_tables)
            with self.runner.database.transaction() as tx:
                tx.execute("DELETE FROM projection_tracking WHERE name = ?", (shadow.name,))
                status = before["status"] if before["status"] != "rebuilding" else "live"
                if status == "failed":
                    tx.execute(
                        "UPDATE projection_tracking SET status = 'failed' WHERE name = ?",
                        (self.runner.name,),
                    )
                else:
                    tx.execute(
                        "UPDATE projection_tracking SET status = ?, error = ?, failed_position = ?"
                        " WHERE name = ?",
                        (status, error, failed_position, self.runner.name),
                    )
        except Exception:  # noqa: BLE001 - the rebuild's own error is the one to report
            log.exception("cleaning up the failed rebuild of %s", self.runner.name)
