"""The event log on each store: what goes in comes back out, and a save is all or nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from eventsourcing.persistence import IntegrityError

from api.bootstrap import Container
from commands.accounts import open_account
from commands.context import Caller
from commands.contracts import create_contract
from commands.purchases import CompletedPurchase
from commands.services import Services
from lifecycle.account import Account
from lifecycle.cards import Card
from lifecycle.contract import Contract
from lifecycle.contract_terms import Contact
from lifecycle.money import Money
from lifecycle.purchase import Purchase
from lifecycle.subscription import Subscription


def test_purchase_reloads_in_a_new_process_with_decimal_money_instants_and_card_intact(
    container: Container,
    make_container: Callable[..., Container],
    buy: Callable[..., CompletedPurchase],
) -> None:
    bought = buy(token="tok_mastercard", plan="strategic_research_team", currency="EUR")
    purchased_at = container.settings.clock_start
    assert purchased_at is not None

    elsewhere = make_container().services
    subscription = elsewhere.load(Subscription, bought.subscription.id, "subscription")
    purchase = elsewhere.load(Purchase, bought.purchase.id, "purchase")

    assert subscription.price == Money(Decimal("4650.00"), "EUR")
    assert type(subscription.price.amount) is Decimal
    assert str(subscription.price.amount) == "4650.00"
    assert purchase.price == subscription.price
    assert subscription.anchor == purchased_at
    assert subscription.anchor.utcoffset() is not None
    assert subscription.term_end == datetime(2028, 1, 31, 9, 0, tzinfo=timezone.utc)
    assert subscription.card == Card(
        token="tok_mastercard", brand="mastercard", last4="4444", exp_month=12, exp_year=2030
    )
    assert subscription.payments == bought.subscription.payments
    assert subscription.payments[0]["amount"] == {"amount": "4650.00", "currency": "EUR"}
    assert subscription.billing_address == bought.subscription.billing_address


def test_purchase_events_keep_their_time_and_who_asked(
    make_container: Callable[..., Container], buy: Callable[..., CompletedPurchase]
) -> None:
    bought = buy()

    events = list(make_container().services.store.events.get(bought.subscription.id))

    assert [type(e).__name__ for e in events] == ["Started"]
    started = events[0]
    assert started.timestamp == bought.subscription.anchor
    assert started.price == Money(Decimal("1500.00"), "USD")
    assert started.card == bought.subscription.card
    assert started.meta["service"] == "tests"
    assert started.meta["command_id"]


def test_a_contract_reloads_in_a_new_process_with_its_dates_money_and_contacts_intact(
    services: Services,
    make_container: Callable[..., Container],
    caller: Callable[..., Caller],
) -> None:
    opened = open_account(
        services, caller(), email="o@example.com", name="O", username="o", kind="free"
    ).value
    primary = Contact("Grace", "Owner", "grace@example.com", opened.account.id)
    billing = Contact("Bill", "Payer", "bill@example.com")
    created = create_contract(
        services,
        caller(),
        organisation_id=opened.organisation.id,
        number=4711,
        start_date=date(2027, 2, 28),
        term_months=12,
        licences=["research_suite"],
        notice_days=60,
        price=Money(Decimal("25000.50"), "GBP"),
        primary_contact=primary,
        billing_contact=billing,
    ).value

    contract = make_container().services.load(Contract, created.id, "contract")

    assert contract.original_start_date == date(2027, 2, 28)
    assert type(contract.start_date) is date
    assert contract.end_date == date(2028, 2, 27)
    assert type(contract.end_date) is date
    assert contract.price == Money(Decimal("25000.50"), "GBP")
    assert contract.primary_contact == primary
    assert contract.billing_contact == billing


def test_one_save_of_several_aggregates_records_none_when_one_of_them_conflicts(
    services: Services, caller: Callable[..., Caller]
) -> None:
    opened = open_account(
        services, caller(), email="a@example.com", name="A", username="a", kind="free"
    ).value
    stale = services.load(Account, opened.account.id, "account")
    fresh = services.load(Account, opened.account.id, "account")
    change = caller().change(services.clock.now())
    fresh.change_details({"name": "First writer"}, None, change)
    services.save(fresh)
    newcomer = Account.open(
        uuid.uuid4(),
        organisation_id=opened.organisation.id,
        name="Newcomer",
        email="new@example.com",
        username="new",
        user_type="standard",
        datacenter=opened.organisation.datacenter,
        change=change,
    )
    stale.change_details({"name": "Second writer"}, None, change)
    head = services.head()

    with pytest.raises(IntegrityError):
        services.save(newcomer, stale)

    assert services.find(Account, newcomer.id) is None
    assert services.load(Account, opened.account.id, "account").name == "First writer"
    assert services.head() == head
