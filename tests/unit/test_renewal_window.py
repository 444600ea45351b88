"""R42: the renewal window opens 120 days before the end date (00:00Z of ``opens_on``);
the customer must be contacted by 60 days before it; a renewal not contacted by the end
of ``contact_by`` is overdue from the next day 00:00Z and escalated once."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from given import MICROSECOND, change, names
from given_contracts import (
    CONTACT_BY,
    DAY,
    END,
    OPENS_ON,
    contract,
    midnight,
    opened,
    renewal_in,
)

from lifecycle.contract import RENEWAL_WINDOW
from lifecycle.due import DueItem
from lifecycle.errors import InvalidState, StageOutOfOrder
from lifecycle.renewal import ASSESSMENT, DISCUSSION, OVERDUE

# --- the window opens ----------------------------------------------------------------------


def test_the_window_opens_120_days_before_the_end_date() -> None:
    assert contract().window_opens_at() == midnight(date(2027, 9, 2))


def test_the_window_is_not_due_a_microsecond_before_00_00z_of_opens_on() -> None:
    assert not contract().window_due(midnight(OPENS_ON) - MICROSECOND)


def test_the_window_is_due_at_00_00z_of_opens_on() -> None:
    assert contract().window_due(midnight(OPENS_ON))


def test_a_contract_awaits_the_opening_of_its_window() -> None:
    made = contract()

    assert made.due_work() == [
        DueItem(midnight(OPENS_ON), RENEWAL_WINDOW, made.id, f"{RENEWAL_WINDOW}:{made.id}:1")
    ]


def test_opening_the_window_records_it_on_the_contract_and_opens_the_renewal() -> None:
    made = contract()
    renewal_id = uuid4()

    renewal = made.open_renewal(renewal_id, change(midnight(OPENS_ON)))

    [window] = made.collect_events()
    assert names([window]) == ["RenewalWindowOpened"]
    assert (window.term_number, window.renewal_id) == (1, renewal_id)
    assert names(renewal.collect_events()) == ["Opened"]


def test_a_new_renewal_is_in_assessment_for_the_current_term() -> None:
    _, renewal = opened()

    assert (renewal.stage, renewal.term_number) == (ASSESSMENT, 1)


def test_a_renewal_knows_its_opening_and_contact_by_dates() -> None:
    _, renewal = opened()

    assert (renewal.end_date, renewal.opens_on, renewal.contact_by) == (
        END,
        date(2027, 9, 2),
        date(2027, 11, 1),
    )


def test_the_window_cannot_open_before_opens_on() -> None:
    with pytest.raises(InvalidState):
        contract().open_renewal(uuid4(), change(midnight(OPENS_ON) - MICROSECOND))


def test_a_term_opens_one_renewal_only() -> None:
    made, _ = opened()

    with pytest.raises(InvalidState):
        made.open_renewal(uuid4(), change(midnight(OPENS_ON) + DAY))


def test_a_contract_whose_window_has_opened_awaits_nothing() -> None:
    made, _ = opened()

    assert made.due_work() == []


# --- contact by, overdue, escalation -----------------------------------------------------


def test_contacting_the_customer_moves_the_renewal_to_discussion() -> None:
    _, renewal = opened()

    renewal.contact("called Olive", change(midnight(OPENS_ON) + DAY))

    assert names(renewal.collect_events()) == ["CustomerContacted"]
    assert renewal.stage == DISCUSSION


def test_a_renewal_in_assessment_awaits_its_escalation_the_day_after_contact_by() -> None:
    _, renewal = opened()

    assert renewal.due_work() == [
        DueItem(midnight(CONTACT_BY) + DAY, OVERDUE, renewal.id, f"{OVERDUE}:{renewal.id}")
    ]


def test_a_renewal_not_contacted_is_not_overdue_during_its_contact_by_day() -> None:
    _, renewal = opened()

    assert not renewal.is_overdue(midnight(CONTACT_BY) + DAY - MICROSECOND)


def test_a_renewal_not_contacted_is_overdue_from_00_00z_after_contact_by() -> None:
    _, renewal = opened()

    assert renewal.is_overdue(midnight(CONTACT_BY) + DAY)


def test_a_contacted_renewal_is_not_overdue_after_contact_by() -> None:
    _, renewal = renewal_in("discussion")

    assert not renewal.is_overdue(midnight(CONTACT_BY) + 2 * DAY)


def test_an_overdue_renewal_is_escalated_once() -> None:
    _, renewal = opened()
    renewal.escalate(change(midnight(CONTACT_BY) + DAY))

    assert names(renewal.collect_events()) == ["Escalated"]
    assert not renewal.escalation_due(midnight(CONTACT_BY) + 2 * DAY)


def test_a_renewal_cannot_be_escalated_before_it_is_overdue() -> None:
    _, renewal = opened()

    with pytest.raises(InvalidState):
        renewal.escalate(change(midnight(CONTACT_BY) + DAY - MICROSECOND))


def test_a_contacted_renewal_is_not_escalated() -> None:
    _, renewal = renewal_in("discussion")

    assert not renewal.escalation_due(midnight(CONTACT_BY) + DAY)


def test_an_escalated_renewal_awaits_no_further_escalation() -> None:
    _, renewal = opened()
    renewal.escalate(change(midnight(CONTACT_BY) + DAY))

    assert renewal.due_work() == []


def test_an_overdue_renewal_can_still_be_contacted() -> None:
    _, renewal = opened()
    renewal.escalate(change(midnight(CONTACT_BY) + DAY))

    renewal.contact(None, change(midnight(CONTACT_BY) + 2 * DAY))

    assert (renewal.stage, renewal.is_overdue(midnight(CONTACT_BY) + 2 * DAY)) == (
        DISCUSSION,
        False,
    )


def test_a_renewal_is_contacted_once() -> None:
    _, renewal = renewal_in("discussion")

    with pytest.raises(StageOutOfOrder):
        renewal.contact("again", change(midnight(OPENS_ON) + 2 * DAY))
