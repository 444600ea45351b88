"""R40 and the organisation: ``enterprise`` while it holds an active contract (it may hold
several); when its last contract ends it falls back to ``self_service`` if it has an
active subscription, else ``free``; no self-service purchase meanwhile."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from given import at, change, names, organisation, self_service_organisation, trial

from lifecycle.errors import AlreadySubscribed
from lifecycle.organisation import ENTERPRISE, FREE, SELF_SERVICE, Organisation

WHEN = at(2027, 1, 1)
LATER = at(2028, 1, 1)


def _with_contract(org: Organisation | None = None) -> tuple[Organisation, UUID]:
    org = org or organisation()
    contract_id = uuid4()
    org.attach_contract(contract_id, change(WHEN))
    org.collect_events()
    return org, contract_id


def test_attaching_a_contract_records_contract_attached() -> None:
    org = organisation()
    contract_id = uuid4()

    org.attach_contract(contract_id, change(WHEN))

    [attached] = org.collect_events()
    assert names([attached]) == ["ContractAttached"]
    assert (attached.contract_id, org.contract_ids) == (contract_id, [contract_id])


def test_an_organisation_holding_a_contract_is_enterprise() -> None:
    org, _ = _with_contract()

    assert org.licence == ENTERPRISE


def test_a_trial_organisation_with_a_contract_is_no_longer_on_trial() -> None:
    org, _ = _with_contract(trial(at(2027, 2, 1)))

    assert (org.licence, org.trial_ends_at, org.due_work()) == (ENTERPRISE, None, [])


def test_an_organisation_may_hold_several_contracts() -> None:
    org, first = _with_contract()
    second = uuid4()

    org.attach_contract(second, change(WHEN))

    assert org.contract_ids == [first, second]


def test_an_organisation_whose_last_contract_ends_falls_back_to_free() -> None:
    org, contract_id = _with_contract()

    org.follow_contract_end(contract_id, change(LATER))

    [ended] = org.collect_events()
    assert names([ended]) == ["ContractEnded"]
    assert (ended.licence, org.licence) == (FREE, FREE)


def test_an_organisation_with_an_active_subscription_falls_back_to_self_service() -> None:
    org, contract_id = _with_contract(self_service_organisation())

    org.follow_contract_end(contract_id, change(LATER))

    assert org.licence == SELF_SERVICE


def test_an_organisation_stays_enterprise_while_another_contract_is_active() -> None:
    org, first = _with_contract()
    org.attach_contract(uuid4(), change(WHEN))

    org.follow_contract_end(first, change(LATER))

    assert org.licence == ENTERPRISE


def test_following_the_same_contract_end_twice_records_it_once() -> None:
    org, contract_id = _with_contract()

    org.follow_contract_end(contract_id, change(LATER))
    org.follow_contract_end(contract_id, change(LATER))

    assert names(org.collect_events()) == ["ContractEnded"]


def test_an_ended_contract_stays_in_the_organisations_contracts() -> None:
    org, contract_id = _with_contract()

    org.follow_contract_end(contract_id, change(LATER))

    assert org.contract_ids == [contract_id]


def test_an_organisation_holding_a_contract_may_not_buy_self_service() -> None:
    org, _ = _with_contract()

    with pytest.raises(AlreadySubscribed):
        org.grant_self_service(uuid4(), change(WHEN))


def test_a_subscription_expiring_under_a_contract_keeps_the_organisation_enterprise() -> None:
    subscription_id = uuid4()
    org, _ = _with_contract(self_service_organisation(subscription_id))

    org.follow_subscription_expiry(subscription_id, change(LATER))

    assert (org.licence, org.subscription_id) == (ENTERPRISE, None)


def test_a_subscription_that_expired_under_a_contract_is_no_fallback_when_it_ends() -> None:
    subscription_id = uuid4()
    org, contract_id = _with_contract(self_service_organisation(subscription_id))
    org.follow_subscription_expiry(subscription_id, change(LATER))

    org.follow_contract_end(contract_id, change(LATER))

    assert org.licence == FREE


def test_an_organisation_whose_last_contract_ended_may_buy_self_service() -> None:
    org, contract_id = _with_contract()
    org.follow_contract_end(contract_id, change(LATER))

    org.grant_self_service(uuid4(), change(LATER))

    assert org.licence == SELF_SERVICE
