"""R41: a primary and a billing contact, each with first name, last name and email; each
shows when it was last updated, reset (none) at each renewal; changes apply at once."""

from __future__ import annotations

import pytest
from given import at, change, names
from given_contracts import BILLER, NEW_BILLER, OWNER, contract, renewal_in, renewed

from lifecycle.contract import BILLING, PRIMARY
from lifecycle.contract_terms import Contact
from lifecycle.errors import ContractEnded, Rejected

WHEN = at(2027, 3, 1, 14, 30)


@pytest.mark.parametrize(
    "first_name, last_name, email",
    [("", "Ledger", "nora@example.com"), ("Nora", " ", "nora@example.com"), ("Nora", "Ledger", "")],
)
def test_a_contact_without_first_name_last_name_or_email_is_refused(
    first_name: str, last_name: str, email: str
) -> None:
    with pytest.raises(Rejected):
        Contact.of(first_name, last_name, email)


def test_a_contract_has_its_primary_and_billing_contact() -> None:
    made = contract()

    assert (made.primary_contact, made.billing_contact) == (OWNER, BILLER)


def test_the_billing_contact_may_be_the_primary_contact() -> None:
    made = contract()

    made.change_contact(BILLING, OWNER, change(WHEN))

    assert made.billing_contact == made.primary_contact == OWNER


def test_a_new_contract_shows_its_contacts_unchanged() -> None:
    made = contract()

    assert (made.last_updated(PRIMARY), made.last_updated(BILLING)) == (None, None)


def test_changing_a_contact_records_contact_changed_for_its_role() -> None:
    made = contract()

    made.change_contact(BILLING, NEW_BILLER, change(WHEN))

    [changed] = made.collect_events()
    assert names([changed]) == ["ContactChanged"]
    assert (changed.role, changed.contact) == (BILLING, NEW_BILLER)


def test_a_changed_contact_shows_when_it_was_last_updated() -> None:
    made = contract()

    made.change_contact(PRIMARY, NEW_BILLER, change(WHEN))

    assert (made.last_updated(PRIMARY), made.last_updated(BILLING)) == (WHEN, None)


def test_saving_the_same_contact_again_records_nothing() -> None:
    made = contract()

    made.change_contact(PRIMARY, OWNER, change(WHEN))

    assert made.collect_events() == []


def test_an_unknown_contact_role_is_refused() -> None:
    with pytest.raises(Rejected):
        contract().change_contact("technical", NEW_BILLER, change(WHEN))


def test_last_updated_is_reset_when_the_next_term_starts() -> None:
    made = contract()
    made.change_contact(BILLING, NEW_BILLER, change(WHEN))
    made.collect_events()

    made = renewed(made)

    assert (made.billing_contact, made.last_updated(BILLING)) == (NEW_BILLER, None)


def test_the_contacts_of_an_ended_contract_cannot_change() -> None:
    made, renewal = renewal_in("opted_out")
    made.end(renewal.id, change(renewal.term_end_at))

    with pytest.raises(ContractEnded):
        made.change_contact(BILLING, NEW_BILLER, change(at(2028, 2, 1)))
