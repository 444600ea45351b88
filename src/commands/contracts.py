"""Use cases of enterprise contracts (R40, R41): creation under a unique number, contacts,
and the opening of each term's renewal window (R42)."""

from __future__ import annotations

import uuid
from datetime import date
from uuid import UUID

from commands.accounts import command_uuid
from commands.actors import check_acts_in
from commands.context import Caller
from commands.contract_messages import ContractOutbox
from commands.outcome import Outcome
from commands.services import Services, check_version, retrying
from lifecycle.change import Change
from lifecycle.contract import Contract, ContractNumber
from lifecycle.contract_terms import Contact
from lifecycle.due import DueItem
from lifecycle.account import Account
from lifecycle.errors import ContactOutsideOrganisation, DuplicateContractNumber
from lifecycle.message import Message
from lifecycle.money import Money
from lifecycle.organisation import Organisation
from lifecycle.renewal import Renewal

CONTRACT_NAMESPACE = uuid.UUID("3f6e2a0c-6d1b-4f57-9a43-0b8c2d7e5a19")


def contract_number_id(number: int) -> UUID:
    """The id of the claim on a contract number: the same number, the same id."""
    return uuid.uuid5(CONTRACT_NAMESPACE, f"contract-number/{number}")


def renewal_id_for(contract_id: UUID, term_number: int) -> UUID:
    """One renewal per term: its id derives from the contract and the term."""
    return uuid.uuid5(CONTRACT_NAMESPACE, f"{contract_id}/renewal/{term_number}")


def invoice_id_for(renewal_id: UUID) -> UUID:
    return uuid.uuid5(CONTRACT_NAMESPACE, f"{renewal_id}/invoice")


def check_contacts_of(services: Services, organisation_id: UUID, *contacts: Contact) -> None:
    """A contact that names an account names one of the organisation's own."""
    for contact in contacts:
        if contact.account_id is None:
            continue
        account = services.find(Account, contact.account_id)
        if account is None or account.organisation_id != organisation_id:
            raise ContactOutsideOrganisation(
                f"contact account {contact.account_id} is not an account of organisation"
                f" {organisation_id}",
                account_id=str(contact.account_id),
            )


def open_window_if_due(
    services: Services, contract: Contract, change: Change
) -> list[Renewal | Message]:
    """When the current term's renewal window is due: the new renewal and its notice to
    the primary contact on file. Nothing otherwise."""
    if not contract.window_due(change.at):
        return []
    renewal = contract.open_renewal(renewal_id_for(contract.id, contract.term_number), change)
    notice = ContractOutbox(services.links).renewal_notice(contract, renewal, change)
    return [renewal, notice]


def create_contract(
    services: Services,
    caller: Caller,
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
) -> Outcome[Contract]:
    """A contract of the organisation, which is ``enterprise`` from now on.

    The number's claim is saved with the contract, so two contracts can never share a
    number: a concurrent second claim fails on the store's version check, and the
    retry then finds the claim and refuses with ``duplicate-contract-number``.
    """
    contract_id = command_uuid(caller, "contract")

    def attempt() -> Outcome[Contract]:
        organisation = services.load(Organisation, organisation_id, "organisation")
        check_acts_in(services, caller, organisation.id)
        check_contacts_of(services, organisation.id, primary_contact, billing_contact)
        claim = services.find(ContractNumber, contract_number_id(number))
        if claim is not None:
            if claim.contract_id == contract_id:  # this same command, already done
                return Outcome(services.load(Contract, contract_id, "contract"), services.head())
            raise DuplicateContractNumber(
                f"contract number {number} is already in use", number=number
            )
        change = caller.change(services.clock.now())
        contract = Contract.create(
            contract_id,
            organisation_id=organisation.id,
            number=number,
            start_date=start_date,
            term_months=term_months,
            licences=licences,
            notice_days=notice_days,
            price=price,
            primary_contact=primary_contact,
            billing_contact=billing_contact,
            change=change,
        )
        claim = ContractNumber.claim(
            contract_number_id(number), number=number, contract_id=contract.id, change=change
        )
        organisation.attach_contract(contract.id, change)
        follow_up = open_window_if_due(services, contract, change)
        return Outcome(contract, services.save(contract, claim, organisation, *follow_up))

    return retrying(attempt)


def change_contact(
    services: Services,
    caller: Caller,
    contract_id: UUID,
    role: str,
    contact: Contact,
    if_match: int | None = None,
) -> Outcome[Contract]:
    """A new primary or billing contact; the open renewal uses it from now on (R41)."""

    def attempt() -> Outcome[Contract]:
        contract = services.load(Contract, contract_id, "contract")
        check_version(contract, if_match)
        check_acts_in(services, caller, contract.organisation_id)
        check_contacts_of(services, contract.organisation_id, contact)
        contract.change_contact(role, contact, caller.change(services.clock.now()))
        return Outcome(contract, services.save(contract))

    return retrying(attempt, if_match)


def open_renewal_window(services: Services, caller: Caller, item: DueItem) -> None:
    """Time-driven: the window of the current term opens (at ``opens_on`` 00:00Z)."""

    def attempt() -> None:
        contract = services.load(Contract, item.aggregate_id, "contract")
        change = caller.change(services.clock.now())
        follow_up = open_window_if_due(services, contract, change)
        if follow_up:
            services.save(contract, *follow_up)

    retrying(attempt)


def organisation_contracts(services: Services, organisation_id: UUID) -> list[Contract]:
    """The organisation's contracts, newest first."""
    organisation = services.load(Organisation, organisation_id, "organisation")
    return [
        services.load(Contract, contract_id, "contract")
        for contract_id in reversed(organisation.contract_ids)
    ]


def current_renewal(services: Services, contract: Contract) -> Renewal | None:
    """The current term's renewal once its window has opened, else the previous term's."""
    renewal_id = contract.current_renewal_id
    if renewal_id is None and contract.term_number > 1:
        renewal_id = contract.renewal_id_of(contract.term_number - 1)
    if renewal_id is None:
        return None
    return services.load(Renewal, renewal_id, "renewal")
