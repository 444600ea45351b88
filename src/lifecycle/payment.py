"""Charges asked of the payment processor and what came of them (R16, R21, R24)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from lifecycle.money import Money

PURCHASE = "purchase"
RENEWAL = "renewal"


@dataclass(frozen=True)
class ChargeRequest:
    """A charge the domain asks for.

    ``idempotency_key`` is ``<subscription_id>:<term>:<attempt>`` (a purchase:
    ``<purchase_id>:1:<attempt>``): a retried job sends the same key and so never
    takes the same charge twice, while each retry is a new attempt.
    """

    owner_id: UUID
    purpose: str
    term: int
    attempt: int
    amount: Money
    token: str | None

    @property
    def idempotency_key(self) -> str:
        return f"{self.owner_id}:{self.term}:{self.attempt}"


@dataclass(frozen=True)
class ChargeOutcome:
    approved: bool
    charge_id: str | None
    reason: str | None = None


def payment_record(
    request: ChargeRequest, outcome: ChargeOutcome, card_last4: str | None, at: datetime
) -> dict[str, Any]:
    """How a charge is kept in an event: plain values, money as a decimal string."""
    return {
        "payment_id": outcome.charge_id or f"nocharge:{request.idempotency_key}",
        "idempotency_key": request.idempotency_key,
        "term_number": request.term,
        "attempt": request.attempt,
        "amount": request.amount.as_dict(),
        "status": "succeeded" if outcome.approved else "failed",
        "reason": outcome.reason,
        "attempted_at": at.isoformat(),
        "card_last4": card_last4,
    }
