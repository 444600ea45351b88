"""Contract numbers are unique per deployment (R40): the number's claim is saved in the
same transaction as the contract, so a second contract under the same number is refused
with ``duplicate-contract-number``, also when both are created at the same moment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from commands.accounts import open_account
from commands.context import Caller
from commands.contracts import contract_number_id, create_contract
from commands.services import Services
from lifecycle.contract import Contract, ContractNumber
from lifecycle.contract_terms import Contact
from lifecycle.errors import DuplicateContractNumber
from lifecycle.money import Money
from lifecycle.organisation import Organisation

OWNER = Contact.of("Olive", "Owner", "olive@customer.example")


def _organisation(services: Services, email: str) -> UUID:
    return open_account(
        services, Caller.of("tests"), email=email, name="Ada", username=email, kind="free"
    ).value.organisation.id


def _create(
    services: Services, organisation_id: UUID, number: int, caller: Caller | None = None
) -> Contract:
    return create_contract(
        services,
        caller or Caller.of("tests"),
        organisation_id=organisation_id,
        number=number,
        start_date=date(2027, 1, 1),
        term_months=12,
        licences=["cx"],
        notice_days=90,
        price=Money.of("1000.00", "USD"),
        primary_contact=OWNER,
        billing_contact=OWNER,
    ).value


def _outcome(call: Callable[[], Contract]) -> Any:
    try:
        return call()
    except DuplicateContractNumber as refused:
        return refused


def test_a_second_contract_under_a_used_number_is_refused(services: Services) -> None:
    first = _create(services, _organisation(services, "a@example.com"), 1234)

    with pytest.raises(DuplicateContractNumber):
        _create(services, _organisation(services, "b@example.com"), 1234)

    claim = services.load(ContractNumber, contract_number_id(1234), "contract number")
    assert claim.contract_id == first.id


def test_two_contracts_created_together_under_one_number_make_one_contract(
    services: Services, together: Callable[..., list[Any]]
) -> None:
    organisations = [_organisation(services, f"{n}@example.com") for n in ("c", "d")]

    outcomes = together(
        *(lambda o=o: _outcome(lambda: _create(services, o, 777)) for o in organisations)
    )

    made = [o for o in outcomes if isinstance(o, Contract)]
    refused = [o for o in outcomes if isinstance(o, DuplicateContractNumber)]
    assert (len(made), len(refused)) == (1, 1)
    holders = [services.load(Organisation, o, "organisation").contract_ids for o in organisations]
    assert sorted(len(ids) for ids in holders) == [0, 1]


def test_a_claim_found_only_on_the_retry_is_refused_as_a_duplicate_number(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first attempt does not see the other claim (it was saved meanwhile): its save
    fails on the claim's version, and the retry refuses with the typed error."""
    _create(services, _organisation(services, "e@example.com"), 4321)
    second = _organisation(services, "f@example.com")
    find = services.find
    missed: list[bool] = []

    def stale_find(kind: type, aggregate_id: UUID) -> Any:
        if kind is ContractNumber and not missed:
            missed.append(True)
            return None
        return find(kind, aggregate_id)

    monkeypatch.setattr(services, "find", stale_find)

    with pytest.raises(DuplicateContractNumber):
        _create(services, second, 4321)
    assert missed == [True]
    assert services.load(Organisation, second, "organisation").contract_ids == []


def test_the_same_command_repeated_answers_the_contract_it_created(services: Services) -> None:
    organisation_id = _organisation(services, "g@example.com")
    caller = Caller.of("tests", command_id="create-contract-once")
    first = _create(services, organisation_id, 55, caller)

    again = _create(services, organisation_id, 55, caller)

    assert again.id == first.id
    assert services.load(Organisation, organisation_id, "organisation").contract_ids == [first.id]
