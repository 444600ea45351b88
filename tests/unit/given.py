"""Givens for the domain's unit tests: instants, changes, and aggregates in a given state.

Every builder returns an aggregate whose events so far are already collected, so a
test's "then" sees only the events its "when" recorded.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

from lifecycle.account import BRAND_ADMIN, STANDARD, Account
from lifecycle.cards import Card
from lifecycle.catalogue import Caps
from lifecycle.change import Change
from lifecycle.licence_request import LicenceRequest
from lifecycle.money import Money
from lifecycle.organisation import FREE, TRIAL, Organisation
from lifecycle.payment import ChargeOutcome, ChargeRequest
from lifecycle.purchase import Purchase
from lifecycle.subscription import Subscription

UTC = timezone.utc
MICROSECOND = timedelta(microseconds=1)
PRICE = Money.of("1500.00", "USD")
NEW_PRICE = Money.of("5000.00", "USD")
CAPS = Caps(responses=1000, seats=1)
TOKEN_DIGEST = "digest-of-the-emailed-token"

_ids = itertools.count(1)


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """An instant in UTC."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def change(
    when: datetime,
    *,
    actor: str | None = None,
    service: str = "tests",
    command_id: str | None = None,
    correlation_id: str | None = None,
) -> Change:
    """A change at ``when``: a new command id each time unless one is given."""
    number = next(_ids)
    command_id = command_id or f"command-{number}"
    return Change(when, service, actor, command_id, correlation_id or f"correlation-{number}")


def names(events: list[Any]) -> list[str]:
    """The events' names, in order (``Renewed``, ``Expired``, ...)."""
    return [type(e).__name__ for e in events]


def card(exp_month: int = 12, exp_year: int = 2099, *, token: str = "tok_visa_4242") -> Card:
    return Card(token=token, brand="visa", last4=token[-4:], exp_month=exp_month, exp_year=exp_year)


APPROVED = ChargeOutcome(approved=True, charge_id="ch_approved")
DECLINED = ChargeOutcome(approved=False, charge_id="ch_declined", reason="card_declined")


# --- subscriptions ----------------------------------------------------------------------


def subscription(
    started: datetime = at(2025, 3, 15, 9, 45),
    *,
    caps: Caps = CAPS,
    price: Money = PRICE,
    on_file: Card | None = None,
) -> Subscription:
    """An active subscription in its first term, bought at ``started``."""
    sub = Subscription.start(
        uuid4(),
        organisation_id=uuid4(),
        buyer_account_id=uuid4(),
        plan="strategic_research",
        price=price,
        caps=caps,
        card=on_file or card(),
        billing_address={"country": "US", "postal_code": "94105"},
        payment={"payment_id": "ch_purchase", "term_number": 1, "status": "succeeded"},
        change=change(started),
    )
    sub.collect_events()
    return sub


def renewed(sub: Subscription) -> Subscription:
    """``sub`` renewed at its term end (the charge approved)."""
    when = sub.term_end
    request = sub.begin_renewal_charge(change(when))
    assert request is not None
    sub.record_renewal_charge(request, APPROVED, change(when))
    sub.collect_events()
    return sub


def declined_at(sub: Subscription, when: datetime) -> ChargeRequest:
    """Begin the due charge at ``when`` and record it declined; the request taken."""
    request = sub.begin_renewal_charge(change(when))
    assert request is not None, f"no renewal charge was due at {when}"
    sub.record_renewal_charge(request, DECLINED, change(when))
    sub.collect_events()
    return request


def past_due(started: datetime = at(2025, 3, 15, 9, 45)) -> Subscription:
    """A subscription whose first renewal charge, at its term end, was declined."""
    sub = subscription(started)
    declined_at(sub, sub.term_end)
    return sub


def non_renewing(started: datetime = at(2025, 3, 15, 9, 45)) -> Subscription:
    """A subscription whose renewal was cancelled a month after it started."""
    sub = subscription(started)
    sub.cancel_renewal("too expensive", change(started + timedelta(days=30)))
    sub.collect_events()
    return sub


def expired(started: datetime = at(2025, 3, 15, 9, 45)) -> Subscription:
    """A non-renewing subscription that expired at its term end."""
    sub = non_renewing(started)
    sub.expire_at_term_end(change(sub.term_end))
    sub.collect_events()
    return sub


# --- accounts and organisations ----------------------------------------------------------


def account(
    organisation_id: UUID | None = None, *, user_type: str = STANDARD, name: str = "Ada Lovelace"
) -> Account:
    acc = Account.open(
        uuid4(),
        organisation_id=organisation_id or uuid4(),
        name=name,
        email=f"{name.split()[0].lower()}@example.com",
        username=name.split()[0].lower(),
        user_type=user_type,
        datacenter="us-1",
        change=change(at(2025, 1, 1)),
    )
    acc.collect_events()
    return acc


def brand_admin(organisation_id: UUID | None = None, name: str = "Grace Hopper") -> Account:
    return account(organisation_id, user_type=BRAND_ADMIN, name=name)


def organisation(
    *,
    licence: str = FREE,
    fedramp: bool = False,
    trial_ends_at: datetime | None = None,
) -> Organisation:
    org = Organisation.register(
        uuid4(),
        brand_id="brand-1",
        datacenter="us-1",
        fedramp=fedramp,
        licence=licence,
        trial_ends_at=trial_ends_at,
        change=change(at(2025, 1, 1)),
    )
    org.collect_events()
    return org


def trial(ends_at: datetime) -> Organisation:
    return organisation(licence=TRIAL, trial_ends_at=ends_at)


def self_service_organisation(subscription_id: UUID | None = None) -> Organisation:
    org = organisation()
    org.grant_self_service(subscription_id or uuid4(), change(at(2025, 2, 1)))
    org.collect_events()
    return org


# --- purchases and licence requests ---------------------------------------------------------


def new_buyer_purchase(*, datacenter: str = "eu-1") -> Purchase:
    """A purchase without an account: awaiting verification of the buyer's email."""
    purchase = Purchase.start(
        uuid4(),
        plan="strategic_research",
        price=PRICE,
        account_id=None,
        organisation_id=None,
        email="buyer@example.com",
        recommended_datacenter="eu-1",
        datacenter=datacenter,
        verification_digest=TOKEN_DIGEST,
        change=change(at(2025, 5, 1)),
    )
    purchase.collect_events()
    return purchase


def verified_purchase() -> Purchase:
    purchase = new_buyer_purchase()
    purchase.verify(TOKEN_DIGEST, change(at(2025, 5, 1, 0, 10)))
    purchase.collect_events()
    return purchase


def upgrade_purchase() -> Purchase:
    """A purchase from an existing free or trial account (R11)."""
    purchase = Purchase.start(
        uuid4(),
        plan="strategic_research",
        price=PRICE,
        account_id=uuid4(),
        organisation_id=uuid4(),
        email="member@example.com",
        recommended_datacenter="us-1",
        datacenter="us-1",
        verification_digest=None,
        change=change(at(2025, 5, 1)),
    )
    purchase.collect_events()
    return purchase


ALL_ACCEPTED = {"accept_terms": True, "accept_auto_renewal": True, "accept_privacy": True}


def completed_purchase() -> Purchase:
    purchase = verified_purchase()
    purchase.charge_for_completion(card_token="tok_visa_4242", **ALL_ACCEPTED)
    purchase.complete(
        subscription_id=uuid4(),
        account_id=uuid4(),
        organisation_id=uuid4(),
        brand_id="brand-new",
        change=change(at(2025, 5, 1, 0, 20)),
    )
    purchase.collect_events()
    return purchase


def licence_request(kind: str = "add_seats") -> LicenceRequest:
    request = LicenceRequest.submit(
        uuid4(),
        subscription_id=uuid4(),
        organisation_id=uuid4(),
        name="Ada Lovelace",
        email="ada@example.com",
        cc=[],
        username="ada",
        kind=kind,
        description="two more seats",
        routed_to="account-team@example.com",
        change=change(at(2025, 6, 1)),
    )
    request.collect_events()
    return request
