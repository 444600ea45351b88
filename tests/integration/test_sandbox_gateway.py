"""The sandbox processor takes each charge once, whoever asks and however often."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from api.bootstrap import Container
from lifecycle.money import Money
from lifecycle.payment import PURCHASE, RENEWAL, ChargeRequest


def a_charge(token: str = "tok_visa", purpose: str = PURCHASE) -> ChargeRequest:
    return ChargeRequest(
        owner_id=uuid.uuid4(),
        purpose=purpose,
        term=1,
        attempt=1,
        amount=Money(Decimal("1500.00"), "USD"),
        token=token,
    )


def test_concurrent_charges_under_one_idempotency_key_record_one_charge(
    container: Container,
    make_container: Callable[..., Container],
    together: Callable[..., list[Any]],
) -> None:
    gateways = [container.services.gateway, make_container().services.gateway] * 4
    request = a_charge()
    now = container.services.clock.now()

    outcomes = together(*(lambda g=g: g.charge(request, now) for g in gateways))

    assert len(set(outcomes)) == 1
    assert outcomes[0].approved
    ledger = container.services.gateway.charges()  # type: ignore[attr-defined]
    assert [row["idempotency_key"] for row in ledger] == [request.idempotency_key]


def test_a_repeated_charge_returns_the_first_outcome_even_for_another_token(
    container: Container,
) -> None:
    gateway = container.services.gateway
    request = a_charge(token="tok_declined")
    now = container.services.clock.now()
    first = gateway.charge(request, now)

    again = gateway.charge(
        ChargeRequest(
            owner_id=request.owner_id,
            purpose=request.purpose,
            term=request.term,
            attempt=request.attempt,
            amount=request.amount,
            token="tok_visa",
        ),
        now,
    )

    assert not first.approved
    assert again == first
    assert len(gateway.charges()) == 1  # type: ignore[attr-defined]


def test_the_renewal_card_is_approved_at_purchase_and_declined_at_renewal(
    container: Container,
) -> None:
    gateway = container.services.gateway
    now = container.services.clock.now()

    at_purchase = gateway.charge(a_charge("tok_fails_renewal", PURCHASE), now)
    at_renewal = gateway.charge(a_charge("tok_fails_renewal", RENEWAL), now)

    assert at_purchase.approved
    assert not at_renewal.approved
    assert at_renewal.reason == "card_declined"
