"""The outgoing-messages view behind ``GET /v1/ops/notifications``."""

from __future__ import annotations

import json
from typing import Any

from commands.database import Database, Transaction
from eventsourcing.utils import get_topic
from lifecycle.message import Message
from projections.due_work import instant_key
from projections.runner import Projection


class NotificationsProjection(Projection):
    name = "notifications"
    tables = (
        """CREATE TABLE IF NOT EXISTS notifications (
            position BIGINT PRIMARY KEY,
            message_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            data TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS notifications_by_recipient ON notifications (recipient)",
    )
    topics = (get_topic(Message.Composed),)  # type: ignore[attr-defined]

    def apply(self, tx: Transaction, event: Any, position: int, prepared: Any) -> None:
        tx.execute(
            "INSERT INTO notifications (position, message_id, kind, recipient, subject, body,"
            " data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                position,
                str(event.originator_id),
                event.kind,
                event.recipient,
                event.subject,
                event.body,
                json.dumps(event.data, sort_keys=True),
                instant_key(event.timestamp),
            ),
        )


def list_notifications(database: Database, recipient: str | None) -> list[dict[str, Any]]:
    sql = "SELECT kind, recipient, subject, body, data, created_at FROM notifications"
    params: tuple[Any, ...] = ()
    if recipient is not None:
        sql += " WHERE recipient = ?"
        params = (recipient,)
    with database.transaction(commit=False) as tx:
        rows = tx.all(sql + " ORDER BY position", params)
    for row in rows:
        row["data"] = json.loads(row["data"])
    return rows
