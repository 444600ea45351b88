"""Self-service purchases, for existing accounts and new buyers (R11-R16)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from lifecycle.aggregate import LifecycleAggregate
from lifecycle.cards import Card
from lifecycle.change import Change
from lifecycle.datacenters import check_datacenter
from lifecycle.errors import (
    AcceptanceRequired,
    DatacenterFixed,
    PurchaseCompleted,
    PurchaseNotVerified,
    VerificationFailed,
)
from lifecycle.money import Money
from lifecycle.personal import personal
from lifecycle.payment import PURCHASE, ChargeOutcome, ChargeRequest, payment_record


class PurchaseStatus(StrEnum):
    """A new buyer's purchase awaits the e-mail verification, then is open for payment
    (an upgrade is open at once), until it is completed.

    The members are the values the log stores: an event or a snapshot writes the plain
    string and reads back a ``str`` equal to the member, so compare, never ``is``.
    """

    AWAITING_VERIFICATION = "awaiting_verification"
    OPEN = "open"
    COMPLETED = "completed"


AWAITING_VERIFICATION = PurchaseStatus.AWAITING_VERIFICATION
OPEN = PurchaseStatus.OPEN
COMPLETED = PurchaseStatus.COMPLETED


class Purchase(LifecycleAggregate):
    """A purchase of a self-service plan: nothing is created before payment succeeds."""

    @classmethod
    def start(
        cls,
        purchase_id: UUID,
        *,
        plan: str,
        price: Money,
        account_id: UUID | None,
        organisation_id: UUID | None,
        email: str,
        recommended_datacenter: str,
        datacenter: str,
        verification_digest: str | None,
        change: Change,
    ) -> Purchase:
        check_datacenter(datacenter)
        new_buyer = account_id is None
        if new_buyer and verification_digest is None:
            raise ValueError("a new buyer's purchase needs a verification token")
        return cls(
            id=purchase_id,
            plan=plan,
            price=price,
            account_id=account_id,
            organisation_id=organisation_id,
            email=personal(email),
            recommended_datacenter=recommended_datacenter,
            datacenter=datacenter,
            verification_digest=verification_digest,
            **change.stamp(),
        )

    @event("Started")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - the aggregate id, chosen by the application
        plan: str,
        price: Money,
        account_id: UUID | None,
        organisation_id: UUID | None,
        email: str,
        recommended_datacenter: str,
        datacenter: str,
        verification_digest: str | None,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.plan = plan
        self.price = price
        self.account_id = account_id
        self.organisation_id = organisation_id
        self.email = email
        self.recommended_datacenter = recommended_datacenter
        self.datacenter = datacenter
        self.verification_digest = verification_digest
        self.status: str = AWAITING_VERIFICATION if verification_digest else OPEN
        self.declined_attempts = 0
        self.subscription_id: UUID | None = None
        self.brand_id: str | None = None

    @property
    def is_new_buyer(self) -> bool:
        """A buyer without an account (R12); an upgrade names its account (R11)."""
        return self.verification_digest is not None

    # --- verification (R12) -------------------------------------------------------

    def verify(self, digest: str, change: Change) -> None:
        if self.status == COMPLETED:
            raise PurchaseCompleted(f"purchase {self.id} is completed")
        if self.status == OPEN:
            if self.is_new_buyer and digest != self.verification_digest:
                raise VerificationFailed("the verification token does not match")
            return
        if digest != self.verification_digest:
            raise VerificationFailed("the verification token does not match")
        self._verified(**change.stamp())

    @event("EmailVerified")
    def _verified(self, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.status = OPEN

    # --- datacenter (R15) ---------------------------------------------------------

    def choose_datacenter(self, datacenter: str, change: Change) -> None:
        if self.status == COMPLETED:
            raise PurchaseCompleted("the datacenter is fixed once the purchase is completed")
        if not self.is_new_buyer:
            raise DatacenterFixed(
                "an upgrade keeps its organisation's datacenter; it cannot be changed"
            )
        check_datacenter(datacenter)
        if datacenter != self.datacenter:
            self._datacenter_chosen(datacenter=datacenter, **change.stamp())

    @event("DatacenterChosen")
    def _datacenter_chosen(self, datacenter: str, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.datacenter = datacenter

    # --- completion (R11, R12, R16) -----------------------------------------------

    def charge_for_completion(
        self,
        *,
        card_token: str,
        accept_terms: bool,
        accept_auto_renewal: bool,
        accept_privacy: bool,
    ) -> ChargeRequest:
        """The charge that would complete this purchase, once every rule allows it."""
        if self.status == COMPLETED:
            raise PurchaseCompleted(f"purchase {self.id} is already completed")
        if self.status == AWAITING_VERIFICATION:
            raise PurchaseNotVerified("verify the buyer's email address before completing")
        missing = [
            name
            for name, given in (
                ("accept_terms", accept_terms),
                ("accept_auto_renewal", accept_auto_renewal),
                ("accept_privacy", accept_privacy or not self.is_new_buyer),
            )
            if not given
        ]
        if missing:
            raise AcceptanceRequired(
                f"these acceptances are required: {', '.join(missing)}", missing=missing
            )
        return ChargeRequest(
            owner_id=self.id,
            purpose=PURCHASE,
            term=1,
            attempt=self.declined_attempts + 1,
            amount=self.price,
            token=card_token,
        )

    def record_declined(
        self, request: ChargeRequest, outcome: ChargeOutcome, card: Card | None, change: Change
    ) -> None:
        """A declined card leaves the purchase open for another attempt (R16)."""
        if outcome.approved or request.attempt != self.declined_attempts + 1:
            raise ValueError("only the current attempt's declined charge is recorded")
        self._payment_declined(
            payment=payment_record(request, outcome, card.last4 if card else None, change.at),
            **change.stamp(),
        )

    @event("PaymentDeclined")
    def _payment_declined(
        self, payment: dict[str, Any], timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.declined_attempts += 1

    def complete(
        self,
        *,
        subscription_id: UUID,
        account_id: UUID,
        organisation_id: UUID,
        brand_id: str,
        change: Change,
    ) -> None:
        if self.status == AWAITING_VERIFICATION:
            raise PurchaseNotVerified("verify the buyer's email address before completing")
        if self.status != OPEN:
            raise PurchaseCompleted(f"purchase {self.id} is {self.status}")
        self._completed(
            subscription_id=subscription_id,
            account_id=account_id,
            organisation_id=organisation_id,
            brand_id=brand_id,
            **change.stamp(),
        )

    @event("Completed")
    def _completed(
        self,
        subscription_id: UUID,
        account_id: UUID,
        organisation_id: UUID,
        brand_id: str,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.status = COMPLETED
        self.subscription_id = subscription_id
        self.account_id = account_id
        self.organisation_id = organisation_id
        self.brand_id = brand_id
