"""R13, R14, R23, R26, R28: who may buy self-service, downgrade on expiry, trial end."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from given import (
    MICROSECOND,
    at,
    change,
    names,
    organisation,
    self_service_organisation,
    trial,
)

from lifecycle.due import DueItem
from lifecycle.errors import AlreadySubscribed, FedrampNotEligible, InvalidState
from lifecycle.organisation import FREE, SELF_SERVICE, TRIAL, Organisation

WHEN = at(2025, 6, 1)
TRIAL_END = at(2025, 7, 1, 12)


# --- who may buy (R14, R28) ----------------------------------------------------------------


def test_fedramp_organisation_may_not_buy_self_service() -> None:
    org = organisation(fedramp=True)

    with pytest.raises(FedrampNotEligible):
        org.check_may_buy_self_service()


def test_granting_self_service_to_a_fedramp_organisation_is_refused_and_records_nothing() -> None:
    org = organisation(fedramp=True)

    with pytest.raises(FedrampNotEligible):
        org.grant_self_service(uuid4(), change(WHEN))

    assert org.collect_events() == []


def test_free_organisation_is_granted_self_service() -> None:
    org = organisation()
    subscription_id = uuid4()

    org.grant_self_service(subscription_id, change(WHEN))

    [granted] = org.collect_events()
    assert names([granted]) == ["SelfServiceLicenceGranted"]
    assert (org.licence, org.subscription_id) == (SELF_SERVICE, subscription_id)


def test_trial_organisation_may_buy_self_service() -> None:
    org = trial(TRIAL_END)

    org.grant_self_service(uuid4(), change(WHEN))

    assert org.licence == SELF_SERVICE


def test_organisation_holding_self_service_may_not_buy_another() -> None:
    org = self_service_organisation()

    with pytest.raises(AlreadySubscribed):
        org.grant_self_service(uuid4(), change(WHEN))


# --- expiry and downgrade (R23, R28) ------------------------------------------------------


def test_subscription_expiry_downgrades_the_organisation_to_free() -> None:
    subscription_id = uuid4()
    org = self_service_organisation(subscription_id)

    org.follow_subscription_expiry(subscription_id, change(WHEN))

    [downgraded] = org.collect_events()
    assert names([downgraded]) == ["DowngradedToFree"]
    assert org.licence == FREE


def test_downgraded_organisation_keeps_its_brand_id_and_datacenter() -> None:
    subscription_id = uuid4()
    org = self_service_organisation(subscription_id)

    org.follow_subscription_expiry(subscription_id, change(WHEN))

    assert (org.brand_id, org.datacenter) == ("brand-1", "us-1")


def test_organisation_whose_subscription_expired_may_buy_again() -> None:
    first = uuid4()
    org = self_service_organisation(first)
    org.follow_subscription_expiry(first, change(WHEN))
    org.collect_events()

    second = uuid4()
    org.grant_self_service(second, change(WHEN + timedelta(days=1)))

    assert (org.licence, org.subscription_ids) == (SELF_SERVICE, [first, second])


def test_expiry_of_another_subscription_does_not_downgrade_the_organisation() -> None:
    org = self_service_organisation()

    org.follow_subscription_expiry(uuid4(), change(WHEN))

    assert org.collect_events() == []
    assert org.licence == SELF_SERVICE


def test_following_the_same_expiry_twice_downgrades_once() -> None:
    subscription_id = uuid4()
    org = self_service_organisation(subscription_id)

    org.follow_subscription_expiry(subscription_id, change(WHEN))
    org.follow_subscription_expiry(subscription_id, change(WHEN))

    assert names(org.collect_events()) == ["DowngradedToFree"]


# --- trial (R26) ---------------------------------------------------------------------------


def test_registering_a_trial_without_its_end_is_refused() -> None:
    with pytest.raises(InvalidState):
        Organisation.register(
            uuid4(),
            brand_id="brand-1",
            datacenter="us-1",
            fedramp=False,
            licence=TRIAL,
            trial_ends_at=None,
            change=change(WHEN),
        )


def test_trial_expiry_is_not_due_before_its_end_date() -> None:
    assert not trial(TRIAL_END).trial_expiry_due(TRIAL_END - MICROSECOND)


def test_trial_expiry_is_due_on_its_end_date() -> None:
    assert trial(TRIAL_END).trial_expiry_due(TRIAL_END)


def test_trial_ends_on_its_end_date_and_reverts_to_free() -> None:
    org = trial(TRIAL_END)

    org.end_trial(change(TRIAL_END))

    assert names(org.collect_events()) == ["TrialEnded"]
    assert org.licence == FREE


def test_ending_a_trial_before_its_end_date_records_nothing() -> None:
    org = trial(TRIAL_END)

    org.end_trial(change(TRIAL_END - MICROSECOND))

    assert org.collect_events() == []
    assert org.licence == TRIAL


def test_trial_with_a_purchased_licence_does_not_end() -> None:
    org = trial(TRIAL_END)
    org.grant_self_service(uuid4(), change(WHEN))
    org.collect_events()

    org.end_trial(change(TRIAL_END))

    assert org.collect_events() == []
    assert org.licence == SELF_SERVICE


def test_trial_organisation_awaits_its_trial_expiry_at_the_end_date() -> None:
    org = trial(TRIAL_END)

    assert org.due_work() == [
        DueItem(TRIAL_END, "trial_expiry", org.id, f"trial_expiry:{org.id}")
    ]


def test_trial_organisation_that_bought_a_licence_awaits_nothing() -> None:
    org = trial(TRIAL_END)
    org.grant_self_service(uuid4(), change(WHEN))

    assert org.due_work() == []


def test_ended_trial_awaits_nothing() -> None:
    org = trial(TRIAL_END)
    org.end_trial(change(TRIAL_END))

    assert org.due_work() == []


def test_free_organisation_awaits_nothing() -> None:
    assert organisation().due_work() == []


def test_self_service_organisation_awaits_nothing() -> None:
    assert self_service_organisation().due_work() == []
