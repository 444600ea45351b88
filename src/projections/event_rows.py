"""The stored event rows themselves, read straight from eventsourcing's table.

eventsourcing keeps the log in one table: ``stored_events`` on SQLite (the position
is the ``rowid``), ``<app>_events`` on PostgreSQL (the position is the
``notification_id`` column). Audit reads the rows, with their positions, exactly as
stored (no cache, no snapshot), and decodes them with the application's mapper — or,
for the chain, with a copy of it that leaves personal values sealed, so that rendering
and verifying the chain never needs an organisation's data key.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Mapper, Notification

from infrastructure.database import Database
from infrastructure.personal_data.sealing import PersonalAsSealed
from infrastructure.store import LifecycleStore

LOWEST = -(2**63)
"""Below every position a row can have (SQLite rowids and PostgreSQL bigints alike)."""


@dataclass(frozen=True)
class StoredRow:
    position: int
    originator_id: UUID
    version: int
    topic: str
    state: bytes


class EventRows:
    """Reads rows of the event table on either backend (``?`` placeholders)."""

    def __init__(self, store: LifecycleStore, database: Database) -> None:
        self.store = store
        self.database = database
        transcoder = JSONTranscoder()
        store.register_transcodings(transcoder)
        transcoder.register(PersonalAsSealed(None))  # read personal values without keys
        self.sealed_mapper: Mapper[UUID] = Mapper(
            transcoder=transcoder, compressor=store.mapper.compressor, cipher=store.mapper.cipher
        )
        recorder: Any = store.recorder
        self.dialect = database.dialect
        if self.dialect == "postgres":
            schema = recorder.datastore.schema
            self.table = f'"{schema}"."{recorder.events_table_name}"'
            self.position_column = "notification_id"
        else:
            self.table = recorder.events_table_name
            self.position_column = "rowid"

    def id_param(self, originator_id: UUID) -> Any:
        """An aggregate id as the table stores it."""
        return originator_id if self.dialect == "postgres" else originator_id.hex

    def _row(self, row: dict[str, Any]) -> StoredRow:
        raw_id = row["originator_id"]
        return StoredRow(
            position=int(row["position"]),
            originator_id=raw_id if isinstance(raw_id, UUID) else UUID(str(raw_id)),
            version=int(row["version"]),
            topic=str(row["topic"]),
            state=bytes(row["state"]),
        )

    @property
    def _columns(self) -> str:
        return (
            f"{self.position_column} AS position, originator_id, originator_version AS version,"
            " topic, state"
        )

    def of_aggregate(self, originator_id: UUID) -> list[StoredRow]:
        """Every row of one aggregate, oldest version first."""
        with self.database.transaction(commit=False) as tx:
            rows = tx.all(
                f"SELECT {self._columns} FROM {self.table} WHERE originator_id = ?"
                " ORDER BY originator_version",
                (self.id_param(originator_id),),
            )
        return [self._row(r) for r in rows]

    def page(self, after: int, until: int, limit: int) -> list[StoredRow]:
        """Rows with ``after < position <= until``, in log order, at most ``limit``."""
        with self.database.transaction(commit=False) as tx:
            rows = tx.all(
                f"SELECT {self._columns} FROM {self.table}"
                f" WHERE {self.position_column} > ? AND {self.position_column} <= ?"
                f" ORDER BY {self.position_column} LIMIT ?",
                (after, until, limit),
            )
        return [self._row(r) for r in rows]

    def scan(self, until: int, after: int = LOWEST, page_size: int = 1000) -> Iterator[StoredRow]:
        """Every row with ``after < position <= until``, in log order, page by page."""
        while True:
            rows = self.page(after, until, page_size)
            yield from rows
            if len(rows) < page_size:
                return
            after = rows[-1].position

    def decode(self, row: StoredRow, reveal: bool = False) -> Any:
        """The domain event a row stores (raises if the row does not decode); its
        personal values opened with their keys with ``reveal``, else left sealed."""
        mapper = self.store.mapper if reveal else self.sealed_mapper
        return mapper.to_domain_event(
            Notification(
                id=row.position,
                originator_id=row.originator_id,
                originator_version=row.version,
                topic=row.topic,
                state=row.state,
            )
        )
