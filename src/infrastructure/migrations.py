"""Every change made to one of our own tables after it first shipped, in one ordered
list, and the statements that apply it on either store.

Our tables are created by the code that owns them, in their latest shape, when it
starts (``CREATE TABLE ... IF NOT EXISTS``). A table that an older release created
lacks what was added since: its owner then calls ``upgrade(database, table)`` right
after creating it, which applies that table's migrations in order. Each one is
idempotent: it is skipped when already applied, and safe when two processes start
together (on PostgreSQL ``ADD COLUMN IF NOT EXISTS``; SQLite has one writer at a time).

The event log's table is the library's: our one column there (``tx_id``) is added with
the library's own CREATE statements, under its schema lock (``infrastructure.recorders``).
"""

from __future__ import annotations

from dataclasses import dataclass

from infrastructure.database import Database, Transaction


@dataclass(frozen=True)
class AddColumn:
    table: str
    column: str
    definition: str


MIGRATIONS: tuple[AddColumn, ...] = (
    # Side-by-side rebuilds count their swaps (projections.rebuild).
    AddColumn("projection_tracking", "generation", "BIGINT NOT NULL DEFAULT 1"),
    # The committed mark of an Idempotency-Key, set in the events' own transaction.
    AddColumn("idempotency_keys", "position", "BIGINT"),
    AddColumn("idempotency_keys", "committed_at", "TEXT"),
    AddColumn("idempotency_keys", "created", "TEXT"),
)


def upgrade(database: Database, table: str) -> None:
    """Apply the migrations of ``table`` that it lacks, in order, in one transaction."""
    steps = [step for step in MIGRATIONS if step.table == table]
    if not steps:
        return
    with database.transaction() as tx:
        present = columns(tx, table)
        for step in steps:
            if step.column not in present:
                tx.execute(add_column(tx.dialect, step))


def columns(tx: Transaction, table: str) -> set[str]:
    """The names of the table's columns (none when it does not exist)."""
    if tx.dialect == "postgres":
        rows = tx.all(
            "SELECT column_name AS name FROM information_schema.columns"
            " WHERE table_name = ? AND table_schema = current_schema()",
            (table,),
        )
    else:
        rows = tx.all(f"PRAGMA table_info({table})")
    return {str(row["name"]) for row in rows}


def add_column(dialect: str, step: AddColumn) -> str:
    # PostgreSQL: another process starting together may add it meanwhile.
    add = "ADD COLUMN IF NOT EXISTS" if dialect == "postgres" else "ADD COLUMN"
    return f"ALTER TABLE {step.table} {add} {step.column} {step.definition}"
