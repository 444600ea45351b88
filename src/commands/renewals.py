"""Use cases of the renewal pipeline (R42-R46), and its time-driven work: escalation of
an overdue renewal and the end of the term."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.accounts import command_uuid
from commands.actors import check_acts_in
from commands.context import Caller
from commands.contract_messages import ContractOutbox
from commands.contracts import invoice_id_for, open_window_if_due
from commands.outcome import Outcome
from commands.services import Services, check_version, retrying
from lifecycle.change import Change
from lifecycle.contract import Contract
from lifecycle.due import DueItem
from lifecycle.money import Money
from lifecycle.organisation import Organisation
from lifecycle.renewal import RENEWED, Renewal

Decision = Callable[[Renewal, Contract, Change], list[Aggregate]]


def escalation_recipient(services: Services, organisation: Organisation) -> str:
    """Who hears of an overdue renewal: the organisation's account executive, else
    account services (the account team is set by ``PUT .../account-team``, R51)."""
    account_executive = getattr(organisation, "account_executive_email", None)
    return account_executive or services.account_services_email


def take_effect(
    services: Services, renewal: Renewal, contract: Contract, change: Change
) -> list[Aggregate]:
    """At or after the term end: an invoiced renewal starts the contract's next term
    (and, if already due, opens that term's window); an opt-out ends the contract and
    the organisation falls back when it was its last. Nothing when nothing is due."""
    if not renewal.takes_effect(change.at):
        return []
    if renewal.take_effect(change) == RENEWED:
        quote = renewal.confirmed_quote
        assert quote is not None
        contract.start_next_term(
            renewal.id,
            licences=quote["licences"],
            term_months=quote["term_months"],
            price=quote["price"],
            change=change,
        )
        return [contract, *open_window_if_due(services, contract, change)]
    contract.end(renewal.id, change)
    organisation = services.load(Organisation, contract.organisation_id, "organisation")
    organisation.follow_contract_end(contract.id, change)
    return [contract, organisation]


def _command(
    services: Services,
    caller: Caller,
    renewal_id: UUID,
    if_match: int | None,
    decide: Decision,
) -> Outcome[Renewal]:
    """Load, check which version and who acts, decide, save; again on a concurrent write."""

    def attempt() -> Outcome[Renewal]:
        renewal = services.load(Renewal, renewal_id, "renewal")
        check_version(renewal, if_match)
        check_acts_in(services, caller, renewal.organisation_id)
        contract = services.load(Contract, renewal.contract_id, "contract")
        change = caller.change(services.clock.now())
        follow_up = decide(renewal, contract, change)
        return Outcome(renewal, services.save(renewal, *follow_up))

    return retrying(attempt, if_match)


def record_contact(
    services: Services,
    caller: Caller,
    renewal_id: UUID,
    notes: str | None = None,
    if_match: int | None = None,
) -> Outcome[Renewal]:
    def decide(renewal: Renewal, contract: Contract, change: Change) -> list[Aggregate]:
        renewal.contact(notes, change)
        return []

    return _command(services, caller, renewal_id, if_match, decide)


def align_scope(
    services: Services,
    caller: Caller,
    renewal_id: UUID,
    changes: list[dict[str, str]],
    if_match: int | None = None,
) -> Outcome[Renewal]:
    def decide(renewal: Renewal, contract: Contract, change: Change) -> list[Aggregate]:
        renewal.align(changes, change)
        return []

    return _command(services, caller, renewal_id, if_match, decide)


@dataclass(frozen=True)
class QuoteIssued:
    renewal: Renewal
    quote_id: UUID


def issue_quote(
    services: Services,
    caller: Caller,
    renewal_id: UUID,
    *,
    licences: list[str],
    term_months: int,
    price: Money,
    if_match: int | None = None,
) -> Outcome[QuoteIssued]:
    """A quote, sent to the primary contact on file."""
    quote_id = command_uuid(caller, "quote")

    def decide(renewal: Renewal, contract: Contract, change: Change) -> list[Aggregate]:
        quoted = len(renewal.quotes)
        renewal.issue_quote(
            quote_id, licences=licences, term_months=term_months, price=price, change=change
        )
        if len(renewal.quotes) == quoted:
            return []
        latest = renewal.latest_quote
        assert latest is not None
        return [ContractOutbox(services.links).quote(contract, renewal, latest, change)]

    done = _command(services, caller, renewal_id, if_match, decide)
    return Outcome(QuoteIssued(done.value, quote_id), done.position)


def confirm_quote(
    services: Services,
    caller: Caller,
    renewal_id: UUID,
    quote_id: UUID,
    if_match: int | None = None,
) -> Outcome[Renewal]:
    def decide(renewal: Renewal, contract: Contract, change: Change) -> list[Aggregate]:
        renewal.confirm(quote_id, change)
        return []

    return _command(services, caller, renewal_id, if_match, decide)


def issue_invoice(
    services: Services, caller: Caller, renewal_id: UUID, if_match: int | None = None
) -> Outcome[Renewal]:
    """The invoice to the billing contact on file now; when the term has already ended,
    the next term starts at once."""

    def decide(renewal: Renewal, contract: Contract, change: Change) -> list[Aggregate]:
        renewal.issue_invoice(invoice_id_for(renewal.id), contract.billing_contact, change)
        message = ContractOutbox(services.links).invoice(contract, renewal, change)
        return [message, *take_effect(services, renewal, contract, change)]

    return _command(services, caller, renewal_id, if_match, decide)


def opt_out(
    services: Services,
    caller: Caller,
    renewal_id: UUID,
    reason: str | None = None,
    if_match: int | None = None,
) -> Outcome[Renewal]:
    def decide(renewal: Renewal, contract: Contract, change: Change) -> list[Aggregate]:
        renewal.opt_out(reason, change)
        return []

    return _command(services, caller, renewal_id, if_match, decide)


# --- time-driven work ---------------------------------------------------------------------


def escalate_overdue(services: Services, caller: Caller, item: DueItem) -> None:
    """Not contacted by ``contact_by``: escalated once, from the next day 00:00Z."""

    def attempt() -> None:
        renewal = services.load(Renewal, item.aggregate_id, "renewal")
        change = caller.change(services.clock.now())
        if not renewal.escalation_due(change.at):
            return
        renewal.escalate(change)
        contract = services.load(Contract, renewal.contract_id, "contract")
        organisation = services.load(Organisation, renewal.organisation_id, "organisation")
        message = ContractOutbox(services.links).renewal_overdue(
            escalation_recipient(services, organisation), contract, renewal, change
        )
        services.save(renewal, message)

    retrying(attempt)


def end_term(services: Services, caller: Caller, item: DueItem) -> None:
    """The day after the end date, 00:00Z: renewed, or ended after an opt-out."""

    def attempt() -> None:
        renewal = services.load(Renewal, item.aggregate_id, "renewal")
        change = caller.change(services.clock.now())
        if not renewal.takes_effect(change.at):
            return
        contract = services.load(Contract, renewal.contract_id, "contract")
        services.save(renewal, *take_effect(services, renewal, contract, change))

    retrying(attempt)
