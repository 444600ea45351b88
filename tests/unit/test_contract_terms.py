"""R40: a contract's number, dates, licences and terms; terms counted from the original
start date, clamped to month end; a renewed term starts the day after the old end."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from given import at, change, names
from given_contracts import (
    BILLER,
    END,
    LICENCES,
    NEW_PRICE,
    OWNER,
    PRICE,
    START,
    contract,
    renewal_in,
    renewed,
)

from lifecycle.contract import ACTIVE, Contract
from lifecycle.errors import InvalidState, Rejected


def _create(**overrides: object) -> Contract:
    fields: dict[str, object] = {
        "organisation_id": uuid4(),
        "number": 7,
        "start_date": START,
        "term_months": 12,
        "licences": list(LICENCES),
        "notice_days": 90,
        "price": PRICE,
        "primary_contact": OWNER,
        "billing_contact": BILLER,
        "change": change(at(2026, 12, 1)),
    }
    fields.update(overrides)
    return Contract.create(uuid4(), **fields)  # type: ignore[arg-type]


# --- creation ------------------------------------------------------------------------------


def test_creating_a_contract_records_created_with_its_number_dates_licences_and_price() -> None:
    made = _create(number=4711)

    [created] = made.collect_events()
    assert names([created]) == ["Created"]
    assert (created.number, created.start_date, created.end_date) == (4711, START, END)
    assert (created.licences, created.term_months, created.price) == (LICENCES, 12, PRICE)


def test_a_twelve_month_contract_from_2027_01_01_ends_on_2027_12_31() -> None:
    assert _create(start_date=date(2027, 1, 1), term_months=12).end_date == date(2027, 12, 31)


def test_a_new_contract_is_active_in_term_1() -> None:
    made = _create()

    assert (made.status, made.term_number, made.start_date) == (ACTIVE, 1, START)


def test_a_one_month_contract_from_january_31_ends_on_the_last_day_but_one_of_february() -> None:
    """Jan 31 + 1 month clamps to Feb 28 (2027 is no leap year); the term ends a day before."""
    assert _create(start_date=date(2027, 1, 31), term_months=1).end_date == date(2027, 2, 27)


@pytest.mark.parametrize("number", [0, -5, True])
def test_a_contract_number_that_is_not_a_positive_integer_is_refused(number: object) -> None:
    with pytest.raises(Rejected):
        _create(number=number)


@pytest.mark.parametrize("months", [0, 121])
def test_a_term_outside_1_to_120_months_is_refused(months: int) -> None:
    with pytest.raises(Rejected):
        _create(term_months=months)


def test_a_contract_without_licences_is_refused() -> None:
    with pytest.raises(Rejected):
        _create(licences=[])


def test_a_product_licensed_twice_is_refused() -> None:
    with pytest.raises(Rejected):
        _create(licences=["cx", "cx"])


def test_a_negative_notice_period_is_refused() -> None:
    with pytest.raises(Rejected):
        _create(notice_days=-1)


# --- the next term ----------------------------------------------------------------------------


def test_a_renewed_term_starts_the_day_after_the_old_end_date() -> None:
    made = renewed(contract())

    assert (made.term_number, made.start_date) == (2, date(2028, 1, 1))


def test_a_renewed_term_keeps_the_contract_number() -> None:
    made = renewed(contract(number=31337))

    assert made.number == 31337


def test_a_renewed_term_takes_licences_term_and_price_of_the_confirmed_quote() -> None:
    made = contract()
    _, renewal = renewal_in("invoiced", made, licences=["cx", "ex", "dx"], term_months=24)
    renewal.take_effect(change(renewal.term_end_at))

    made.start_next_term(
        renewal.id,
        licences=["cx", "ex", "dx"],
        term_months=24,
        price=NEW_PRICE,
        change=change(renewal.term_end_at),
    )

    [started] = made.collect_events()
    assert names([started]) == ["NextTermStarted"]
    assert (made.licences, made.term_months, made.price) == (["cx", "ex", "dx"], 24, NEW_PRICE)
    assert made.end_date == date(2029, 12, 31)


def test_terms_of_different_lengths_are_counted_from_the_original_start() -> None:
    """12 + 24 + 6 months from 2027-01-01: the third term ends 2030-06-30."""
    made = renewed(renewed(contract(), term_months=24), term_months=6)

    assert [(t["start_date"], t["end_date"]) for t in made.terms] == [
        (date(2027, 1, 1), date(2027, 12, 31)),
        (date(2028, 1, 1), date(2029, 12, 31)),
        (date(2030, 1, 1), date(2030, 6, 30)),
    ]


def test_month_end_terms_are_clamped_from_the_original_start_not_from_the_previous_end() -> None:
    """From Jan 31: term 1 ends Feb 27 (Feb 28 − 1); term 2 ends Mar 30 (Jan 31 + 2 months
    − 1), where counting from Feb 28 would give Mar 27."""
    made = renewed(contract(date(2027, 1, 31), term_months=1, notice_days=0))

    assert (made.start_date, made.end_date) == (date(2027, 2, 28), date(2027, 3, 30))


def test_a_contract_keeps_the_history_of_every_term() -> None:
    made = renewed(renewed(contract()))

    assert [t["term_number"] for t in made.terms] == [1, 2, 3]


def test_the_next_term_is_only_started_by_the_renewal_of_the_current_term() -> None:
    made, _ = renewal_in("invoiced")

    with pytest.raises(InvalidState):
        made.start_next_term(
            uuid4(), licences=LICENCES, term_months=12, price=PRICE, change=change(at(2028, 1, 1))
        )
