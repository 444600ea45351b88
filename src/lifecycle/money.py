"""Money: a Decimal amount with a currency, never a float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

CURRENCIES = ("USD", "EUR", "GBP", "AUD", "CAD", "JPY", "SGD")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("money amounts are Decimal")
        if self.amount.is_nan() or self.amount < 0:
            raise ValueError("money amounts are non-negative numbers")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"not a currency code: {self.currency!r}")

    @classmethod
    def of(cls, amount: str | Decimal, currency: str) -> Money:
        return cls(Decimal(amount).quantize(Decimal("0.01")), currency)

    def as_dict(self) -> dict[str, str]:
        return {"amount": f"{self.amount:.2f}", "currency": self.currency}
