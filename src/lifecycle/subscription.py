"""Self-service subscriptions: annual terms, renewal, cancellation, past due, usage (R17, R20-R31)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from lifecycle.aggregate import LifecycleAggregate
from lifecycle.calendar import subscription_term
from lifecycle.cards import Card
from lifecycle.catalogue import Caps
from lifecycle.change import Change
from lifecycle.due import DueItem
from lifecycle.errors import CapExceeded, InvalidState, Rejected, SubscriptionExpired
from lifecycle.money import Money
from lifecycle.payment import RENEWAL, ChargeOutcome, ChargeRequest, payment_record
from lifecycle.personal import personal


class SubscriptionStatus(StrEnum):
    """Where a subscription is in its life: renewing, running out its term, waiting for
    a failed renewal charge to be retried, or over.

    The members are the values the log stores: an event or a snapshot writes the plain
    string and reads back a ``str`` equal to the member, so compare, never ``is``.
    """

    ACTIVE = "active"
    NON_RENEWING = "non_renewing"
    PAST_DUE = "past_due"
    EXPIRED = "expired"


ACTIVE = SubscriptionStatus.ACTIVE
NON_RENEWING = SubscriptionStatus.NON_RENEWING
PAST_DUE = SubscriptionStatus.PAST_DUE
EXPIRED = SubscriptionStatus.EXPIRED

RETRY_DELAYS = (timedelta(days=1), timedelta(days=3), timedelta(days=7))
"""A failed renewal charge is retried 1, 3 and 7 days after the first failure (R24)."""

REMINDER_LEAD = timedelta(days=30)
"""The renewal reminder goes out 30 days before the renewal charge (R27)."""


class Subscription(LifecycleAggregate):
    """A self-service licence billed annually in advance, anchored at the purchase instant."""

    @classmethod
    def start(
        cls,
        subscription_id: UUID,
        *,
        organisation_id: UUID,
        buyer_account_id: UUID,
        plan: str,
        price: Money,
        caps: Caps,
        card: Card,
        billing_address: dict[str, str],
        payment: dict[str, Any],
        change: Change,
    ) -> Subscription:
        return cls(
            id=subscription_id,
            organisation_id=organisation_id,
            buyer_account_id=buyer_account_id,
            plan=plan,
            price=price,
            caps=caps.as_dict(),
            card=card,
            billing_address=personal(dict(billing_address)),
            payment=payment,
            **change.stamp(),
        )

    @event("Started")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - the aggregate id, chosen by the application
        organisation_id: UUID,
        buyer_account_id: UUID,
        plan: str,
        price: Money,
        caps: dict[str, int | None],
        card: Card,
        billing_address: dict[str, str],
        payment: dict[str, Any],
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.organisation_id = organisation_id
        self.billing_address = dict(billing_address)
        self.buyer_account_id = buyer_account_id
        self.plan = plan
        self.price = price
        self.next_price: Money | None = None
        self.caps = dict(caps)
        self.usage = {"responses": 0, "seats": 0}
        self.card: Card | None = card
        self.anchor = timestamp
        self.term = 1
        self.status: str = ACTIVE
        self.payments: list[dict[str, Any]] = [payment]
        self.pending_charge: dict[str, Any] | None = None
        self.failed_attempts = 0
        self.first_failure_at: datetime | None = None
        self.next_retry_at: datetime | None = None
        self.reminded_term = 0
        self.expired_at: datetime | None = None

    # --- terms (R20) ------------------------------------------------------------------

    @property
    def term_start(self) -> datetime:
        return subscription_term(self.anchor, self.term)[0]

    @property
    def term_end(self) -> datetime:
        """The renewal (or expiry) instant: exclusive end of the current term."""
        return subscription_term(self.anchor, self.term)[1]

    @property
    def auto_renew(self) -> bool:
        return self.status in (ACTIVE, PAST_DUE)

    @property
    def cap_reached(self) -> bool:
        return any(
            limit is not None and self.usage[name] >= limit for name, limit in self.caps.items()
        )

    def _check_not_expired(self, at: datetime) -> None:
        """Expired, or non-renewing past its term's end (expiry is then only awaiting its job)."""
        if self.status == EXPIRED:
            raise SubscriptionExpired(
                f"subscription {self.id} expired at "
                f"{self.expired_at.isoformat() if self.expired_at else 'its term end'}"
            )
        if self.status == NON_RENEWING and at >= self.term_end:
            raise SubscriptionExpired(
                f"subscription {self.id} expired at {self.term_end.isoformat()}"
            )

    # --- cancel and resume renewal (R22, R25) --------------------------------------------

    def cancel_renewal(self, reason: str | None, change: Change) -> None:
        """Stop the next renewal and its charge; access continues to the term's end.

        During ``past_due`` there is no term left to run: the retries stop and the
        subscription expires at once, unless a charge is in flight; its outcome is
        then recorded first (an approved charge renews a last, non-renewing term).
        """
        self._check_not_expired(change.at)
        if self.status == NON_RENEWING:
            return
        expire_now = self.status == PAST_DUE and self.pending_charge is None
        self._renewal_cancelled(reason=personal(reason), **change.stamp())
        if expire_now:
            self._expired(reason="renewal_cancelled_while_past_due", **change.stamp())

    @event("RenewalCancelled")
    def _renewal_cancelled(
        self, reason: str | None, timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.status = NON_RENEWING
        self.next_retry_at = None

    def resume_renewal(self, change: Change) -> None:
        self._check_not_expired(change.at)
        if self.status != NON_RENEWING:
            return
        self._renewal_resumed(**change.stamp())

    @event("RenewalResumed")
    def _renewal_resumed(self, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.status = ACTIVE

    # --- card on file (R17) ------------------------------------------------------------------

    def replace_card(self, card: Card, change: Change) -> None:
        self._check_not_expired(change.at)
        self._card_replaced(card=card, **change.stamp())

    @event("CardReplaced")
    def _card_replaced(self, card: Card, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.card = card

    def remove_card(self, change: Change) -> None:
        self._check_not_expired(change.at)
        if self.card is None:
            return
        self._card_removed(**change.stamp())

    @event("CardRemoved")
    def _card_removed(self, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.card = None

    # --- usage and caps (R30, R31) ------------------------------------------------------

    def record_usage(self, responses: int, seats: int, change: Change) -> None:
        self._check_not_expired(change.at)
        if responses < 0 or seats < 0:
            raise Rejected("usage is counted in non-negative increments")
        increments = {"responses": responses, "seats": seats}
        for name, increment in increments.items():
            limit = self.caps.get(name)
            if increment and limit is not None and self.usage[name] + increment > limit:
                raise CapExceeded(
                    f"{increment} more {name} would exceed the plan's cap of {limit} "
                    f"({self.usage[name]} used this term)",
                    cap=name,
                    limit=limit,
                    usage=self.usage[name],
                )
        if responses or seats:
            self._usage_recorded(responses=responses, seats=seats, **change.stamp())

    @event("UsageRecorded")
    def _usage_recorded(
        self, responses: int, seats: int, timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.usage = {
            "responses": self.usage["responses"] + responses,
            "seats": self.usage["seats"] + seats,
        }

    def apply_licence_change(
        self,
        *,
        licence_request_id: UUID,
        caps: dict[str, int | None] | None,
        plan: str | None,
        next_price: Money | None,
        change: Change,
    ) -> None:
        """A fulfilled licence request: new caps and plan at once, a new price from the next renewal."""
        self._check_not_expired(change.at)
        new_caps = {**self.caps, **(caps or {})}
        self._licence_changed(
            licence_request_id=licence_request_id,
            caps=new_caps,
            plan=plan or self.plan,
            next_price=next_price,
            **change.stamp(),
        )

    @event("LicenceChanged")
    def _licence_changed(
        self,
        licence_request_id: UUID,
        caps: dict[str, int | None],
        plan: str,
        next_price: Money | None,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.caps = dict(caps)
        self.plan = plan
        if next_price is not None:
            self.next_price = next_price

    # --- renewal reminder (R27) -------------------------------------------------------------

    @property
    def reminder_at(self) -> datetime:
        return self.term_end - REMINDER_LEAD

    def reminder_due(self, at: datetime) -> bool:
        return (
            self.status == ACTIVE
            and self.reminded_term < self.term
            and self.reminder_at <= at < self.term_end
        )

    def card_expires_before_renewal(self) -> bool:
        return self.card is not None and self.card.expires_before(self.term_end)

    def record_reminder_sent(self, change: Change) -> None:
        if not self.reminder_due(change.at):
            raise InvalidState("no renewal reminder is due")
        self._reminder_sent(
            term=self.term,
            renewal_at=self.term_end,
            amount=self.renewal_price,
            card_expiring=self.card_expires_before_renewal(),
            **change.stamp(),
        )

    @event("RenewalReminderSent")
    def _reminder_sent(
        self,
        term: int,
        renewal_at: datetime,
        amount: Money,
        card_expiring: bool,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.reminded_term = term

    # --- renewal and retries (R21, R24) ----------------------------------------------

    @property
    def renewal_price(self) -> Money:
        return self.next_price or self.price

    def renewal_due(self, at: datetime) -> bool:
        if self.pending_charge is not None:
            return True
        if self.status == ACTIVE:
            return at >= self.term_end
        if self.status == PAST_DUE:
            return self.next_retry_at is not None and at >= self.next_retry_at
        return False

    def begin_renewal_charge(self, change: Change, *, retry_now: bool = False) -> ChargeRequest | None:
        """Record the intent to charge for the next term and return the charge to take.

        The intent is an event, so a cancellation that was recorded first wins (R25)
        and a retried or duplicated job finds the charge already begun and takes the
        same charge again (same idempotency key) rather than a new one (R21).
        ``retry_now`` retries a past-due charge at once (a new card was given).
        """
        pending = self.pending_charge
        if pending is None:
            due = self.renewal_due(change.at) or (retry_now and self.status == PAST_DUE)
            if not due:
                return None
            pending = {
                "term": self.term + 1,
                "attempt": self.failed_attempts + 1,
                "amount": self.renewal_price,
            }
            self._renewal_charge_begun(
                term=pending["term"],
                attempt=pending["attempt"],
                amount=pending["amount"],
                **change.stamp(),
            )
        return self._request_for(pending)

    @event("RenewalChargeBegun")
    def _renewal_charge_begun(
        self, term: int, attempt: int, amount: Money, timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.pending_charge = {"term": term, "attempt": attempt, "amount": amount}

    def _request_for(self, pending: dict[str, Any]) -> ChargeRequest:
        """The charge of the begun renewal ``pending``, with the card on file now."""
        return ChargeRequest(
            owner_id=self.id,
            purpose=RENEWAL,
            term=pending["term"],
            attempt=pending["attempt"],
            amount=pending["amount"],
            token=self.card.token if self.card else None,
        )

    def record_renewal_charge(
        self, request: ChargeRequest, outcome: ChargeOutcome, change: Change
    ) -> None:
        """The outcome of the begun charge: a new term, or past due, or expiry after the last retry."""
        pending = self.pending_charge
        if pending is None or (request.term, request.attempt) != (pending["term"], pending["attempt"]):
            raise InvalidState("this charge is not the one the subscription is waiting for")
        payment = payment_record(
            request, outcome, self.card.last4 if self.card else None, change.at
        )
        if outcome.approved:
            self._renewed(term=request.term, price=request.amount, payment=payment, **change.stamp())
            return
        first_failure = self.first_failure_at or change.at
        last_attempt = request.attempt > len(RETRY_DELAYS)
        self._renewal_charge_failed(
            term=request.term,
            attempt=request.attempt,
            payment=payment,
            first_failure_at=first_failure,
            next_retry_at=None if last_attempt else first_failure + RETRY_DELAYS[request.attempt - 1],
            **change.stamp(),
        )
        if last_attempt:
            self._expired(reason="renewal_payment_failed", **change.stamp())

    @event("Renewed")
    def _renewed(
        self,
        term: int,
        price: Money,
        payment: dict[str, Any],
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.term = term
        self.price = price
        self.next_price = None
        self.usage = {"responses": 0, "seats": 0}
        self.payments.append(payment)
        self.pending_charge = None
        self.failed_attempts = 0
        self.first_failure_at = None
        self.next_retry_at = None
        if self.status == PAST_DUE:
            self.status = ACTIVE

    @event("RenewalChargeFailed")
    def _renewal_charge_failed(
        self,
        term: int,
        attempt: int,
        payment: dict[str, Any],
        first_failure_at: datetime,
        next_retry_at: datetime | None,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.payments.append(payment)
        self.pending_charge = None
        self.failed_attempts = attempt
        self.first_failure_at = first_failure_at
        self.next_retry_at = next_retry_at
        if self.status == ACTIVE:
            self.status = PAST_DUE

    # --- expiry (R23) ---------------------------------------------------------------

    def expiry_due(self, at: datetime) -> bool:
        return self.status == NON_RENEWING and self.pending_charge is None and at >= self.term_end

    def expire_at_term_end(self, change: Change) -> None:
        if not self.expiry_due(change.at):
            return
        self._expired(reason="not_renewed", **change.stamp())

    @event("Expired")
    def _expired(self, reason: str, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.status = EXPIRED
        self.expired_at = timestamp
        self.next_retry_at = None
        self.pending_charge = None

    # --- time-driven work -----------------------------------------------------------------

    def due_work(self) -> list[DueItem]:
        """What this subscription waits for, and when."""
        items: list[DueItem] = []
        if self.pending_charge is not None:
            term, attempt = self.pending_charge["term"], self.pending_charge["attempt"]
            items.append(
                DueItem(self.modified_on, "renewal", self.id, f"renewal:{self.id}:{term}:{attempt}")
            )
        elif self.status == ACTIVE:
            if self.reminded_term < self.term:
                items.append(
                    DueItem(
                        self.reminder_at,
                        "renewal_reminder",
                        self.id,
                        f"renewal_reminder:{self.id}:{self.term}",
                    )
                )
            items.append(
                DueItem(self.term_end, "renewal", self.id, f"renewal:{self.id}:{self.term + 1}:1")
            )
        elif self.status == PAST_DUE and self.next_retry_at is not None:
            attempt = self.failed_attempts + 1
            items.append(
                DueItem(
                    self.next_retry_at,
                    "renewal",
                    self.id,
                    f"renewal:{self.id}:{self.term + 1}:{attempt}",
                )
            )
        elif self.status == NON_RENEWING:
            items.append(DueItem(self.term_end, "expiry", self.id, f"expiry:{self.id}:{self.term}"))
        return items
