"""Givens for the contract and renewal unit tests: contracts and renewals in a given
stage, their events so far already collected, so a test's "then" sees only the events
its "when" recorded."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from given import at, change

from lifecycle.contract import Contract
from lifecycle.contract_terms import Contact
from lifecycle.money import Money
from lifecycle.renewal import Renewal

START = date(2027, 1, 1)
"""A 12-month contract from here ends on 2027-12-31."""
END = date(2027, 12, 31)
OPENS_ON = date(2027, 9, 2)
"""END minus 120 days."""
CONTACT_BY = date(2027, 11, 1)
"""END minus 60 days."""
NOTICE_DAYS = 90
NOTICE_DEADLINE = date(2027, 10, 2)
"""END minus 90 days."""
LICENCES = ["cx", "ex"]
PRICE = Money.of("12000.00", "USD")
NEW_PRICE = Money.of("15000.00", "USD")

OWNER = Contact.of("Olive", "Owner", "olive@example.com")
BILLER = Contact.of("Bill", "Payer", "bill@example.com")
NEW_BILLER = Contact.of("Nora", "Ledger", "nora@example.com")

DAY = timedelta(days=1)


def midnight(day: date) -> datetime:
    """00:00Z of ``day``."""
    return at(day.year, day.month, day.day)


def contract(
    start: date = START,
    *,
    term_months: int = 12,
    notice_days: int = NOTICE_DAYS,
    licences: list[str] | None = None,
    organisation_id: UUID | None = None,
    number: int = 1001,
) -> Contract:
    """A contract created on 2026-12-01, in its first term."""
    made = Contract.create(
        uuid4(),
        organisation_id=organisation_id or uuid4(),
        number=number,
        start_date=start,
        term_months=term_months,
        licences=list(licences or LICENCES),
        notice_days=notice_days,
        price=PRICE,
        primary_contact=OWNER,
        billing_contact=BILLER,
        change=change(at(2026, 12, 1)),
    )
    made.collect_events()
    return made


def opened(of: Contract | None = None, when: datetime | None = None) -> tuple[Contract, Renewal]:
    """The contract's current term's renewal, opened when its window opens."""
    of = of or contract()
    renewal = of.open_renewal(uuid4(), change(when or of.window_opens_at()))
    of.collect_events()
    renewal.collect_events()
    return of, renewal


STEPS = ("assessment", "discussion", "proposal", "confirmed", "invoiced")


def renewal_in(stage: str, of: Contract | None = None, **quote: Any) -> tuple[Contract, Renewal]:
    """A renewal walked to ``stage`` one day after its window opened (before every
    deadline), continuing the current services unless ``quote`` names other licences
    (then an ``add_product`` change is aligned first). ``opted_out`` opts out from
    discussion."""
    of, renewal = opened(of)
    when = midnight(renewal.opens_on) + DAY
    reach = STEPS.index("discussion" if stage == "opted_out" else stage)
    if reach >= 1:
        renewal.contact("called the owner", change(when))
    if reach >= 2:
        licences = quote.get("licences", of.licences)
        if licences != of.licences:
            renewal.align([{"kind": "add_product", "detail": "more"}], change(when))
        renewal.issue_quote(
            uuid4(),
            licences=licences,
            term_months=quote.get("term_months", of.term_months),
            price=quote.get("price", NEW_PRICE),
            change=change(when),
        )
    if reach >= 3:
        latest = renewal.latest_quote
        assert latest is not None
        renewal.confirm(latest["quote_id"], change(when))
    if reach >= 4:
        renewal.issue_invoice(uuid4(), of.billing_contact, change(when))
    if stage == "opted_out":
        renewal.opt_out("budget", change(when))
    renewal.collect_events()
    return of, renewal


def renewed(of: Contract, *, term_months: int | None = None) -> Contract:
    """``of`` renewed through its current term's renewal for ``term_months`` (default:
    the same term), at the start of the day after its end date."""
    of, renewal = renewal_in("invoiced", of, term_months=term_months or of.term_months)
    when = renewal.term_end_at
    renewal.take_effect(change(when))
    quote = renewal.confirmed_quote
    assert quote is not None
    of.start_next_term(
        renewal.id,
        licences=quote["licences"],
        term_months=quote["term_months"],
        price=quote["price"],
        change=change(when),
    )
    of.collect_events()
    return of
