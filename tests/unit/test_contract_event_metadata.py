"""R60 for contracts and renewals: every event records the change's instant, calling
service, acting user, command id and correlation id."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

from given import at
from given_contracts import BILLER, NEW_BILLER, NEW_PRICE, OWNER, PRICE

from lifecycle.change import Change
from lifecycle.contract import BILLING, Contract, ContractNumber
from lifecycle.organisation import Organisation


_steps = iter(range(1, 1000))


def _stamp(when: Any) -> Change:
    """A change at ``when`` with its own command and correlation ids."""
    step = next(_steps)
    actor = "user:5b0c2f4e-0000-4000-8000-000000000042"
    return Change(when, "sales-desk", actor, f"cmd-{step}", f"corr-{step}")


def _every_event_of_a_renewed_and_an_opted_out_contract() -> list[tuple[Any, Change]]:
    recorded: list[tuple[Any, Change]] = []

    def keep(aggregate: Any, change: Change) -> None:
        recorded.extend((event, change) for event in aggregate.collect_events())

    created = _stamp(at(2026, 12, 1, 10))
    made = Contract.create(
        uuid4(),
        organisation_id=uuid4(),
        number=1,
        start_date=date(2027, 1, 1),
        term_months=12,
        licences=["cx"],
        notice_days=30,
        price=PRICE,
        primary_contact=OWNER,
        billing_contact=BILLER,
        change=created,
    )
    keep(made, created)
    claim = ContractNumber.claim(uuid4(), number=1, contract_id=made.id, change=created)
    keep(claim, created)
    organisation = Organisation.register(
        uuid4(),
        brand_id="b",
        datacenter="us-1",
        fedramp=False,
        licence="free",
        trial_ends_at=None,
        change=created,
    )
    organisation.collect_events()
    organisation.attach_contract(made.id, created)
    keep(organisation, created)

    steps = iter(at(2027, 9, day, 8) for day in range(2, 30))
    window = _stamp(next(steps))
    renewal = made.open_renewal(uuid4(), window)
    keep(made, window)
    keep(renewal, window)
    for act in (
        lambda c: renewal.contact("called", c),
        lambda c: renewal.align([{"kind": "add_users", "detail": "5"}], c),
        lambda c: renewal.issue_quote(
            uuid4(), licences=["cx"], term_months=12, price=NEW_PRICE, change=c
        ),
        lambda c: renewal.confirm(renewal.quotes[-1]["quote_id"], c),
        lambda c: made.change_contact(BILLING, NEW_BILLER, c),
        lambda c: renewal.issue_invoice(uuid4(), made.billing_contact, c),
    ):
        change = _stamp(next(steps))
        act(change)
        keep(renewal, change)
        keep(made, change)
    ends = _stamp(renewal.term_end_at)
    renewal.take_effect(ends)
    made.start_next_term(renewal.id, licences=["cx"], term_months=12, price=NEW_PRICE, change=ends)
    keep(renewal, ends)
    keep(made, ends)

    second_window = _stamp(made.window_opens_at())
    second = made.open_renewal(uuid4(), second_window)
    keep(second, second_window)
    keep(made, second_window)
    overdue = _stamp(second.overdue_from)
    second.escalate(overdue)
    keep(second, overdue)
    opted = _stamp(second.overdue_from)
    second.opt_out("budget", opted)
    keep(second, opted)
    ended = _stamp(second.term_end_at)
    second.take_effect(ended)
    made.end(second.id, ended)
    organisation.follow_contract_end(made.id, ended)
    for aggregate in (second, made, organisation):
        keep(aggregate, ended)
    return recorded


def test_every_contract_and_renewal_event_carries_the_changes_metadata_and_instant() -> None:
    recorded = _every_event_of_a_renewed_and_an_opted_out_contract()

    assert {type(event).__name__ for event, _ in recorded} >= {
        "Created",
        "Claimed",
        "ContractAttached",
        "RenewalWindowOpened",
        "Opened",
        "CustomerContacted",
        "ScopeAligned",
        "Quoted",
        "QuoteConfirmed",
        "ContactChanged",
        "Invoiced",
        "Renewed",
        "NextTermStarted",
        "Escalated",
        "OptedOut",
        "OptOutTookEffect",
        "Ended",
        "ContractEnded",
    }
    assert [(event.meta, event.timestamp) for event, _ in recorded] == [
        (change.meta(), change.at) for _, change in recorded
    ]
