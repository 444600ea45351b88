"""The default adapter of the payment gateway port (``commands.payments.PaymentGateway``):
the sandbox of the API contract.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from infrastructure.database import Database
from lifecycle.cards import Card
from lifecycle.errors import InvalidPaymentToken
from lifecycle.payment import PURCHASE, ChargeOutcome, ChargeRequest


@dataclass(frozen=True)
class SandboxCard:
    brand: str
    last4: str
    purchase_approved: bool
    later_approved: bool


SANDBOX_CARDS = {
    "tok_visa": SandboxCard("visa", "4242", True, True),
    "tok_mastercard": SandboxCard("mastercard", "4444", True, True),
    "tok_declined": SandboxCard("visa", "0002", False, False),
    "tok_fails_renewal": SandboxCard("visa", "0341", True, False),
}
SANDBOX_EXPIRY = (12, 2030)

SANDBOX_TABLES = (
    """CREATE TABLE IF NOT EXISTS sandbox_charges (
        idempotency_key TEXT PRIMARY KEY,
        charge_id TEXT NOT NULL,
        token TEXT NOT NULL,
        amount TEXT NOT NULL,
        currency TEXT NOT NULL,
        approved INTEGER NOT NULL,
        reason TEXT,
        charged_at TEXT NOT NULL
    )""",
)


class SandboxGateway:
    """Decides by token only; keeps its ledger of charges in the service's database,
    as a processor keeps its own, so that duplicates are refused across processes."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._db.create(SANDBOX_TABLES)

    def card_for(self, token: str) -> Card:
        card = SANDBOX_CARDS.get(token)
        if card is None:
            raise InvalidPaymentToken(
                f"the payment processor does not know this token; sandbox tokens: "
                f"{', '.join(SANDBOX_CARDS)}"
            )
        month, year = SANDBOX_EXPIRY
        return Card(token=token, brand=card.brand, last4=card.last4, exp_month=month, exp_year=year)

    def charge(self, request: ChargeRequest, at: datetime) -> ChargeOutcome:
        key = request.idempotency_key
        card = SANDBOX_CARDS.get(request.token or "")
        if card is None:
            approved, reason = False, "unknown_token"
        else:
            approved = card.purchase_approved if request.purpose == PURCHASE else card.later_approved
            reason = None if approved else "card_declined"
        charge_id = "ch_" + hashlib.sha256(key.encode()).hexdigest()[:24]
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO sandbox_charges (idempotency_key, charge_id, token, amount, currency,"
                " approved, reason, charged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (idempotency_key) DO NOTHING",
                (
                    key,
                    charge_id,
                    request.token or "",
                    f"{request.amount.amount:.2f}",
                    request.amount.currency,
                    1 if approved else 0,
                    reason,
                    at.isoformat(),
                ),
            )
            first = tx.one(
                "SELECT charge_id, approved, reason FROM sandbox_charges WHERE idempotency_key = ?",
                (key,),
            )
        assert first is not None
        return ChargeOutcome(
            approved=bool(first["approved"]), charge_id=first["charge_id"], reason=first["reason"]
        )

    def charges(self) -> list[dict[str, object]]:
        """The sandbox's ledger, oldest first (for tests and operators)."""
        with self._db.transaction(commit=False) as tx:
            return tx.all("SELECT * FROM sandbox_charges ORDER BY charged_at, idempotency_key")
