"""R11-R16: purchases from existing accounts and by new buyers."""

from __future__ import annotations

from uuid import uuid4

import pytest
from given import (
    ALL_ACCEPTED,
    DECLINED,
    PRICE,
    TOKEN_DIGEST,
    at,
    card,
    change,
    completed_purchase,
    names,
    new_buyer_purchase,
    upgrade_purchase,
    verified_purchase,
)

from lifecycle.errors import (
    AcceptanceRequired,
    DatacenterFixed,
    PurchaseCompleted,
    PurchaseNotVerified,
    UnknownDatacenter,
    VerificationFailed,
)
from lifecycle.purchase import AWAITING_VERIFICATION, COMPLETED, OPEN

WHEN = at(2025, 5, 1, 1)
TOKEN = "tok_visa_4242"


def complete(purchase, when=WHEN):  # type: ignore[no-untyped-def]
    purchase.complete(
        subscription_id=uuid4(),
        account_id=uuid4(),
        organisation_id=uuid4(),
        brand_id="brand-new",
        change=change(when),
    )


# --- verification (R12) -----------------------------------------------------------------


def test_new_buyer_purchase_awaits_email_verification() -> None:
    assert new_buyer_purchase().status == AWAITING_VERIFICATION


def test_upgrade_purchase_from_an_existing_account_is_open_at_once() -> None:
    assert upgrade_purchase().status == OPEN


def test_verifying_with_the_emailed_token_records_email_verified() -> None:
    purchase = new_buyer_purchase()

    purchase.verify(TOKEN_DIGEST, change(WHEN))

    assert names(purchase.collect_events()) == ["EmailVerified"]


def test_verified_purchase_is_open() -> None:
    assert verified_purchase().status == OPEN


def test_verifying_with_a_wrong_token_is_refused_as_verification_failed() -> None:
    purchase = new_buyer_purchase()

    with pytest.raises(VerificationFailed):
        purchase.verify("not-the-digest", change(WHEN))


def test_wrong_token_leaves_the_purchase_awaiting_verification() -> None:
    purchase = new_buyer_purchase()

    with pytest.raises(VerificationFailed):
        purchase.verify("not-the-digest", change(WHEN))

    assert purchase.status == AWAITING_VERIFICATION
    assert purchase.collect_events() == []


def test_verifying_an_already_verified_purchase_again_records_nothing() -> None:
    purchase = verified_purchase()

    purchase.verify(TOKEN_DIGEST, change(WHEN))

    assert purchase.collect_events() == []


def test_verifying_a_completed_purchase_is_refused_as_completed() -> None:
    purchase = completed_purchase()

    with pytest.raises(PurchaseCompleted):
        purchase.verify(TOKEN_DIGEST, change(WHEN))


# --- completion before verification and acceptances (R11, R12) --------------------------


def test_completing_before_verification_is_refused_as_not_verified() -> None:
    purchase = new_buyer_purchase()

    with pytest.raises(PurchaseNotVerified):
        purchase.charge_for_completion(card_token=TOKEN, **ALL_ACCEPTED)


def test_recording_completion_of_an_unverified_purchase_is_refused_as_not_verified() -> None:
    purchase = new_buyer_purchase()

    with pytest.raises(PurchaseNotVerified):
        complete(purchase)


def test_new_buyer_without_any_acceptance_is_refused_naming_terms_auto_renewal_and_privacy() -> (
    None
):
    purchase = verified_purchase()

    with pytest.raises(AcceptanceRequired) as refused:
        purchase.charge_for_completion(
            card_token=TOKEN, accept_terms=False, accept_auto_renewal=False, accept_privacy=False
        )

    assert refused.value.extras["missing"] == [
        "accept_terms",
        "accept_auto_renewal",
        "accept_privacy",
    ]


def test_new_buyer_without_the_privacy_statement_is_refused_naming_only_it() -> None:
    purchase = verified_purchase()

    with pytest.raises(AcceptanceRequired) as refused:
        purchase.charge_for_completion(
            card_token=TOKEN, accept_terms=True, accept_auto_renewal=True, accept_privacy=False
        )

    assert refused.value.extras["missing"] == ["accept_privacy"]


def test_upgrade_without_the_auto_renewal_policy_is_refused_naming_only_it() -> None:
    purchase = upgrade_purchase()

    with pytest.raises(AcceptanceRequired) as refused:
        purchase.charge_for_completion(
            card_token=TOKEN, accept_terms=True, accept_auto_renewal=False, accept_privacy=True
        )

    assert refused.value.extras["missing"] == ["accept_auto_renewal"]


def test_upgrade_without_the_terms_of_service_is_refused_naming_only_them() -> None:
    purchase = upgrade_purchase()

    with pytest.raises(AcceptanceRequired) as refused:
        purchase.charge_for_completion(
            card_token=TOKEN, accept_terms=False, accept_auto_renewal=True, accept_privacy=True
        )

    assert refused.value.extras["missing"] == ["accept_terms"]


def test_upgrade_needs_no_privacy_statement_acceptance() -> None:
    purchase = upgrade_purchase()

    request = purchase.charge_for_completion(
        card_token=TOKEN, accept_terms=True, accept_auto_renewal=True, accept_privacy=False
    )

    assert request.amount == PRICE


def test_first_completion_charge_is_attempt_one_of_term_one() -> None:
    purchase = verified_purchase()

    request = purchase.charge_for_completion(card_token=TOKEN, **ALL_ACCEPTED)

    assert request.idempotency_key == f"{purchase.id}:1:1"


def test_completion_charge_uses_the_given_card_token_and_the_plan_price() -> None:
    purchase = verified_purchase()

    request = purchase.charge_for_completion(card_token=TOKEN, **ALL_ACCEPTED)

    assert (request.token, request.amount) == (TOKEN, PRICE)


def test_completing_records_completed_with_the_created_subscription() -> None:
    purchase = verified_purchase()
    subscription_id = uuid4()

    purchase.complete(
        subscription_id=subscription_id,
        account_id=uuid4(),
        organisation_id=uuid4(),
        brand_id="brand-new",
        change=change(WHEN),
    )

    [completed] = purchase.collect_events()
    assert names([completed]) == ["Completed"]
    assert completed.subscription_id == subscription_id
    assert purchase.status == COMPLETED


def test_completing_a_completed_purchase_again_is_refused_as_completed() -> None:
    purchase = completed_purchase()

    with pytest.raises(PurchaseCompleted):
        complete(purchase)


def test_asking_for_a_completion_charge_of_a_completed_purchase_is_refused_as_completed() -> None:
    purchase = completed_purchase()

    with pytest.raises(PurchaseCompleted):
        purchase.charge_for_completion(card_token=TOKEN, **ALL_ACCEPTED)


# --- datacenter (R15) -------------------------------------------------------------------------


def test_new_buyer_changes_the_datacenter_before_completion() -> None:
    purchase = verified_purchase()

    purchase.choose_datacenter("au-1", change(WHEN))

    [chosen] = purchase.collect_events()
    assert names([chosen]) == ["DatacenterChosen"]
    assert purchase.datacenter == "au-1"


def test_new_buyer_changes_the_datacenter_while_awaiting_verification() -> None:
    purchase = new_buyer_purchase()

    purchase.choose_datacenter("uk-1", change(WHEN))

    assert purchase.datacenter == "uk-1"


def test_choosing_the_datacenter_already_chosen_records_nothing() -> None:
    purchase = new_buyer_purchase(datacenter="eu-1")

    purchase.choose_datacenter("eu-1", change(WHEN))

    assert purchase.collect_events() == []


def test_datacenter_cannot_be_changed_after_completion() -> None:
    purchase = completed_purchase()

    with pytest.raises(PurchaseCompleted):
        purchase.choose_datacenter("au-1", change(WHEN))


def test_upgrade_keeps_its_organisations_datacenter() -> None:
    purchase = upgrade_purchase()

    with pytest.raises(DatacenterFixed):
        purchase.choose_datacenter("eu-1", change(WHEN))


def test_unknown_datacenter_is_rejected() -> None:
    purchase = new_buyer_purchase()

    with pytest.raises(UnknownDatacenter):
        purchase.choose_datacenter("mars-1", change(WHEN))


# --- a declined card (R16) ----------------------------------------------------------------


def test_declined_completion_charge_records_payment_declined() -> None:
    purchase = verified_purchase()
    request = purchase.charge_for_completion(card_token=TOKEN, **ALL_ACCEPTED)

    purchase.record_declined(request, DECLINED, card(), change(WHEN))

    [declined] = purchase.collect_events()
    assert names([declined]) == ["PaymentDeclined"]
    assert declined.payment["status"] == "failed"
    assert declined.payment["reason"] == "card_declined"


def test_declined_completion_charge_leaves_the_purchase_open() -> None:
    purchase = verified_purchase()
    request = purchase.charge_for_completion(card_token=TOKEN, **ALL_ACCEPTED)

    purchase.record_declined(request, DECLINED, card(), change(WHEN))

    assert purchase.status == OPEN


def test_charge_after_a_declined_one_is_the_next_attempt() -> None:
    purchase = verified_purchase()
    first = purchase.charge_for_completion(card_token=TOKEN, **ALL_ACCEPTED)
    purchase.record_declined(first, DECLINED, card(), change(WHEN))

    second = purchase.charge_for_completion(card_token="tok_mc_4444", **ALL_ACCEPTED)

    assert second.idempotency_key == f"{purchase.id}:1:2"


def test_declined_payment_record_keeps_only_the_last_four_digits_of_the_card() -> None:
    purchase = verified_purchase()
    request = purchase.charge_for_completion(card_token=TOKEN, **ALL_ACCEPTED)

    purchase.record_declined(request, DECLINED, card(), change(WHEN))

    [declined] = purchase.collect_events()
    assert declined.payment["card_last4"] == "4242"


def test_purchase_after_a_declined_charge_can_still_be_completed() -> None:
    purchase = verified_purchase()
    request = purchase.charge_for_completion(card_token=TOKEN, **ALL_ACCEPTED)
    purchase.record_declined(request, DECLINED, card(), change(WHEN))

    complete(purchase)

    assert purchase.status == COMPLETED
