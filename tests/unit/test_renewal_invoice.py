"""R46: the invoice goes to the billing contact on file at invoicing, for the renewed term
at the confirmed quote's price, due 30 days after issue."""

from __future__ import annotations

from datetime import date, timedelta, timezone
from uuid import uuid4

import pytest
from given import at, change
from given_contracts import BILLER, NEW_BILLER, PRICE, renewal_in

from lifecycle.contract import BILLING
from lifecycle.errors import InvalidState
from lifecycle.money import Money

ISSUED = at(2027, 12, 10, 16, 45)


def _confirmed_at(price: Money):  # type: ignore[no-untyped-def]
    return renewal_in("confirmed", price=price)


def test_the_invoice_is_for_the_confirmed_quotes_price() -> None:
    made, renewal = _confirmed_at(Money.of("18250.50", "EUR"))

    renewal.issue_invoice(uuid4(), made.billing_contact, change(ISSUED))

    assert renewal.invoice is not None and renewal.invoice["amount"] == Money.of("18250.50", "EUR")


def test_the_invoice_is_for_the_latest_quote_confirmed_not_an_earlier_one() -> None:
    made, renewal = renewal_in("proposal", price=Money.of("20000.00", "USD"))
    renewal.issue_quote(
        uuid4(), licences=made.licences, term_months=12, price=PRICE, change=change(ISSUED)
    )
    renewal.confirm(renewal.quotes[-1]["quote_id"], change(ISSUED))

    renewal.issue_invoice(uuid4(), made.billing_contact, change(ISSUED))

    assert renewal.invoice is not None and renewal.invoice["amount"] == PRICE


def test_a_confirmed_renewal_that_lost_its_quote_is_refused_invoicing_with_a_typed_error() -> None:
    """Even under ``python -O``: a broken state is a refusal, not an unchecked crash."""
    made, renewal = _confirmed_at(PRICE)
    renewal.confirmed_quote_id = uuid4()  # a state no command leads to

    with pytest.raises(InvalidState, match="no confirmed quote"):
        renewal.issue_invoice(uuid4(), made.billing_contact, change(ISSUED))

    assert renewal.invoice is None and renewal.collect_events() == []


def test_the_invoice_is_issued_on_the_utc_day_and_due_30_days_later() -> None:
    made, renewal = _confirmed_at(PRICE)
    late_evening_in_new_york = at(2027, 12, 11, 2, 30).astimezone(timezone(timedelta(hours=-5)))

    renewal.issue_invoice(uuid4(), made.billing_contact, change(late_evening_in_new_york))

    assert renewal.invoice is not None
    assert (renewal.invoice["issued_on"], renewal.invoice["due_on"]) == (
        date(2027, 12, 11),
        date(2028, 1, 10),
    )


def test_the_invoice_is_for_the_renewed_term() -> None:
    made, renewal = _confirmed_at(PRICE)

    renewal.issue_invoice(uuid4(), made.billing_contact, change(ISSUED))

    assert renewal.invoice is not None and renewal.invoice["term_number"] == 2


def test_the_invoice_names_the_billing_contact_on_file_when_it_is_issued() -> None:
    made, renewal = _confirmed_at(PRICE)
    made.change_contact(BILLING, NEW_BILLER, change(ISSUED - timedelta(days=1)))

    renewal.issue_invoice(uuid4(), made.billing_contact, change(ISSUED))

    assert renewal.invoice is not None and renewal.invoice["recipient"] == NEW_BILLER


def test_the_invoice_keeps_its_recipient_when_the_billing_contact_changes_afterwards() -> None:
    made, renewal = _confirmed_at(PRICE)
    renewal.issue_invoice(uuid4(), made.billing_contact, change(ISSUED))

    made.change_contact(BILLING, NEW_BILLER, change(ISSUED + timedelta(days=1)))

    assert renewal.invoice is not None and renewal.invoice["recipient"] == BILLER
