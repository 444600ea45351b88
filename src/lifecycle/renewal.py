"""The renewal of one term of an enterprise contract (R42-R46).

Stages, in order::

    assessment ─contact─▶ discussion ─quote─▶ proposal ─confirm─▶ confirmed
        │                     │  ▲ align         │ ▲ quote (revise), align
        │                     └──┘               └─┘
        └────────── opt-out (until the notice deadline, before invoicing) ──▶ opted_out
    confirmed ─invoice─▶ invoiced ─(term end)─▶ renewed

Dates, all UTC days: the window opens 120 days before the term's end date, the
customer must be contacted by 60 days before it, opt-outs and changes are accepted
through the notice deadline (end date minus the contract's notice days), and the
renewal takes effect at the start of the day after the end date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from lifecycle.aggregate import LifecycleAggregate
from lifecycle.change import Change
from lifecycle.contract_terms import Contact, check_licences, check_term_months, start_of, utc_day
from lifecycle.due import DueItem
from lifecycle.errors import (
    InvalidState,
    NoticePeriodPassed,
    Rejected,
    ScopeNotAligned,
    StageOutOfOrder,
    StaleQuote,
)
from lifecycle.money import Money
from lifecycle.personal import personal


class RenewalStage(StrEnum):
    """The stages of a renewal (see the module's picture).

    The members are the values the log stores: an event or a snapshot writes the plain
    string and reads back a ``str`` equal to the member, so compare, never ``is``.
    """

    ASSESSMENT = "assessment"
    DISCUSSION = "discussion"
    PROPOSAL = "proposal"
    CONFIRMED = "confirmed"
    INVOICED = "invoiced"
    RENEWED = "renewed"
    OPTED_OUT = "opted_out"


ASSESSMENT = RenewalStage.ASSESSMENT
DISCUSSION = RenewalStage.DISCUSSION
PROPOSAL = RenewalStage.PROPOSAL
CONFIRMED = RenewalStage.CONFIRMED
INVOICED = RenewalStage.INVOICED
RENEWED = RenewalStage.RENEWED
OPTED_OUT = RenewalStage.OPTED_OUT
STAGES = (ASSESSMENT, DISCUSSION, PROPOSAL, CONFIRMED, INVOICED, RENEWED)
"""The stages in order; ``opted_out`` leaves the order and ends it."""
OPEN_STAGES = (ASSESSMENT, DISCUSSION, PROPOSAL, CONFIRMED)
"""Neither invoiced nor opted out: the renewal is still undecided."""

RENEWALS_MANAGER = "renewals_manager"
ACCOUNT_EXECUTIVE = "account_executive"

CHANGE_KINDS = ("add_product", "add_users", "remove_product", "downgrade")

OVERDUE = "contract_renewal_overdue"
TERM_END = "contract_term_end"


def owner_for(changes: list[dict[str, str]]) -> str:
    """R43: a direct continuation is the Renewals Manager's; any change of services is
    the Account Executive's."""
    return ACCOUNT_EXECUTIVE if changes else RENEWALS_MANAGER


def check_changes(changes: list[dict[str, str]]) -> list[dict[str, str]]:
    cleaned = []
    for item in changes:
        kind = str(item.get("kind", "")).strip()
        if kind not in CHANGE_KINDS:
            raise Rejected(
                f"unknown kind of change {kind!r}; one of {', '.join(CHANGE_KINDS)}",
                kinds=list(CHANGE_KINDS),
            )
        detail = personal(str(item.get("detail") or "").strip())  # free text a person wrote
        cleaned.append({"kind": kind, "detail": detail})
    return cleaned


class Renewal(LifecycleAggregate):
    """The renewal pipeline of one term of one contract."""

    OPENS_BEFORE = timedelta(days=120)
    CONTACT_BEFORE = timedelta(days=60)
    INVOICE_DUE_AFTER = timedelta(days=30)

    @classmethod
    def open(
        cls,
        renewal_id: UUID,
        *,
        contract_id: UUID,
        organisation_id: UUID,
        contract_number: int,
        term_number: int,
        end_date: date,
        notice_days: int,
        licences: list[str],
        term_months: int,
        price: Money,
        change: Change,
    ) -> Renewal:
        """Opened by the contract when its window opens (``Contract.open_renewal``)."""
        return cls(
            id=renewal_id,
            contract_id=contract_id,
            organisation_id=organisation_id,
            contract_number=contract_number,
            term_number=term_number,
            end_date=end_date,
            opens_on=end_date - cls.OPENS_BEFORE,
            contact_by=end_date - cls.CONTACT_BEFORE,
            notice_deadline=end_date - timedelta(days=notice_days),
            licences=list(licences),
            term_months=term_months,
            price=price,
            **change.stamp(),
        )

    @event("Opened")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - the aggregate id, chosen by the application
        contract_id: UUID,
        organisation_id: UUID,
        contract_number: int,
        term_number: int,
        end_date: date,
        opens_on: date,
        contact_by: date,
        notice_deadline: date,
        licences: list[str],
        term_months: int,
        price: Money,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.contract_id = contract_id
        self.organisation_id = organisation_id
        self.contract_number = contract_number
        self.term_number = term_number
        self.end_date = end_date
        self.opens_on = opens_on
        self.contact_by = contact_by
        self.notice_deadline = notice_deadline
        self.current_services = {
            "licences": list(licences),
            "term_months": term_months,
            "price": price,
        }
        self.stage: str = ASSESSMENT
        self.changes: list[dict[str, str]] = []
        self.owner_role = RENEWALS_MANAGER
        self.quotes: list[dict[str, Any]] = []
        self.confirmed_quote_id: UUID | None = None
        self.invoice: dict[str, Any] | None = None
        self.escalated = False
        self.contacted_at: datetime | None = None
        self.opt_out_reason: str | None = None
        self.contract_ended = False

    # --- instants (UTC day boundaries) -----------------------------------------------------

    @property
    def overdue_from(self) -> datetime:
        """Not contacted by the end of ``contact_by``: overdue from the next day."""
        return start_of(self.contact_by + timedelta(days=1))

    @property
    def notice_closes_at(self) -> datetime:
        """Opt-outs and changes are accepted through the end of the notice deadline."""
        return start_of(self.notice_deadline + timedelta(days=1))

    @property
    def term_end_at(self) -> datetime:
        """The next term starts (or an opted-out contract ends) the day after the end date."""
        return start_of(self.end_date + timedelta(days=1))

    def is_overdue(self, at: datetime) -> bool:
        """Not contacted after ``contact_by``, or still undecided after the end date."""
        if self.stage not in OPEN_STAGES:
            return False
        return (self.stage == ASSESSMENT and at >= self.overdue_from) or at >= self.term_end_at

    @property
    def latest_quote(self) -> dict[str, Any] | None:
        return self.quotes[-1] if self.quotes else None

    @property
    def confirmed_quote(self) -> dict[str, Any] | None:
        for quote in self.quotes:
            if quote["quote_id"] == self.confirmed_quote_id:
                return quote
        return None

    def _require(self, stages: tuple[str, ...], doing: str) -> None:
        if self.stage not in stages:
            raise StageOutOfOrder(
                f"the renewal is in stage {self.stage}; {doing} needs stage {' or '.join(stages)}",
                stage=self.stage,
            )

    def _check_notice(self, at: datetime, what: str) -> None:
        if at >= self.notice_closes_at:
            raise NoticePeriodPassed(
                f"{what} had to be requested by the notice deadline "
                f"{self.notice_deadline.isoformat()}",
                notice_deadline=self.notice_deadline.isoformat(),
            )

    # --- assessment → discussion (R42) ---------------------------------------------------

    def contact(self, notes: str | None, change: Change) -> None:
        """The customer has been contacted: the renewal is under discussion."""
        self._require((ASSESSMENT,), "recording the contact")
        self._contacted(notes=personal(notes), **change.stamp())

    @event("CustomerContacted")
    def _contacted(self, notes: str | None, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.stage = DISCUSSION
        self.contacted_at = timestamp

    def escalation_due(self, at: datetime) -> bool:
        return self.stage == ASSESSMENT and not self.escalated and at >= self.overdue_from

    def escalate(self, change: Change) -> None:
        """Not contacted by ``contact_by``: overdue, and escalated once."""
        if not self.escalation_due(change.at):
            raise InvalidState("the renewal is not overdue for contact, or already escalated")
        self._escalated(contact_by=self.contact_by, **change.stamp())

    @event("Escalated")
    def _escalated(self, contact_by: date, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.escalated = True

    # --- scope and owner (R43, R45) -----------------------------------------------------

    def align(self, changes: list[dict[str, str]], change: Change) -> None:
        """The scope agreed with the customer: no changes continues the current services
        (Renewals Manager); any change is the Account Executive's. A change is refused
        after the notice deadline."""
        cleaned = check_changes(changes)
        self._require((DISCUSSION, PROPOSAL), "aligning the scope")
        if cleaned:
            self._check_notice(change.at, "a change of services")
        if cleaned == self.changes:
            return
        self._aligned(changes=cleaned, owner_role=owner_for(cleaned), **change.stamp())

    @event("ScopeAligned")
    def _aligned(
        self,
        changes: list[dict[str, str]],
        owner_role: str,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.changes = [dict(item) for item in changes]
        self.owner_role = owner_role

    # --- proposal and confirmation (R44) --------------------------------------------------

    def _check_within_scope(self, licences: list[str]) -> None:
        """Other licences than the current ones are a change of services: it must have
        been aligned (so the Account Executive owns it and the notice deadline applied)."""
        if sorted(licences) != sorted(self.current_services["licences"]) and not self.changes:
            raise ScopeNotAligned(
                "these licences change the current services "
                f"({', '.join(self.current_services['licences'])}); align the change of "
                "scope first",
            )

    def issue_quote(
        self,
        quote_id: UUID,
        *,
        licences: list[str],
        term_months: int,
        price: Money,
        change: Change,
    ) -> None:
        """A quote (services, term, price); a later quote revises it before confirmation."""
        licences = check_licences(licences)
        check_term_months(term_months)
        self._require((DISCUSSION, PROPOSAL), "a quote")
        self._check_within_scope(licences)
        if any(quote["quote_id"] == quote_id for quote in self.quotes):
            return
        self._quoted(
            quote_id=quote_id,
            licences=licences,
            term_months=term_months,
            price=price,
            **change.stamp(),
        )

    @event("Quoted")
    def _quoted(
        self,
        quote_id: UUID,
        licences: list[str],
        term_months: int,
        price: Money,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.quotes.append(
            {
                "quote_id": quote_id,
                "licences": list(licences),
                "term_months": term_months,
                "price": price,
                "issued_at": timestamp,
            }
        )
        self.stage = PROPOSAL

    def confirm(self, quote_id: UUID, change: Change) -> None:
        """Only the latest quote can be confirmed."""
        self._require((PROPOSAL,), "confirming a quote")
        if not any(quote["quote_id"] == quote_id for quote in self.quotes):
            raise Rejected(f"renewal {self.id} has no quote {quote_id}")
        latest = self.quotes[-1]  # there are quotes: the one to confirm is among them
        if latest["quote_id"] != quote_id:
            raise StaleQuote(
                f"quote {quote_id} has been revised; only the latest quote "
                f"{latest['quote_id']} can be confirmed",
                latest_quote_id=str(latest["quote_id"]),
            )
        self._check_within_scope(latest["licences"])
        self._confirmed(quote_id=quote_id, **change.stamp())

    @event("QuoteConfirmed")
    def _confirmed(self, quote_id: UUID, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.confirmed_quote_id = quote_id
        self.stage = CONFIRMED

    # --- invoice (R46) ----------------------------------------------------------------------

    def issue_invoice(self, invoice_id: UUID, recipient: Contact, change: Change) -> None:
        """The invoice for the renewed term at the confirmed quote's price, to the billing
        contact on file now, due 30 days after issue."""
        self._require((CONFIRMED,), "invoicing")
        quote = self.confirmed_quote
        if quote is None:
            raise InvalidState(f"renewal {self.id} is confirmed but holds no confirmed quote")
        issued_on = utc_day(change.at)
        self._invoiced(
            invoice={
                "invoice_id": invoice_id,
                "amount": quote["price"],
                "issued_on": issued_on,
                "due_on": issued_on + self.INVOICE_DUE_AFTER,
                "recipient": recipient,
                "term_number": self.term_number + 1,
                "licences": list(quote["licences"]),
                "term_months": quote["term_months"],
                "quote_id": quote["quote_id"],
            },
            **change.stamp(),
        )

    @event("Invoiced")
    def _invoiced(self, invoice: dict[str, Any], timestamp: datetime, meta: dict[str, Any]) -> None:
        self.invoice = dict(invoice)
        self.stage = INVOICED

    # --- opt-out (R45) ----------------------------------------------------------------------

    def opt_out(self, reason: str | None, change: Change) -> None:
        """Non-renewal, accepted through the notice deadline and before invoicing; the
        contract then ends at its end date."""
        self._require(OPEN_STAGES, "opting out")
        self._check_notice(change.at, "an opt-out")
        self._opted_out(reason=personal(reason), **change.stamp())

    @event("OptedOut")
    def _opted_out(self, reason: str | None, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.stage = OPTED_OUT
        self.opt_out_reason = reason

    # --- the end of the term (R44, R45) ----------------------------------------------------

    def takes_effect(self, at: datetime) -> bool:
        """Invoiced or opted out, and the term has ended: the outcome is due."""
        return (
            self.stage == INVOICED or (self.stage == OPTED_OUT and not self.contract_ended)
        ) and at >= self.term_end_at

    def take_effect(self, change: Change) -> str:
        """At the term end: an invoiced renewal is renewed; an opted-out contract ends.
        Answers the stage; the caller moves the contract on accordingly."""
        if not self.takes_effect(change.at):
            raise InvalidState("the renewal has nothing to take effect now")
        if self.stage == INVOICED:
            self._renewed(term_number=self.term_number + 1, **change.stamp())
        else:
            self._opt_out_took_effect(ended_on=self.end_date, **change.stamp())
        return self.stage

    @event("Renewed")
    def _renewed(self, term_number: int, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.stage = RENEWED

    @event("OptOutTookEffect")
    def _opt_out_took_effect(
        self, ended_on: date, timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.contract_ended = True

    # --- time-driven work ----------------------------------------------------------------

    def due_work(self) -> list[DueItem]:
        items = []
        if self.stage == ASSESSMENT and not self.escalated:
            items.append(DueItem(self.overdue_from, OVERDUE, self.id, f"{OVERDUE}:{self.id}"))
        if self.stage == INVOICED or (self.stage == OPTED_OUT and not self.contract_ended):
            items.append(DueItem(self.term_end_at, TERM_END, self.id, f"{TERM_END}:{self.id}"))
        return items
