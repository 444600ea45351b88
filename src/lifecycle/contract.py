"""Enterprise contracts: numbered, with terms, licences, contacts and a notice period
(R40, R41, R45).

A contract's terms are counted from its original start date, never from the previous
term's end: term ``k`` ends on ``contract_term_end(start, months of terms 1..k)``. A
renewed term starts the day after the previous one ended. Day boundaries are UTC.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from lifecycle.aggregate import LifecycleAggregate
from lifecycle.calendar import contract_term_end
from lifecycle.change import Change
from lifecycle.contract_terms import Contact, check_licences, check_term_months, start_of
from lifecycle.due import DueItem
from lifecycle.errors import ContractEnded, InvalidState, Rejected
from lifecycle.money import Money
from lifecycle.renewal import Renewal


class ContractStatus(StrEnum):
    """A contract is active until an opted-out renewal ends it.

    The members are the values the log stores: an event or a snapshot writes the plain
    string and reads back a ``str`` equal to the member, so compare, never ``is``.
    """

    ACTIVE = "active"
    ENDED = "ended"


ACTIVE = ContractStatus.ACTIVE
ENDED = ContractStatus.ENDED

PRIMARY = "primary"
BILLING = "billing"
CONTACT_ROLES = (PRIMARY, BILLING)

MAX_NOTICE_DAYS = 730

RENEWAL_WINDOW = "contract_renewal_window"


class Contract(LifecycleAggregate):
    """An enterprise contract of one organisation (an organisation may hold several)."""

    @classmethod
    def create(
        cls,
        contract_id: UUID,
        *,
        organisation_id: UUID,
        number: int,
        start_date: date,
        term_months: int,
        licences: list[str],
        notice_days: int,
        price: Money,
        primary_contact: Contact,
        billing_contact: Contact,
        change: Change,
    ) -> Contract:
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise Rejected(f"a contract number is a positive integer, not {number!r}")
        check_term_months(term_months)
        if isinstance(notice_days, bool) or not isinstance(notice_days, int):
            raise Rejected(f"the notice period is a whole number of days, not {notice_days!r}")
        if isinstance(notice_days, bool) or not 0 <= notice_days <= MAX_NOTICE_DAYS:
            raise Rejected(f"the notice period is 0 to {MAX_NOTICE_DAYS} days, not {notice_days}")
        return cls(
            id=contract_id,
            organisation_id=organisation_id,
            number=number,
            start_date=start_date,
            end_date=contract_term_end(start_date, term_months),
            term_months=term_months,
            licences=check_licences(licences),
            notice_days=notice_days,
            price=price,
            primary_contact=primary_contact,
            billing_contact=billing_contact,
            **change.stamp(),
        )

    @event("Created")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - the aggregate id, chosen by the application
        organisation_id: UUID,
        number: int,
        start_date: date,
        end_date: date,
        term_months: int,
        licences: list[str],
        notice_days: int,
        price: Money,
        primary_contact: Contact,
        billing_contact: Contact,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.organisation_id = organisation_id
        self.number = number
        self.original_start_date = start_date
        self.notice_days = notice_days
        self.terms: list[dict[str, Any]] = [
            {
                "term_number": 1,
                "start_date": start_date,
                "end_date": end_date,
                "term_months": term_months,
                "licences": list(licences),
                "price": price,
                "renewal_id": None,
            }
        ]
        self.contacts: dict[str, Contact] = {PRIMARY: primary_contact, BILLING: billing_contact}
        self.contacts_updated: dict[str, datetime | None] = {PRIMARY: None, BILLING: None}
        self.status: str = ACTIVE
        self.ended_on: date | None = None

    # --- the current term (R40) ---------------------------------------------------------

    @property
    def current(self) -> dict[str, Any]:
        return self.terms[-1]

    @property
    def term_number(self) -> int:
        return int(self.current["term_number"])

    @property
    def start_date(self) -> date:
        """The current term's first day."""
        return self.current["start_date"]  # type: ignore[no-any-return]

    @property
    def end_date(self) -> date:
        """The current term's last day."""
        return self.current["end_date"]  # type: ignore[no-any-return]

    @property
    def term_months(self) -> int:
        return int(self.current["term_months"])

    @property
    def licences(self) -> list[str]:
        return list(self.current["licences"])

    @property
    def price(self) -> Money:
        return self.current["price"]  # type: ignore[no-any-return]

    @property
    def months_so_far(self) -> int:
        return sum(int(term["term_months"]) for term in self.terms)

    @property
    def current_renewal_id(self) -> UUID | None:
        return self.current["renewal_id"]  # type: ignore[no-any-return]

    def renewal_id_of(self, term_number: int) -> UUID | None:
        for term in self.terms:
            if term["term_number"] == term_number:
                return term["renewal_id"]  # type: ignore[no-any-return]
        return None

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    def _check_active(self) -> None:
        if self.status != ACTIVE:
            raise ContractEnded(f"contract {self.number} ended on {self.ended_on}")

    # --- contacts (R41) ----------------------------------------------------------------

    @property
    def primary_contact(self) -> Contact:
        return self.contacts[PRIMARY]

    @property
    def billing_contact(self) -> Contact:
        return self.contacts[BILLING]

    def last_updated(self, role: str) -> datetime | None:
        """When the contact last changed; ``None``: unchanged since the last renewal."""
        return self.contacts_updated[role]

    def change_contact(self, role: str, contact: Contact, change: Change) -> None:
        """A new primary or billing contact, in effect at once (also for the open renewal)."""
        if role not in CONTACT_ROLES:
            raise Rejected(f"a contract's contacts are {' and '.join(CONTACT_ROLES)}, not {role!r}")
        self._check_active()
        if self.contacts[role] == contact:
            return
        self._contact_changed(role=role, contact=contact, **change.stamp())

    @event("ContactChanged")
    def _contact_changed(
        self, role: str, contact: Contact, timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.contacts[role] = contact
        self.contacts_updated[role] = timestamp

    # --- the renewal window (R42) -----------------------------------------------------

    def window_opens_at(self) -> datetime:
        return start_of(self.end_date - Renewal.OPENS_BEFORE)

    def window_due(self, at: datetime) -> bool:
        """The current term's renewal window is due to open and has not been opened."""
        return self.is_active and self.current_renewal_id is None and at >= self.window_opens_at()

    def open_renewal(self, renewal_id: UUID, change: Change) -> Renewal:
        """Open the current term's renewal (one per term): the new ``Renewal`` aggregate."""
        if not self.window_due(change.at):
            raise InvalidState(
                f"the renewal window of term {self.term_number} of contract {self.number} "
                "is not due to open"
            )
        self._renewal_window_opened(
            term_number=self.term_number, renewal_id=renewal_id, **change.stamp()
        )
        return Renewal.open(
            renewal_id,
            contract_id=self.id,
            organisation_id=self.organisation_id,
            contract_number=self.number,
            term_number=self.term_number,
            end_date=self.end_date,
            notice_days=self.notice_days,
            licences=self.licences,
            term_months=self.term_months,
            price=self.price,
            change=change,
        )

    @event("RenewalWindowOpened")
    def _renewal_window_opened(
        self, term_number: int, renewal_id: UUID, timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.current["renewal_id"] = renewal_id

    # --- the end of a term (R44, R45) ----------------------------------------------------

    def start_next_term(
        self,
        renewal_id: UUID,
        *,
        licences: list[str],
        term_months: int,
        price: Money,
        change: Change,
    ) -> None:
        """The renewed term: from the day after the old end date, with the confirmed
        quote's licences, term and price, under the same contract number."""
        self._check_active()
        if renewal_id != self.current_renewal_id:
            raise InvalidState(f"renewal {renewal_id} is not the renewal of the current term")
        check_term_months(term_months)
        start = self.end_date + timedelta(days=1)
        self._next_term_started(
            term_number=self.term_number + 1,
            start_date=start,
            end_date=contract_term_end(self.original_start_date, self.months_so_far + term_months),
            term_months=term_months,
            licences=check_licences(licences),
            price=price,
            renewal_id=renewal_id,
            **change.stamp(),
        )

    @event("NextTermStarted")
    def _next_term_started(
        self,
        term_number: int,
        start_date: date,
        end_date: date,
        term_months: int,
        licences: list[str],
        price: Money,
        renewal_id: UUID,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.terms.append(
            {
                "term_number": term_number,
                "start_date": start_date,
                "end_date": end_date,
                "term_months": term_months,
                "licences": list(licences),
                "price": price,
                "renewal_id": None,
            }
        )
        self.contacts_updated = {PRIMARY: None, BILLING: None}

    def end(self, renewal_id: UUID, change: Change) -> None:
        """An opted-out contract ends at its end date."""
        self._check_active()
        if renewal_id != self.current_renewal_id:
            raise InvalidState(f"renewal {renewal_id} is not the renewal of the current term")
        self._ended(ended_on=self.end_date, renewal_id=renewal_id, **change.stamp())

    @event("Ended")
    def _ended(
        self, ended_on: date, renewal_id: UUID, timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.status = ENDED
        self.ended_on = ended_on

    # --- time-driven work ----------------------------------------------------------------

    def due_work(self) -> list[DueItem]:
        if self.is_active and self.current_renewal_id is None:
            return [
                DueItem(
                    self.window_opens_at(),
                    RENEWAL_WINDOW,
                    self.id,
                    f"{RENEWAL_WINDOW}:{self.id}:{self.term_number}",
                )
            ]
        return []


class ContractNumber(LifecycleAggregate):
    """The claim on one contract number. Its id derives from the number, so a second
    claim of the same number is a second aggregate with the same id: the store refuses it
    in the same transaction as the contract (numbers are unique per deployment)."""

    @classmethod
    def claim(
        cls, claim_id: UUID, *, number: int, contract_id: UUID, change: Change
    ) -> ContractNumber:
        return cls(id=claim_id, number=number, contract_id=contract_id, **change.stamp())

    @event("Claimed")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - derived from the number by the application
        number: int,
        contract_id: UUID,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.number = number
        self.contract_id = contract_id
