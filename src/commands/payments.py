"""The payment gateway port. Its default adapter is the sandbox of the API contract
(``infrastructure.sandbox_gateway``); a real processor's adapter implements the same
two calls: describe the card a token stands for, and take a charge under an
idempotency key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from lifecycle.cards import Card
from lifecycle.payment import ChargeOutcome, ChargeRequest


class PaymentGateway(Protocol):
    def card_for(self, token: str) -> Card:
        """The card a processor token stands for (brand, last four, expiry)."""

    def charge(self, request: ChargeRequest, at: datetime) -> ChargeOutcome:
        """Take the charge once: a repeat with the same idempotency key returns the
        first outcome and takes nothing more."""
