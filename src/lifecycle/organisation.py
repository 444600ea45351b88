"""Organisations (brands): licence kind, datacenter, FedRAMP flag (R1, R13, R14, R23, R26, R28)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from lifecycle.aggregate import LifecycleAggregate
from lifecycle.change import Change
from lifecycle.datacenters import check_datacenter
from lifecycle.due import DueItem
from lifecycle.errors import AlreadySubscribed, FedrampNotEligible, InvalidState, Rejected
from lifecycle.personal import personal


class Licence(StrEnum):
    """The kind of licence an organisation holds.

    The members are the values the log stores: an event or a snapshot writes the plain
    string and reads back a ``str`` equal to the member, so compare, never ``is``.
    """

    FREE = "free"
    TRIAL = "trial"
    SELF_SERVICE = "self_service"
    ENTERPRISE = "enterprise"


FREE = Licence.FREE
TRIAL = Licence.TRIAL
SELF_SERVICE = Licence.SELF_SERVICE
ENTERPRISE = Licence.ENTERPRISE
LICENCES = tuple(Licence)


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
        self.active_contract_ids: list[UUID] = []
        self.account_team: dict[str, Any] | None = None
        self.account_executive_email: str | None = None
        self.personal_data_erased_at: datetime | None = None

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
        """The subscription expired: downgrade to free, keeping the organisation and its data.

        While the organisation holds an active contract it stays ``enterprise``; the
        expiry is still recorded, so that it does not fall back to self-service later.
        """
        if self.subscription_id != subscription_id:
            return
        self._downgraded_to_free(subscription_id=subscription_id, **change.stamp())

    @event("DowngradedToFree")
    def _downgraded_to_free(
        self, subscription_id: UUID, timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.licence = ENTERPRISE if self.holds_active_contract else FREE
        self.subscription_id = None

    # --- enterprise contracts (R40) ------------------------------------------------

    @property
    def holds_active_contract(self) -> bool:
        return bool(getattr(self, "active_contract_ids", []))

    def licence_without_contracts(self) -> Licence:
        """What the organisation falls back to once its last contract has ended."""
        return SELF_SERVICE if self.subscription_id is not None else FREE

    def attach_contract(self, contract_id: UUID, change: Change) -> None:
        """A new contract: the organisation is ``enterprise`` while it holds one."""
        if contract_id in self.contract_ids:
            return
        self._contract_attached(contract_id=contract_id, **change.stamp())

    @event("ContractAttached")
    def _contract_attached(
        self, contract_id: UUID, timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.contract_ids.append(contract_id)
        self.active_contract_ids = [*getattr(self, "active_contract_ids", []), contract_id]
        self.licence = ENTERPRISE
        self.trial_ends_at = None

    def follow_contract_end(self, contract_id: UUID, change: Change) -> None:
        """A contract ended: when it was the last, fall back to self-service (an active
        subscription) or free."""
        if contract_id not in getattr(self, "active_contract_ids", []):
            return
        remaining = [c for c in self.active_contract_ids if c != contract_id]
        licence = ENTERPRISE if remaining else self.licence_without_contracts()
        self._contract_ended(contract_id=contract_id, licence=licence, **change.stamp())

    @event("ContractEnded")
    def _contract_ended(
        self, contract_id: UUID, licence: str, timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.active_contract_ids = [c for c in self.active_contract_ids if c != contract_id]
        self.licence = licence

    # --- the account team (R51) ---------------------------------------------------------

    def set_account_team(
        self,
        *,
        success_manager: dict[str, str] | None,
        account_executive: dict[str, str],
        intake_form_url: str | None,
        brand_admin_contact: dict[str, str] | None,
        change: Change,
    ) -> None:
        """The XM Success Manager (or an intake form when there is none), the Account
        Executive, and the contact brand admins set for their users (R51)."""
        if success_manager is None and not intake_form_url:
            raise Rejected("without a success manager the account team needs an intake form")
        team = {
            "success_manager": personal(dict(success_manager)) if success_manager else None,
            "account_executive": personal(dict(account_executive)),
            "intake_form_url": intake_form_url or None,
            "brand_admin_contact": (
                personal(dict(brand_admin_contact)) if brand_admin_contact else None
            ),
        }
        if team != getattr(self, "account_team", None):
            self._account_team_set(team=team, **change.stamp())

    @event("AccountTeamSet")
    def _account_team_set(self, team: dict[str, Any], timestamp: datetime, meta: dict[str, Any]) -> None:
        self.account_team = dict(team)
        self.account_executive_email = team["account_executive"]["email"]

    # --- personal data ---------------------------------------------------------------

    @property
    def personal_data_erased(self) -> bool:
        return getattr(self, "personal_data_erased_at", None) is not None

    def record_personal_data_erased(self, change: Change) -> None:
        """The organisation's personal data was made unreadable for good (its data key
        deleted). Recorded once; the event itself holds no personal data, only who asked
        and when. The organisation, its subscriptions and contracts carry on."""
        if self.personal_data_erased:
            return
        self._personal_data_erased(**change.stamp())

    @event("PersonalDataErased")
    def _personal_data_erased(self, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.personal_data_erased_at = timestamp

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
