"""R45: the notice deadline is the end date minus the contract's notice days; an opt-out
or a change is accepted through the end of that day and refused after it; an opted-out
contract ends at its end date (its term's end, 00:00Z the next day)."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from given import MICROSECOND, change, names
from given_contracts import (
    DAY,
    END,
    NEW_PRICE,
    NOTICE_DEADLINE,
    contract,
    midnight,
    opened,
    renewal_in,
)

from lifecycle.contract import ENDED
from lifecycle.due import DueItem
from lifecycle.errors import ContractEnded, NoticePeriodPassed, StageOutOfOrder
from lifecycle.renewal import OPTED_OUT, TERM_END

LAST_MOMENT = midnight(NOTICE_DEADLINE) + DAY - MICROSECOND
TOO_LATE = midnight(NOTICE_DEADLINE) + DAY
TERM_END_AT = midnight(END) + DAY


def test_the_notice_deadline_is_the_end_date_minus_the_notice_days() -> None:
    _, renewal = opened(contract(notice_days=45))

    assert renewal.notice_deadline == date(2027, 11, 16)


def test_an_opt_out_records_opted_out_with_its_reason() -> None:
    _, renewal = renewal_in("discussion")

    renewal.opt_out("moving to another vendor", change(LAST_MOMENT))

    [opted_out] = renewal.collect_events()
    assert names([opted_out]) == ["OptedOut"]
    assert (renewal.stage, opted_out.reason) == (OPTED_OUT, "moving to another vendor")


def test_an_opt_out_is_accepted_at_the_last_moment_of_the_notice_deadline() -> None:
    _, renewal = renewal_in("assessment")

    renewal.opt_out(None, change(LAST_MOMENT))

    assert renewal.stage == OPTED_OUT


def test_an_opt_out_after_the_notice_deadline_is_refused() -> None:
    _, renewal = renewal_in("discussion")

    with pytest.raises(NoticePeriodPassed):
        renewal.opt_out(None, change(TOO_LATE))


def test_a_change_of_services_after_the_notice_deadline_is_refused() -> None:
    _, renewal = renewal_in("discussion")

    with pytest.raises(NoticePeriodPassed):
        renewal.align([{"kind": "add_product", "detail": "dx"}], change(TOO_LATE))


def test_a_change_of_services_on_the_notice_deadline_is_accepted() -> None:
    _, renewal = renewal_in("discussion")

    renewal.align([{"kind": "add_product", "detail": "dx"}], change(LAST_MOMENT))

    assert names(renewal.collect_events()) == ["ScopeAligned"]


def test_a_direct_continuation_may_still_be_agreed_after_the_notice_deadline() -> None:
    _, renewal = renewal_in("discussion")
    renewal.align([{"kind": "add_users", "detail": "10"}], change(LAST_MOMENT))

    renewal.align([], change(TOO_LATE))

    assert renewal.changes == []


def test_a_contract_with_no_notice_period_accepts_an_opt_out_on_its_last_day() -> None:
    _, renewal = renewal_in("discussion", contract(notice_days=0))

    renewal.opt_out(None, change(TERM_END_AT - MICROSECOND))

    assert renewal.stage == OPTED_OUT


def test_an_invoiced_renewal_cannot_be_opted_out_of() -> None:
    _, renewal = renewal_in("invoiced")

    with pytest.raises(StageOutOfOrder):
        renewal.opt_out(None, change(LAST_MOMENT))


def test_nothing_moves_an_opted_out_renewal_on() -> None:
    made, renewal = renewal_in("opted_out")
    when = LAST_MOMENT
    commands = [
        lambda: renewal.contact(None, change(when)),
        lambda: renewal.align([], change(when)),
        lambda: renewal.issue_quote(
            uuid4(), licences=made.licences, term_months=12, price=NEW_PRICE, change=change(when)
        ),
        lambda: renewal.confirm(uuid4(), change(when)),
        lambda: renewal.issue_invoice(uuid4(), made.billing_contact, change(when)),
        lambda: renewal.opt_out(None, change(when)),
    ]
    refused = 0
    for command in commands:
        with pytest.raises(StageOutOfOrder):
            command()
        refused += 1

    assert (refused, renewal.collect_events()) == (len(commands), [])


def test_an_opted_out_renewal_awaits_the_end_of_the_term() -> None:
    _, renewal = renewal_in("opted_out")

    assert renewal.due_work() == [
        DueItem(TERM_END_AT, TERM_END, renewal.id, f"{TERM_END}:{renewal.id}")
    ]


def test_an_opt_out_takes_effect_at_00_00z_after_the_end_date() -> None:
    _, renewal = renewal_in("opted_out")

    assert (renewal.takes_effect(TERM_END_AT - MICROSECOND), renewal.takes_effect(TERM_END_AT)) == (
        False,
        True,
    )


def test_an_opt_out_that_took_effect_awaits_nothing() -> None:
    _, renewal = renewal_in("opted_out")

    renewal.take_effect(change(TERM_END_AT))

    assert names(renewal.collect_events()) == ["OptOutTookEffect"]
    assert (renewal.stage, renewal.due_work()) == (OPTED_OUT, [])


def test_an_opted_out_contract_ends_at_its_end_date() -> None:
    made, renewal = renewal_in("opted_out")

    made.end(renewal.id, change(TERM_END_AT))

    [ended] = made.collect_events()
    assert names([ended]) == ["Ended"]
    assert (made.status, made.ended_on) == (ENDED, END)


def test_an_ended_contract_opens_no_further_window() -> None:
    made, renewal = renewal_in("opted_out")
    made.end(renewal.id, change(TERM_END_AT))

    assert made.due_work() == []


def test_an_ended_contract_starts_no_next_term() -> None:
    made, renewal = renewal_in("opted_out")
    made.end(renewal.id, change(TERM_END_AT))

    with pytest.raises(ContractEnded):
        made.start_next_term(
            renewal.id,
            licences=made.licences,
            term_months=12,
            price=NEW_PRICE,
            change=change(TERM_END_AT),
        )
