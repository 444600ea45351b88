"""R31: licence requests are routed to the account team, then fulfilled (caps or plan
change recorded on the subscription) or declined."""

from __future__ import annotations

from uuid import uuid4

import pytest
from given import (
    NEW_PRICE,
    PRICE,
    at,
    change,
    licence_request,
    names,
    renewed,
    subscription,
)

from lifecycle.catalogue import Caps
from lifecycle.errors import InvalidState, Rejected
from lifecycle.licence_request import DECLINED, FULFILLED, SUBMITTED, LicenceRequest

WHEN = at(2025, 6, 2)


# --- the request --------------------------------------------------------------------------


def test_submitted_request_is_routed_to_the_account_team() -> None:
    request = LicenceRequest.submit(
        uuid4(),
        subscription_id=uuid4(),
        organisation_id=uuid4(),
        name="Ada Lovelace",
        email="ada@example.com",
        cc=["cfo@example.com"],
        username="ada",
        kind="more_responses",
        description="5000 more responses",
        routed_to="account-team@example.com",
        change=change(WHEN),
    )

    [submitted] = request.collect_events()
    assert names([submitted]) == ["Submitted"]
    assert submitted.routed_to == "account-team@example.com"
    assert request.status == SUBMITTED


def test_request_of_an_unknown_kind_is_rejected() -> None:
    with pytest.raises(Rejected):
        licence_request(kind="free_upgrade")


def test_fulfilling_a_request_records_the_granted_change() -> None:
    request = licence_request()

    request.fulfil(caps={"seats": 3}, plan=None, price=NEW_PRICE, change=change(WHEN))

    [fulfilled] = request.collect_events()
    assert names([fulfilled]) == ["Fulfilled"]
    assert (fulfilled.caps, fulfilled.plan, fulfilled.price) == ({"seats": 3}, None, NEW_PRICE)
    assert request.status == FULFILLED


def test_declining_a_request_records_the_reason() -> None:
    request = licence_request()

    request.decline("not available on self-service", change(WHEN))

    [declined] = request.collect_events()
    assert names([declined]) == ["Declined"]
    assert declined.reason == "not available on self-service"
    assert request.status == DECLINED


def test_fulfilling_a_request_twice_is_refused() -> None:
    request = licence_request()
    request.fulfil(caps={"seats": 3}, plan=None, price=None, change=change(WHEN))

    with pytest.raises(InvalidState):
        request.fulfil(caps={"seats": 3}, plan=None, price=None, change=change(WHEN))


def test_declining_a_request_twice_is_refused() -> None:
    request = licence_request()
    request.decline("no", change(WHEN))

    with pytest.raises(InvalidState):
        request.decline("no", change(WHEN))


def test_declining_a_fulfilled_request_is_refused() -> None:
    request = licence_request()
    request.fulfil(caps={"seats": 3}, plan=None, price=None, change=change(WHEN))

    with pytest.raises(InvalidState):
        request.decline("changed our minds", change(WHEN))


def test_fulfilling_a_declined_request_is_refused() -> None:
    request = licence_request()
    request.decline("no", change(WHEN))

    with pytest.raises(InvalidState):
        request.fulfil(caps={"seats": 3}, plan=None, price=None, change=change(WHEN))


# --- the change on the subscription -------------------------------------------------------------


def apply(sub, *, caps=None, plan=None, next_price=None):  # type: ignore[no-untyped-def]
    sub.apply_licence_change(
        licence_request_id=uuid4(), caps=caps, plan=plan, next_price=next_price, change=change(WHEN)
    )


def test_licence_change_records_licence_changed() -> None:
    sub = subscription(caps=Caps(responses=1000, seats=1))

    apply(sub, caps={"seats": 5}, plan="strategic_research_team", next_price=NEW_PRICE)

    [changed] = sub.collect_events()
    assert names([changed]) == ["LicenceChanged"]
    assert changed.caps == {"responses": 1000, "seats": 5}


def test_licence_change_sets_the_new_caps_at_once_keeping_caps_not_named() -> None:
    sub = subscription(caps=Caps(responses=1000, seats=1))

    apply(sub, caps={"seats": 5})

    assert sub.caps == {"responses": 1000, "seats": 5}


def test_licence_change_sets_the_new_plan_at_once() -> None:
    sub = subscription()

    apply(sub, plan="strategic_research_team")

    assert sub.plan == "strategic_research_team"


def test_licence_change_leaves_the_current_terms_price_unchanged() -> None:
    sub = subscription()

    apply(sub, next_price=NEW_PRICE)

    assert sub.price == PRICE


def test_renewal_price_after_a_licence_change_is_the_next_price() -> None:
    sub = subscription()

    apply(sub, next_price=NEW_PRICE)

    assert sub.renewal_price == NEW_PRICE


def test_renewal_price_without_a_licence_change_is_the_current_price() -> None:
    assert subscription().renewal_price == PRICE


def test_renewal_after_a_licence_change_charges_the_next_price() -> None:
    sub = subscription()
    apply(sub, next_price=NEW_PRICE)

    request = sub.begin_renewal_charge(change(sub.term_end))

    assert request is not None and request.amount == NEW_PRICE


def test_renewed_term_is_priced_at_the_next_price() -> None:
    sub = subscription()
    apply(sub, next_price=NEW_PRICE)

    renewed(sub)

    assert (sub.price, sub.next_price) == (NEW_PRICE, None)
