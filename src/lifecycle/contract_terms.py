"""Values shared by contracts and their renewals: contacts, licences, term lengths, and the UTC
day boundaries at which contract dates take effect (R40, R42, R44, R45)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any
from uuid import UUID

from lifecycle.errors import Rejected
from lifecycle.personal import personal

MAX_TERM_MONTHS = 120


def start_of(day: date) -> datetime:
    """The first instant of ``day`` in UTC (00:00Z)."""
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def utc_day(instant: datetime) -> date:
    """The UTC calendar day of an instant."""
    return instant.astimezone(timezone.utc).date()


def check_licences(licences: list[str]) -> list[str]:
    """At least one product, each named once."""
    cleaned = [str(item).strip() for item in licences]
    if not cleaned or any(not item for item in cleaned):
        raise Rejected("a term licenses at least one product, each named")
    if len(set(cleaned)) != len(cleaned):
        raise Rejected("each product is licensed once")
    return cleaned


def check_term_months(term_months: int) -> int:
    if isinstance(term_months, bool) or not isinstance(term_months, int):
        raise Rejected(f"a term lasts a whole number of months, not {term_months!r}")
    if not 1 <= term_months <= MAX_TERM_MONTHS:
        raise Rejected(f"a term lasts 1 to {MAX_TERM_MONTHS} months, not {term_months}")
    return term_months


@dataclass(frozen=True)
class Contact:
    """A contract's primary (owner) or billing contact (R41)."""

    first_name: str
    last_name: str
    email: str
    account_id: UUID | None = None

    def __post_init__(self) -> None:
        # Names and the address are personal data, however the contact was made.
        for name in ("first_name", "last_name", "email"):
            object.__setattr__(self, name, personal(getattr(self, name)))

    @classmethod
    def of(
        cls,
        first_name: str | None,
        last_name: str | None,
        email: str | None,
        account_id: UUID | None = None,
    ) -> Contact:
        """First name, last name and email are required to save a contact."""
        values = {
            "first_name": (first_name or "").strip(),
            "last_name": (last_name or "").strip(),
            "email": (email or "").strip(),
        }
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise Rejected(
                f"a contact needs a first name, a last name and an email; missing: "
                f"{', '.join(missing)}",
                missing=missing,
            )
        if "@" not in values["email"]:
            raise Rejected(f"not an email address: {values['email']!r}")
        return cls(account_id=account_id, **values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "account_id": str(self.account_id) if self.account_id else None,
        }

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"
