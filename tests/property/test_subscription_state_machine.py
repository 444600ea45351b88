"""The Subscription aggregate alone, driven by random commands and the passing of time
(no I/O): R20-R25, R30 hold whatever the order of events."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from lifecycle.calendar import add_years
from lifecycle.cards import Card
from lifecycle.catalogue import Caps
from lifecycle.change import Change
from lifecycle.errors import CapExceeded, SubscriptionExpired
from lifecycle.money import Money
from lifecycle.payment import ChargeOutcome
from lifecycle.subscription import ACTIVE, EXPIRED, NON_RENEWING, PAST_DUE, Subscription

UTC = timezone.utc
MICROSECOND = timedelta(microseconds=1)

starts = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
) | st.sampled_from(
    [datetime(2024, 2, 29, 12, tzinfo=UTC), datetime(2025, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)]
)
caps = st.builds(
    Caps, responses=st.none() | st.integers(0, 50), seats=st.none() | st.integers(0, 5)
)
cards = st.builds(
    lambda n, month, year: Card(f"tok_{n:04d}", "visa", f"{n:04d}", month, year),
    st.integers(0, 9999),
    st.integers(1, 12),
    st.integers(2020, 2040),
)
steps = st.sampled_from(
    [timedelta(days=d) for d in (1, 2, 3, 4, 7, 30, 335, 365, 366)]
) | st.timedeltas(min_value=MICROSECOND, max_value=timedelta(days=800))


class SubscriptionLifecycle(RuleBasedStateMachine):
    """Commands at the current instant; ``advance`` performs due work in due order, the
    clock at each item's instant, as the scheduler does."""

    @initialize(start=starts, limits=caps, on_file=cards)
    def buy(self, start: datetime, limits: Caps, on_file: Card) -> None:
        self.ids = itertools.count(1)
        self.now = start
        self.sub = Subscription.start(
            uuid4(),
            organisation_id=uuid4(),
            buyer_account_id=uuid4(),
            plan="strategic_research",
            price=Money.of("1500.00", "USD"),
            caps=limits,
            card=on_file,
            billing_address={"country": "US"},
            payment={"payment_id": "ch_purchase", "term_number": 1, "status": "succeeded"},
            change=self.change(),
        )
        self.anchor = start
        self.log: list[Any] = []
        self.expired = False
        self.cancelled_before_renewal = False
        self.usage = {"responses": 0, "seats": 0}
        self.collect()

    # --- helpers ---------------------------------------------------------------------

    def change(self) -> Change:
        number = next(self.ids)
        return Change(self.now, "machine", None, f"command-{number}", f"correlation-{number}")

    def collect(self) -> None:
        """Take the new events, checking the order-dependent invariants as they come."""
        for e in self.sub.collect_events():
            name = type(e).__name__
            assert not self.expired, f"{name} recorded after the subscription expired"
            assert e.timestamp == self.now, "an event is stamped at its change's instant"
            if name == "RenewalResumed":
                self.cancelled_before_renewal = False
            if name in ("RenewalChargeBegun", "Renewed"):
                assert not self.cancelled_before_renewal, (
                    f"{name} after a cancellation recorded before the renewal instant"
                )
            if name == "Renewed":
                self.usage = {"responses": 0, "seats": 0}
            if name == "Expired":
                self.expired = True
            self.log.append(e)

    def charge(self, data: st.DataObject) -> None:
        request = self.sub.begin_renewal_charge(self.change())
        if request is None:
            return
        duplicate = self.sub.begin_renewal_charge(self.change())
        assert duplicate == request, "a duplicated job takes the same charge"
        self.collect()
        approved = self.sub.card is not None and data.draw(st.booleans(), label="approved")
        reason = None if approved else "card_declined"
        outcome = ChargeOutcome(approved, f"ch_{request.idempotency_key}", reason)
        self.sub.record_renewal_charge(request, outcome, self.change())
        self.collect()

    def run_due(self, until: datetime, data: st.DataObject) -> None:
        seen: set[tuple[str, datetime]] = set()
        while True:
            items = sorted(
                item
                for item in self.sub.due_work()
                if item.due_at <= until and (item.key, item.due_at) not in seen
            )
            if not items:
                break
            item = items[0]
            seen.add((item.key, item.due_at))
            self.now = max(self.now, item.due_at)
            if item.kind == "renewal_reminder":
                if self.sub.reminder_due(self.now):
                    self.sub.record_reminder_sent(self.change())
            elif item.kind == "renewal":
                self.charge(data)
            elif item.kind == "expiry":
                self.sub.expire_at_term_end(self.change())
            else:
                raise AssertionError(f"unknown due work {item}")
            self.collect()
        self.now = max(self.now, until)

    # --- commands -------------------------------------------------------------------------

    @rule()
    def cancel(self) -> None:
        if self.expired:
            with pytest.raises(SubscriptionExpired):
                self.sub.cancel_renewal(None, self.change())
            return
        before_renewal = (
            self.sub.status == ACTIVE
            and self.sub.pending_charge is None
            and self.now < self.sub.term_end
        )
        self.sub.cancel_renewal("changed my mind", self.change())
        self.collect()
        if before_renewal:
            self.cancelled_before_renewal = True

    @rule()
    def resume(self) -> None:
        if self.expired:
            with pytest.raises(SubscriptionExpired):
                self.sub.resume_renewal(self.change())
            return
        self.sub.resume_renewal(self.change())
        self.collect()
        assert self.sub.status in (ACTIVE, PAST_DUE)

    @rule(responses=st.integers(0, 30), seats=st.integers(0, 3))
    def use(self, responses: int, seats: int) -> None:
        if self.expired:
            with pytest.raises(SubscriptionExpired):
                self.sub.record_usage(responses, seats, self.change())
            return
        wanted = {"responses": responses, "seats": seats}
        over = any(
            wanted[name] and limit is not None and self.usage[name] + wanted[name] > limit
            for name, limit in self.sub.caps.items()
        )
        if over:
            with pytest.raises(CapExceeded):
                self.sub.record_usage(responses, seats, self.change())
        else:
            self.sub.record_usage(responses, seats, self.change())
            self.usage = {name: self.usage[name] + wanted[name] for name in wanted}
        self.collect()

    @rule(new_card=cards, data=st.data())
    def replace_card(self, new_card: Card, data: st.DataObject) -> None:
        if self.expired:
            with pytest.raises(SubscriptionExpired):
                self.sub.replace_card(new_card, self.change())
            return
        self.sub.replace_card(new_card, self.change())
        self.collect()
        if self.sub.status == PAST_DUE and self.sub.pending_charge is None:
            request = self.sub.begin_renewal_charge(self.change(), retry_now=True)
            assert request is not None, "a new card during past due is tried at once"
            assert request.token == new_card.token
            self.collect()
            self.charge(data)

    @rule()
    def remove_card(self) -> None:
        if self.expired:
            with pytest.raises(SubscriptionExpired):
                self.sub.remove_card(self.change())
            return
        self.sub.remove_card(self.change())
        self.collect()
        assert self.sub.card is None

    # --- time ----------------------------------------------------------------------------------

    @rule(step=steps, data=st.data())
    def advance(self, step: timedelta, data: st.DataObject) -> None:
        self.run_due(self.now + step, data)

    @rule()
    def advance_to_just_before_the_next_due_work(self) -> None:
        upcoming = [item.due_at for item in self.sub.due_work() if item.due_at > self.now]
        if upcoming:
            self.now = max(self.now, min(upcoming) - MICROSECOND)

    @rule(data=st.data())
    def advance_to_exactly_the_next_due_work(self, data: st.DataObject) -> None:
        upcoming = [item.due_at for item in self.sub.due_work()]
        if upcoming:
            self.run_due(max(self.now, min(upcoming)), data)

    @rule()
    def renewal_job_stops_after_beginning_the_charge(self) -> None:
        """A job that begins the charge and dies before the outcome is recorded."""
        if self.sub.renewal_due(self.now):
            self.sub.begin_renewal_charge(self.change())
            self.collect()

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def at_most_one_successful_payment_per_term(self) -> None:
        succeeded = Counter(
            p["term_number"] for p in self.sub.payments if p["status"] == "succeeded"
        )
        assert all(count == 1 for count in succeeded.values()), succeeded

    @invariant()
    def each_term_is_renewed_once_and_in_order(self) -> None:
        renewed = [e.term for e in self.log if type(e).__name__ == "Renewed"]
        assert renewed == list(range(2, 2 + len(renewed)))
        assert self.sub.term == 1 + len(renewed)

    @invariant()
    def each_charge_attempt_is_begun_once(self) -> None:
        begun = [(e.term, e.attempt) for e in self.log if type(e).__name__ == "RenewalChargeBegun"]
        assert len(begun) == len(set(begun)), begun

    @invariant()
    def expired_is_terminal(self) -> None:
        assert (self.sub.status == EXPIRED) == self.expired
        if self.expired:
            assert self.sub.due_work() == []

    @invariant()
    def cancellation_before_renewal_keeps_the_subscription_non_renewing(self) -> None:
        if self.cancelled_before_renewal:
            assert self.sub.status in (NON_RENEWING, EXPIRED)

    @invariant()
    def usage_never_exceeds_the_caps(self) -> None:
        assert self.sub.usage == self.usage
        for name, limit in self.sub.caps.items():
            assert limit is None or self.sub.usage[name] <= limit

    @invariant()
    def term_end_is_counted_from_the_original_anchor(self) -> None:
        assert self.sub.anchor == self.anchor
        assert self.sub.term_end == add_years(self.anchor, self.sub.term)
        assert self.sub.term_start == add_years(self.anchor, self.sub.term - 1)

    @invariant()
    def past_due_always_awaits_a_retry_or_its_begun_charge(self) -> None:
        if self.sub.status == PAST_DUE:
            assert self.sub.next_retry_at is not None or self.sub.pending_charge is not None


SubscriptionLifecycle.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None
)
TestSubscriptionLifecycle = SubscriptionLifecycle.TestCase
