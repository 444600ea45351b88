"""Outgoing messages, recorded as events in the same log as their cause."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from lifecycle.aggregate import LifecycleAggregate
from lifecycle.change import Change
from lifecycle.personal import personal

KINDS = (
    "email_verification",
    "purchase_confirmation",
    "renewal_reminder",
    "card_expiring",
    "renewal_receipt",
    "payment_failed",
    "downgrade_notice",
    "licence_request",
    "renewal_notice",
    "renewal_overdue",
    "quote",
    "invoice",
)


class Message(LifecycleAggregate):
    """One outgoing message: who gets it, what it says, and why."""

    @classmethod
    def compose(
        cls,
        message_id: UUID,
        *,
        kind: str,
        recipient: str,
        subject: str,
        body: str,
        data: dict[str, Any],
        about: UUID | None,
        change: Change,
    ) -> Message:
        if kind not in KINDS:
            raise ValueError(f"unknown message kind {kind!r}")
        # Who it goes to and what it says are about a person; so is any text in its
        # data (names, addresses, what a requester wrote). Ids and amounts in data are
        # sealed with them, which costs nothing the rules need.
        return cls(
            id=message_id,
            kind=kind,
            recipient=personal(recipient),
            subject=personal(subject),
            body=personal(body),
            data=personal(dict(data)),
            about=about,
            **change.stamp(),
        )

    @event("Composed")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - the aggregate id, chosen by the application
        kind: str,
        recipient: str,
        subject: str,
        body: str,
        data: dict[str, Any],
        about: UUID | None,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.kind = kind
        self.recipient = recipient
        self.subject = subject
        self.body = body
        self.data = dict(data)
        self.about = about
