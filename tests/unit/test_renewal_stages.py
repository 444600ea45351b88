"""R44: assessment → discussion → proposal → confirmed → invoiced → renewed (or
opted_out); quotes are revised before confirmation and only the latest is confirmed; an
invoiced renewal is renewed when the term ends; without an invoice or an opt-out the
contract stays on its old terms and the renewal stays open and overdue."""

from __future__ import annotations

from uuid import uuid4

import pytest
from given import MICROSECOND, change, names
from given_contracts import DAY, END, NEW_PRICE, PRICE, midnight, renewal_in

from lifecycle.due import DueItem
from lifecycle.errors import InvalidState, Rejected, StageOutOfOrder, StaleQuote
from lifecycle.money import Money
from lifecycle.renewal import (
    CONFIRMED,
    INVOICED,
    PROPOSAL,
    RENEWED,
    TERM_END,
)

WHEN = midnight(END) - 30 * DAY
TERM_END_AT = midnight(END) + DAY


def _quote(renewal, price: Money = NEW_PRICE, term_months: int = 12):  # type: ignore[no-untyped-def]
    quote_id = uuid4()
    renewal.issue_quote(
        quote_id, licences=["cx", "ex"], term_months=term_months, price=price, change=change(WHEN)
    )
    return quote_id


# --- order -----------------------------------------------------------------------------------


def test_a_quote_moves_a_renewal_under_discussion_to_proposal() -> None:
    _, renewal = renewal_in("discussion")

    _quote(renewal)

    assert names(renewal.collect_events()) == ["Quoted"]
    assert renewal.stage == PROPOSAL


def test_a_quote_records_services_term_and_price() -> None:
    _, renewal = renewal_in("discussion")

    quote_id = _quote(renewal, price=Money.of("9999.00", "EUR"), term_months=36)

    [quoted] = renewal.collect_events()
    assert (quoted.quote_id, quoted.licences, quoted.term_months, quoted.price) == (
        quote_id,
        ["cx", "ex"],
        36,
        Money.of("9999.00", "EUR"),
    )


def test_no_quote_is_issued_before_the_customer_was_contacted() -> None:
    _, renewal = renewal_in("assessment")

    with pytest.raises(StageOutOfOrder):
        _quote(renewal)


def test_no_quote_is_confirmed_before_one_was_issued() -> None:
    _, renewal = renewal_in("discussion")

    with pytest.raises(StageOutOfOrder):
        renewal.confirm(uuid4(), change(WHEN))


def test_confirming_the_quote_moves_the_renewal_to_confirmed() -> None:
    _, renewal = renewal_in("proposal")
    latest = renewal.latest_quote
    assert latest is not None

    renewal.confirm(latest["quote_id"], change(WHEN))

    assert names(renewal.collect_events()) == ["QuoteConfirmed"]
    assert (renewal.stage, renewal.confirmed_quote_id) == (CONFIRMED, latest["quote_id"])


def test_no_invoice_is_issued_before_a_quote_is_confirmed() -> None:
    made, renewal = renewal_in("proposal")

    with pytest.raises(StageOutOfOrder):
        renewal.issue_invoice(uuid4(), made.billing_contact, change(WHEN))


def test_invoicing_moves_a_confirmed_renewal_to_invoiced() -> None:
    made, renewal = renewal_in("confirmed")

    renewal.issue_invoice(uuid4(), made.billing_contact, change(WHEN))

    assert names(renewal.collect_events()) == ["Invoiced"]
    assert renewal.stage == INVOICED


def test_a_renewal_is_invoiced_once() -> None:
    made, renewal = renewal_in("invoiced")

    with pytest.raises(StageOutOfOrder):
        renewal.issue_invoice(uuid4(), made.billing_contact, change(WHEN))


# --- quotes ----------------------------------------------------------------------------------


def test_a_quote_can_be_revised_before_confirmation() -> None:
    _, renewal = renewal_in("proposal")

    revised = _quote(renewal, price=PRICE)

    assert (len(renewal.quotes), renewal.stage) == (2, PROPOSAL)
    assert renewal.latest_quote is not None and renewal.latest_quote["quote_id"] == revised


def test_only_the_latest_quote_can_be_confirmed() -> None:
    _, renewal = renewal_in("proposal")
    first = renewal.quotes[0]["quote_id"]
    _quote(renewal, price=PRICE)

    with pytest.raises(StaleQuote):
        renewal.confirm(first, change(WHEN))


def test_an_unknown_quote_cannot_be_confirmed() -> None:
    _, renewal = renewal_in("proposal")

    with pytest.raises(Rejected):
        renewal.confirm(uuid4(), change(WHEN))


def test_no_quote_is_issued_once_one_is_confirmed() -> None:
    _, renewal = renewal_in("confirmed")

    with pytest.raises(StageOutOfOrder):
        _quote(renewal)


# --- the end of the term ------------------------------------------------------------------


def test_an_invoiced_renewal_awaits_the_day_after_the_end_date() -> None:
    _, renewal = renewal_in("invoiced")

    assert renewal.due_work() == [
        DueItem(TERM_END_AT, TERM_END, renewal.id, f"{TERM_END}:{renewal.id}")
    ]


def test_an_invoiced_renewal_is_not_renewed_during_the_last_day_of_the_term() -> None:
    _, renewal = renewal_in("invoiced")

    assert not renewal.takes_effect(TERM_END_AT - MICROSECOND)


def test_an_invoiced_renewal_is_renewed_at_00_00z_after_the_end_date() -> None:
    _, renewal = renewal_in("invoiced")

    renewal.take_effect(change(TERM_END_AT))

    [renewed] = renewal.collect_events()
    assert names([renewed]) == ["Renewed"]
    assert (renewal.stage, renewed.term_number) == (RENEWED, 2)


def test_a_renewed_renewal_awaits_nothing() -> None:
    _, renewal = renewal_in("invoiced")
    renewal.take_effect(change(TERM_END_AT))

    assert renewal.due_work() == []


def test_nothing_takes_effect_twice() -> None:
    _, renewal = renewal_in("invoiced")
    renewal.take_effect(change(TERM_END_AT))

    with pytest.raises(InvalidState):
        renewal.take_effect(change(TERM_END_AT + DAY))


@pytest.mark.parametrize("stage", ["discussion", "proposal", "confirmed"])
def test_an_undecided_renewal_awaits_nothing_at_the_term_end(stage: str) -> None:
    _, renewal = renewal_in(stage)

    assert TERM_END not in [item.kind for item in renewal.due_work()]


@pytest.mark.parametrize("stage", ["discussion", "proposal", "confirmed"])
def test_an_undecided_renewal_is_overdue_from_the_day_after_the_end_date(stage: str) -> None:
    _, renewal = renewal_in(stage)

    assert (renewal.is_overdue(TERM_END_AT - MICROSECOND), renewal.is_overdue(TERM_END_AT)) == (
        False,
        True,
    )


def test_a_renewal_invoiced_after_the_end_date_takes_effect_at_once() -> None:
    made, renewal = renewal_in("confirmed")
    late = TERM_END_AT + 10 * DAY
    renewal.issue_invoice(uuid4(), made.billing_contact, change(late))

    assert renewal.takes_effect(late)


def test_an_invoiced_renewal_is_not_overdue_after_the_end_date() -> None:
    _, renewal = renewal_in("invoiced")

    assert not renewal.is_overdue(TERM_END_AT + DAY)
