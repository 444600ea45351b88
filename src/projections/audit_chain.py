"""The audit trail (R60, R61): a hash chain over the whole log, an index from time to
version, and the auditor's reads (history, state as of an instant, export, verify).

The ``audit_chain`` projection follows the log like the other projections: for each
event it renders the audit line (:mod:`projections.audit_lines`), links it to the
previous line's hash and records ``(position, aggregate, version, occurred_at,
prev_hash, hash)``. Writing a command costs nothing extra; the chain follows shortly.

``verify`` re-reads every stored event row, recomputes the chain from scratch and
compares it with the recorded one, position by position: an edited, deleted,
inserted or reordered row shows as the first position where they differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from infrastructure.database import Database, Transaction
from infrastructure.store import LifecycleStore
from projections.audit_lines import GENESIS, audit_line, chained, history_entry
from projections.due_work import instant_key
from projections.event_rows import LOWEST, EventRows, StoredRow
from projections.runner import Projection, ProjectionRunner

NAME = "audit_chain"

UNCHAINED = "a stored event that the chain never recorded"
MISSING = "a chained event is no longer stored"
UNDECODABLE = "the stored event does not decode"
CHANGED = "the stored event differs from the one chained"


class ChainMismatch(Exception):
    """A rebuilt audit chain that would not match the recorded one."""


class AuditChainProjection(Projection):
    name = NAME
    tables = (
        """CREATE TABLE IF NOT EXISTS audit_chain (
            position BIGINT PRIMARY KEY,
            aggregate_id TEXT NOT NULL,
            aggregate_type TEXT NOT NULL,
            version BIGINT NOT NULL,
            occurred_at TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        )""",
        # The index from time to version behind ``as_of``, and each aggregate's last
        # chained version.
        "CREATE INDEX IF NOT EXISTS audit_chain_by_time ON audit_chain"
        " (aggregate_id, occurred_at, version)",
        "CREATE INDEX IF NOT EXISTS audit_chain_by_version ON audit_chain (aggregate_id, version)",
    )

    def __init__(self) -> None:
        # The last link written in the transaction that is open now, so that a batch
        # does not read back every row it has just written.
        self._last: tuple[Transaction, str] | None = None

    def _prev_hash(self, tx: Transaction) -> str:
        last = self._last
        if last is not None and last[0] is tx:
            return last[1]
        row = tx.one("SELECT hash FROM audit_chain ORDER BY position DESC LIMIT 1")
        return str(row["hash"]) if row else GENESIS

    def check_rebuilt(self, tx: Transaction, shadow_suffix: str) -> None:
        """A rebuilt chain must equal the recorded one wherever both reach: otherwise
        the log was altered since it was chained, and a swap would hide that."""
        row = tx.one(
            f"SELECT l.position FROM audit_chain l LEFT JOIN audit_chain{shadow_suffix} n"
            " ON n.position = l.position WHERE n.hash IS NULL OR n.hash <> l.hash"
            " ORDER BY l.position LIMIT 1"
        )
        if row is not None:
            raise ChainMismatch(
                f"the recomputed chain differs from the recorded one at position "
                f"{row['position']}: the event log may have been altered; run verify"
            )

    def apply(self, tx: Transaction, event: Any, position: int, prepared: Any) -> None:
        line = chained(audit_line(event, position), self._prev_hash(tx))
        tx.execute(
            "INSERT INTO audit_chain (position, aggregate_id, aggregate_type, version,"
            " occurred_at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                position,
                line["aggregate_id"],
                line["aggregate_type"],
                line["version"],
                instant_key(event.timestamp),
                line["prev_hash"],
                line["hash"],
            ),
        )
        self._last = (tx, line["hash"])


@dataclass(frozen=True)
class Verification:
    ok: bool
    events: int
    head_hash: str
    position: int
    first_bad_position: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "ok": self.ok,
            "events": self.events,
            "head_hash": self.head_hash,
            "position": self.position,
        }
        if not self.ok:
            shown["first_bad_position"] = self.first_bad_position
            shown["reason"] = self.reason
        return shown


@dataclass(frozen=True)
class _Link:
    position: int
    prev_hash: str
    hash: str


class AuditLog:
    """The auditor's reads over the store, the event rows and the recorded chain."""

    def __init__(self, store: LifecycleStore, database: Database, runner: ProjectionRunner) -> None:
        self.store = store
        self.database = database
        self.runner = runner
        self.rows = EventRows(store, database)

    # --- one aggregate ---------------------------------------------------------------

    def history(self, aggregate_id: UUID) -> list[dict[str, Any]]:
        """Every event of the aggregate, oldest first, each with the line's fields and
        the aggregate type (empty when there is no such aggregate)."""
        entries = []
        for row in self.rows.of_aggregate(aggregate_id):
            line = audit_line(self.rows.decode(row, reveal=True), row.position, reveal=True)
            entries.append({**history_entry(line), "aggregate_type": line["aggregate_type"]})
        return entries

    def version_at(self, aggregate_id: UUID, instant: datetime) -> int | None:
        """The aggregate's version as of ``instant``: its last event recorded at or
        before it, or ``None`` before it existed (or when there is no such aggregate).

        The chain's index answers for the events it has followed; events the
        projection has not reached yet are read from the store, so the answer never
        lags the log.
        """
        rows = self.rows
        with self.database.transaction(commit=False) as tx:
            # One round trip and one row (each column is a scalar subquery): the index's
            # answer, how far the index has followed this aggregate, and how far its
            # events go.
            [found] = tx.all(
                "SELECT (SELECT version FROM audit_chain"
                " WHERE aggregate_id = ? AND occurred_at <= ?"
                " ORDER BY occurred_at DESC, version DESC LIMIT 1) AS at_instant,"
                " (SELECT version FROM audit_chain WHERE aggregate_id = ?"
                " ORDER BY version DESC LIMIT 1) AS chained,"
                f" (SELECT MAX(originator_version) FROM {rows.table} WHERE originator_id = ?)"
                " AS recorded",
                (
                    str(aggregate_id),
                    instant_key(instant),
                    str(aggregate_id),
                    rows.id_param(aggregate_id),
                ),
            )
        version = None if found["at_instant"] is None else int(found["at_instant"])
        chained_to = 0 if found["chained"] is None else int(found["chained"])
        recorded = 0 if found["recorded"] is None else int(found["recorded"])
        if recorded <= chained_to:
            return version
        for event in self.store.events.get(aggregate_id, gt=chained_to or None):
            if event.timestamp <= instant:
                version = event.originator_version
        return version

    def as_of(self, aggregate_id: UUID, instant: datetime) -> Any | None:
        """The aggregate as it was at ``instant``, or ``None`` before it existed."""
        version = self.version_at(aggregate_id, instant)
        if version is None:
            return None
        return self.store.repository.get(aggregate_id, version=version)

    # --- the whole log -----------------------------------------------------------------

    def chain_position(self) -> int:
        return self.runner.position()

    def _links(self, after: int, until: int, limit: int) -> list[_Link]:
        with self.database.transaction(commit=False) as tx:
            rows = tx.all(
                "SELECT position, prev_hash, hash FROM audit_chain"
                " WHERE position > ? AND position <= ? ORDER BY position LIMIT ?",
                (after, until, limit),
            )
        return [_Link(int(r["position"]), str(r["prev_hash"]), str(r["hash"])) for r in rows]

    def _scan_links(self, until: int, page_size: int = 1000) -> Iterator[_Link]:
        after = LOWEST
        while True:
            links = self._links(after, until, page_size)
            yield from links
            if len(links) < page_size:
                return
            after = links[-1].position

    def count(self, after: int = 0) -> int:
        with self.database.transaction(commit=False) as tx:
            row = tx.one("SELECT COUNT(*) AS n FROM audit_chain WHERE position > ?", (after,))
        return int(row["n"]) if row else 0

    def export(self, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Chained events after ``after``, in log order: each line rendered from the
        stored row as it is now, with the hashes the chain recorded. A row changed
        since it was chained no longer matches its hash; a deleted one is missing, and
        the next line's ``prev_hash`` names a line that is not there."""
        links = self._links(after, self.chain_position(), limit)
        if not links:
            return []
        rows = {
            row.position: row
            for row in self.rows.scan(until=links[-1].position, after=after)
        }
        lines = []
        for link in links:
            row = rows.get(link.position)
            if row is None:
                continue
            try:
                line = audit_line(self.rows.decode(row), row.position)
            except Exception:  # a row that no longer decodes cannot be shown
                continue
            lines.append({**line, "prev_hash": link.prev_hash, "hash": link.hash})
        return lines

    def verify(self) -> Verification:
        """Recompute the chain from every stored row up to the chain's position and
        compare it with the recorded chain, link by link."""
        until = self.chain_position()
        recorded = self._scan_links(until)
        stored = self.rows.scan(until)
        prev = GENESIS
        events = 0
        head = GENESIS
        while True:
            link = next(recorded, None)
            row = next(stored, None)
            if link is None:
                if row is None:
                    return Verification(True, events, head, until)
                return self._bad(events, until, row.position, UNCHAINED)
            if row is None or link.position < row.position:
                return self._bad(events, until, link.position, MISSING)
            if row.position < link.position:
                return self._bad(events, until, row.position, UNCHAINED)
            recomputed = _recompute(self.rows, row, prev)
            if recomputed is None:
                return self._bad(events, until, row.position, UNDECODABLE)
            if recomputed != link.hash or link.prev_hash != prev:
                return self._bad(events, until, row.position, CHANGED)
            prev = head = link.hash
            events += 1

    def _bad(self, events: int, until: int, position: int, reason: str) -> Verification:
        return Verification(False, events, self._recorded_head(until), until, position, reason)

    def _recorded_head(self, until: int) -> str:
        with self.database.transaction(commit=False) as tx:
            row = tx.one(
                "SELECT hash FROM audit_chain WHERE position <= ? ORDER BY position DESC LIMIT 1",
                (until,),
            )
        return str(row["hash"]) if row else GENESIS


def _recompute(rows: EventRows, row: StoredRow, prev_hash: str) -> str | None:
    try:
        line = audit_line(rows.decode(row), row.position)
    except Exception:  # an edited row may no longer decode: that is a finding, not a crash
        return None
    return str(chained(line, prev_hash)["hash"])
