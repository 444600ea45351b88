"""Cards: what the service keeps (brand, last four, expiry, processor token) and
what it refuses to see (R17): raw card numbers and security codes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from lifecycle.calendar import end_of_month

SECURITY_CODE_KEYS = frozenset({"cvc", "cvv", "cvc2", "cvv2", "security_code"})


@dataclass(frozen=True)
class Card:
    """A card on file, known by the processor's token; never the number."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int

    def valid_until(self) -> datetime:
        """The first instant the card is no longer valid (after its expiry month)."""
        last_day = end_of_month(self.exp_year, self.exp_month)
        return datetime(last_day.year, last_day.month, last_day.day, tzinfo=timezone.utc).replace(
            hour=23, minute=59, second=59, microsecond=999999
        )

    def expires_before(self, instant: datetime) -> bool:
        return self.valid_until() < instant

    def shown(self) -> dict[str, Any]:
        return {
            "brand": self.brand,
            "last4": self.last4,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
        }


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def looks_like_card_number(value: str | int) -> bool:
    """13-19 digits once spaces and dashes are removed, passing the Luhn check."""
    text = str(value).replace(" ", "").replace("-", "")
    return 13 <= len(text) <= 19 and text.isascii() and text.isdigit() and luhn_valid(text)


def raw_card_data(document: Any) -> str | None:
    """Where in a parsed JSON document raw card data sits, or ``None``.

    Walks every key and value at any depth (without recursion, so deep documents
    cannot exhaust the stack). Returns a location such as ``body.card.number``;
    never the value itself.
    """
    for location, key, value in _walk(document):
        if key is not None and key.lower() in SECURITY_CODE_KEYS:
            return location
        if isinstance(value, bool):
            continue
        if isinstance(value, (str, int)) and looks_like_card_number(value):
            return location
        if key is not None and looks_like_card_number(key):
            return location
    return None


def _walk(document: Any) -> Iterator[tuple[str, str | None, Any]]:
    stack: list[tuple[str, str | None, Any]] = [("body", None, document)]
    while stack:
        location, key, value = stack.pop()
        yield location, key, value
        if isinstance(value, dict):
            for child_key, child in value.items():
                shown = "<key>" if looks_like_card_number(str(child_key)) else child_key
                stack.append((f"{location}.{shown}", str(child_key), child))
        elif isinstance(value, list):
            for index, child in enumerate(value):
                stack.append((f"{location}[{index}]", None, child))
