"""Organisations (brands): licence kind, datacenter, FedRAMP flag (R1, R13, R14, R23, R26, R28)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from lifecycle.aggregate import LifecycleAggregate
from lifecycle.change import Change
from lifecycle.datacenters import check_datacenter
from lifecycle.due import DueItem
from lifecycle.errors import AlreadySubscribed, FedrampNotEligible, InvalidState

FREE = "free"
TRIAL = "trial"
SELF_SERVICE = "self_service"
ENTERPRISE = "enterprise"
LICENCES = (FREE, TRIAL, SELF_SERVICE, ENTERPRISE)


class Organisation(LifecycleAggregate):
    """A brand: owns users, subscriptions and contracts."""

    @classmethod
    def register(
        cls,
        organisation_id: UUID,
        *,
        brand_id: str,
        datacenter: str,
        fedramp: bool,
        licence: str,
        trial_ends_at: datetime | None,
        change: Change,
    ) -> Organisation:
        check_datacenter(datacenter)
        if licence not in (FREE, TRIAL, SELF_SERVICE):
            raise InvalidState(f"an organisation cannot start with licence {licence!r}")
        if (licence == TRIAL) != (trial_ends_at is not None):
            raise InvalidState("a trial organisation needs its trial's end, and only it")
        return cls(
            id=organisation_id,
            brand_id=brand_id,
            datacenter=datacenter,
            fedramp=fedramp,
            licence=licence,
            trial_ends_at=trial_ends_at,
            **change.stamp(),
        )

    @event("Registered")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - the aggregate id, chosen by the application
        brand_id: str,
        datacenter: str,
        fedramp: bool,
        licence: str,
        trial_ends_at: datetime | None,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.brand_id = brand_id
        self.datacenter = datacenter
        self.fedramp = fedramp
        self.licence = licence
        self.trial_ends_at = trial_ends_at
        self.subscription_id: UUID | None = None
        self.subscription_ids: list[UUID] = []
        self.contract_ids: list[UUID] = []

    # --- buying (R14, R28) -------------------------------------------------

    def check_may_buy_self_service(self) -> None:
        if self.fedramp:
            raise FedrampNotEligible(
                "self-service licences cannot be created in the FedRAMP environment; "
                "FedRAMP organisations move to a custom plan"
            )
        if self.licence in (SELF_SERVICE, ENTERPRISE):
            raise AlreadySubscribed(
                f"organisation {self.id} holds an active {self.licence} licence; "
                "it may buy again once that has expired"
            )

    def grant_self_service(self, subscription_id: UUID, change: Change) -> None:
        self.check_may_buy_self_service()
        self._self_service_granted(subscription_id=subscription_id, **change.stamp())

    @event("SelfServiceLicenceGranted")
    def _self_service_granted(
        self, subscription_id: UUID, timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.licence = SELF_SERVICE
        self.subscription_id = subscription_id
        self.subscription_ids.append(subscription_id)
        self.trial_ends_at = None

    # --- downgrade (R23, R24) ------------------------------------------------

    def follow_subscription_expiry(self, subscription_id: UUID, change: Change) -> None:
        """The subscription expired: downgrade to free, keeping the organisation and its data."""
        if self.subscription_id != subscription_id or self.licence != SELF_SERVICE:
            return
        self._downgraded_to_free(subscription_id=subscription_id, **change.stamp())

    @event("DowngradedToFree")
    def _downgraded_to_free(
        self, subscription_id: UUID, timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.licence = ENTERPRISE if self.contract_ids else FREE
        self.subscription_id = None

    # --- trial (R26) ------------------------------------------------------------

    def trial_expiry_due(self, at: datetime) -> bool:
        return self.licence == TRIAL and self.trial_ends_at is not None and at >= self.trial_ends_at

    def end_trial(self, change: Change) -> None:
        if not self.trial_expiry_due(change.at):
            return
        self._trial_ended(**change.stamp())

    @event("TrialEnded")
    def _trial_ended(self, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.licence = FREE
        self.trial_ends_at = None

    def due_work(self) -> list[DueItem]:
        if self.licence == TRIAL and self.trial_ends_at is not None:
            return [DueItem(self.trial_ends_at, "trial_expiry", self.id, f"trial_expiry:{self.id}")]
        return []
