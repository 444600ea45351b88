"""The outgoing-messages view behind ``GET /v1/ops/notifications``.

Each row remembers whose data key sealed its recipient (``owner_id``). When an
organisation's personal data is erased (``Organisation.PersonalDataErased``), its rows
are read again from the log, where their personal values now read as erased, so the
view holds what a rebuild would.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from infrastructure.database import Database, Transaction
from eventsourcing.utils import get_topic
from infrastructure.store import LifecycleStore
from lifecycle.message import Message
from lifecycle.organisation import Organisation
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
            created_at TEXT NOT NULL,
            owner_id TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS notifications_by_recipient ON notifications (recipient)",
        "CREATE INDEX IF NOT EXISTS notifications_by_owner ON notifications (owner_id)",
    )
    topics = (
        get_topic(Message.Composed),  # type: ignore[attr-defined]
        get_topic(Organisation.PersonalDataErased),  # type: ignore[attr-defined]
    )

    def __init__(self, store: LifecycleStore | None = None) -> None:
        self.store = store

    def prepare(self, event: Any) -> Any:
        if not isinstance(event, Organisation.PersonalDataErased):
            return None
        if self.store is None:
            raise RuntimeError("the notifications view needs the store to apply an erasure")
        self.store.personal_data.forget()  # another process may have erased it
        owners = self.store.personal_data.erased_owners(event.originator_id)
        if not owners:
            return []
        marks = ", ".join("?" for _ in owners)
        with self.store.personal_data.database.transaction(commit=False) as tx:
            rows = tx.all(
                f"SELECT DISTINCT message_id FROM notifications WHERE owner_id IN ({marks})",
                owners,
            )
        return [self.store.repository.get(UUID(row["message_id"])) for row in rows]

    def apply(self, tx: Transaction, event: Any, position: int, prepared: Any) -> None:
        if isinstance(event, Organisation.PersonalDataErased):
            for message in prepared:
                tx.execute(
                    "UPDATE notifications SET recipient = ?, subject = ?, body = ?, data = ?"
                    " WHERE message_id = ?",
                    (
                        message.recipient,
                        message.subject,
                        message.body,
                        json.dumps(message.data, sort_keys=True),
                        str(message.id),
                    ),
                )
            return
        stored = getattr(event.recipient, "stored", None)
        tx.execute(
            "INSERT INTO notifications (position, message_id, kind, recipient, subject, body,"
            " data, created_at, owner_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                position,
                str(event.originator_id),
                event.kind,
                event.recipient,
                event.subject,
                event.body,
                json.dumps(event.data, sort_keys=True),
                instant_key(event.timestamp),
                stored["owner"] if stored else None,
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
