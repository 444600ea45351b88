"""R20, R21: annual terms anchored at the purchase instant; renewal at term end, charged
at most once per term."""

from __future__ import annotations

import pytest
from given import (
    APPROVED,
    MICROSECOND,
    PRICE,
    at,
    change,
    names,
    renewed,
    subscription,
)

from lifecycle.errors import InvalidState
from lifecycle.payment import ChargeRequest, RENEWAL
from lifecycle.subscription import ACTIVE

STARTED = at(2025, 3, 15, 9, 45, 30)


# --- terms (R20) ----------------------------------------------------------------------------


def test_subscription_is_anchored_at_the_purchase_instant() -> None:
    assert subscription(STARTED).anchor == STARTED


def test_first_term_ends_one_year_after_the_purchase_instant_to_the_second() -> None:
    assert subscription(STARTED).term_end == at(2026, 3, 15, 9, 45, 30)


def test_term_anchored_on_feb_29_ends_on_feb_28_in_a_common_year() -> None:
    assert subscription(at(2024, 2, 29, 18)).term_end == at(2025, 2, 28, 18)


def test_fourth_term_of_a_feb_29_anchor_ends_on_feb_29_of_the_next_leap_year() -> None:
    sub = subscription(at(2024, 2, 29, 18))

    for _ in range(3):
        renewed(sub)

    assert (sub.term, sub.term_end) == (4, at(2028, 2, 29, 18))


def test_renewed_term_starts_where_the_previous_one_ended() -> None:
    sub = subscription(at(2024, 2, 29, 18))
    first_end = sub.term_end

    renewed(sub)

    assert sub.term_start == first_end


# --- when renewal is due (R21) ----------------------------------------------------------------


def test_renewal_is_not_due_a_microsecond_before_term_end() -> None:
    sub = subscription(STARTED)

    assert not sub.renewal_due(sub.term_end - MICROSECOND)


def test_renewal_is_due_exactly_at_term_end() -> None:
    sub = subscription(STARTED)

    assert sub.renewal_due(sub.term_end)


def test_beginning_the_renewal_charge_before_term_end_takes_no_charge_and_records_nothing() -> None:
    sub = subscription(STARTED)

    request = sub.begin_renewal_charge(change(sub.term_end - MICROSECOND))

    assert request is None
    assert sub.collect_events() == []


# --- beginning the charge once (R21) ----------------------------------------------------------


def test_beginning_the_renewal_charge_at_term_end_records_renewal_charge_begun_for_term_two() -> (
    None
):
    sub = subscription(STARTED)

    sub.begin_renewal_charge(change(sub.term_end))

    [begun] = sub.collect_events()
    assert names([begun]) == ["RenewalChargeBegun"]
    assert (begun.term, begun.attempt, begun.amount) == (2, 1, PRICE)


def test_renewal_charge_is_for_the_next_term_first_attempt_with_the_card_on_file() -> None:
    sub = subscription(STARTED)

    request = sub.begin_renewal_charge(change(sub.term_end))

    assert request == ChargeRequest(
        owner_id=sub.id, purpose=RENEWAL, term=2, attempt=1, amount=PRICE, token="tok_visa_4242"
    )


def test_renewal_charge_idempotency_key_names_subscription_term_and_attempt() -> None:
    sub = subscription(STARTED)

    request = sub.begin_renewal_charge(change(sub.term_end))

    assert request is not None and request.idempotency_key == f"{sub.id}:2:1"


def test_beginning_the_renewal_charge_twice_records_it_once() -> None:
    sub = subscription(STARTED)

    sub.begin_renewal_charge(change(sub.term_end))
    sub.begin_renewal_charge(change(sub.term_end + MICROSECOND))

    assert names(sub.collect_events()) == ["RenewalChargeBegun"]


def test_beginning_the_renewal_charge_twice_returns_the_same_pending_charge() -> None:
    sub = subscription(STARTED)

    first = sub.begin_renewal_charge(change(sub.term_end))
    second = sub.begin_renewal_charge(change(sub.term_end + MICROSECOND))

    assert second == first
    assert second is not None and second.idempotency_key == f"{sub.id}:2:1"


def test_recording_an_outcome_for_a_charge_never_begun_is_refused() -> None:
    sub = subscription(STARTED)
    stray = ChargeRequest(sub.id, RENEWAL, term=2, attempt=1, amount=PRICE, token="tok")

    with pytest.raises(InvalidState):
        sub.record_renewal_charge(stray, APPROVED, change(sub.term_end))


def test_recording_an_outcome_for_another_attempt_than_the_pending_one_is_refused() -> None:
    sub = subscription(STARTED)
    request = sub.begin_renewal_charge(change(sub.term_end))
    assert request is not None
    other = ChargeRequest(sub.id, RENEWAL, term=2, attempt=2, amount=PRICE, token="tok")

    with pytest.raises(InvalidState):
        sub.record_renewal_charge(other, APPROVED, change(sub.term_end))


# --- an approved charge (R21) -----------------------------------------------------------------


def approve_renewal(sub):  # type: ignore[no-untyped-def]
    request = sub.begin_renewal_charge(change(sub.term_end))
    sub.collect_events()
    sub.record_renewal_charge(request, APPROVED, change(sub.term_end))
    return request


def test_approved_renewal_charge_records_renewed_for_term_two() -> None:
    sub = subscription(STARTED)

    approve_renewal(sub)

    [renewal] = sub.collect_events()
    assert names([renewal]) == ["Renewed"]
    assert (renewal.term, renewal.price) == (2, PRICE)


def test_approved_renewal_moves_to_the_next_term() -> None:
    sub = subscription(STARTED)

    approve_renewal(sub)

    assert (sub.term, sub.term_end, sub.status) == (2, at(2027, 3, 15, 9, 45, 30), ACTIVE)


def test_approved_renewal_resets_usage_to_zero() -> None:
    sub = subscription(STARTED)
    sub.record_usage(responses=400, seats=1, change=change(STARTED))

    approve_renewal(sub)

    assert sub.usage == {"responses": 0, "seats": 0}


def test_approved_renewal_records_the_payment_as_a_receipt() -> None:
    sub = subscription(STARTED)

    request = approve_renewal(sub)

    receipt = sub.payments[-1]
    assert receipt["payment_id"] == "ch_approved"
    assert receipt["idempotency_key"] == request.idempotency_key
    assert (receipt["term_number"], receipt["attempt"], receipt["status"]) == (2, 1, "succeeded")
    assert receipt["amount"] == {"amount": "1500.00", "currency": "USD"}
    assert receipt["card_last4"] == "4242"


def test_renewal_is_not_due_again_in_the_term_just_renewed() -> None:
    sub = subscription(STARTED)
    first_end = sub.term_end

    approve_renewal(sub)

    assert not sub.renewal_due(first_end)


def test_beginning_a_renewal_charge_again_at_the_instant_just_renewed_takes_no_charge() -> None:
    sub = subscription(STARTED)
    first_end = sub.term_end
    approve_renewal(sub)
    sub.collect_events()

    assert sub.begin_renewal_charge(change(first_end)) is None
    assert sub.collect_events() == []


def test_recording_the_same_approved_outcome_twice_is_refused() -> None:
    sub = subscription(STARTED)
    request = approve_renewal(sub)

    with pytest.raises(InvalidState):
        sub.record_renewal_charge(request, APPROVED, change(sub.term_start))
