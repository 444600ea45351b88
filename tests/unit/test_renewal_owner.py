"""R43: a renewal that directly continues the current services is the Renewals
Manager's; one that changes services is the Account Executive's; the owner changes when
the scope changes."""

from __future__ import annotations

from uuid import uuid4

import pytest
from given import change, names
from given_contracts import DAY, NEW_PRICE, OPENS_ON, midnight, renewal_in

from lifecycle.errors import Rejected, ScopeNotAligned, StageOutOfOrder
from lifecycle.renewal import ACCOUNT_EXECUTIVE, RENEWALS_MANAGER

WHEN = midnight(OPENS_ON) + 2 * DAY


@pytest.mark.parametrize("kind", ["add_product", "add_users", "remove_product", "downgrade"])
def test_a_change_of_services_routes_the_renewal_to_the_account_executive(kind: str) -> None:
    _, renewal = renewal_in("discussion")

    renewal.align([{"kind": kind, "detail": "as agreed"}], change(WHEN))

    [aligned] = renewal.collect_events()
    assert names([aligned]) == ["ScopeAligned"]
    assert aligned.owner_role == renewal.owner_role == ACCOUNT_EXECUTIVE


def test_a_direct_continuation_is_owned_by_the_renewals_manager() -> None:
    _, renewal = renewal_in("discussion")

    assert renewal.owner_role == RENEWALS_MANAGER


def test_withdrawing_every_change_routes_the_renewal_back_to_the_renewals_manager() -> None:
    _, renewal = renewal_in("discussion")
    renewal.align([{"kind": "add_users", "detail": "50 seats"}], change(WHEN))
    renewal.collect_events()

    renewal.align([], change(WHEN + DAY))

    assert names(renewal.collect_events()) == ["ScopeAligned"]
    assert (renewal.owner_role, renewal.changes) == (RENEWALS_MANAGER, [])


def test_aligning_the_same_scope_again_records_nothing() -> None:
    _, renewal = renewal_in("discussion")
    renewal.align([{"kind": "downgrade", "detail": "to core"}], change(WHEN))
    renewal.collect_events()

    renewal.align([{"kind": "downgrade", "detail": "to core"}], change(WHEN + DAY))

    assert renewal.collect_events() == []


def test_the_scope_may_change_while_quotes_are_being_revised() -> None:
    _, renewal = renewal_in("proposal")

    renewal.align([{"kind": "add_product", "detail": "dx"}], change(WHEN))

    assert renewal.owner_role == ACCOUNT_EXECUTIVE


def test_an_unknown_kind_of_change_is_refused() -> None:
    _, renewal = renewal_in("discussion")

    with pytest.raises(Rejected):
        renewal.align([{"kind": "upgrade_everything", "detail": ""}], change(WHEN))


def test_the_scope_is_aligned_only_after_the_customer_was_contacted() -> None:
    _, renewal = renewal_in("assessment")

    with pytest.raises(StageOutOfOrder):
        renewal.align([{"kind": "add_users", "detail": "10"}], change(WHEN))


def test_the_scope_cannot_change_once_a_quote_is_confirmed() -> None:
    _, renewal = renewal_in("confirmed")

    with pytest.raises(StageOutOfOrder):
        renewal.align([{"kind": "add_users", "detail": "10"}], change(WHEN))


def test_a_quote_with_other_licences_needs_a_change_of_scope_first() -> None:
    made, renewal = renewal_in("discussion")

    with pytest.raises(ScopeNotAligned):
        renewal.issue_quote(
            uuid4(),
            licences=[*made.licences, "dx"],
            term_months=12,
            price=NEW_PRICE,
            change=change(WHEN),
        )


def test_a_quote_with_other_licences_is_issued_once_the_change_is_aligned() -> None:
    made, renewal = renewal_in("discussion")
    renewal.align([{"kind": "add_product", "detail": "dx"}], change(WHEN))

    renewal.issue_quote(
        uuid4(),
        licences=[*made.licences, "dx"],
        term_months=12,
        price=NEW_PRICE,
        change=change(WHEN),
    )

    assert names(renewal.collect_events()) == ["ScopeAligned", "Quoted"]
