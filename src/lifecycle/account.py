"""User accounts (R2, R3)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from lifecycle.aggregate import LifecycleAggregate
from lifecycle.change import Change
from lifecycle.errors import (
    NotBrandAdmin,
    NotYourOrganisation,
    OperationalUpdatesRequired,
    OwnUserType,
    Rejected,
)
from lifecycle.personal import personal, personal_fields


class UserType(StrEnum):
    """A brand admin manages the organisation's users and settings; a standard user does not.

    The members are the values the log stores: an event or a snapshot writes the plain
    string and reads back a ``str`` equal to the member, so compare, never ``is``.
    """

    BRAND_ADMIN = "brand_admin"
    STANDARD = "standard"


BRAND_ADMIN = UserType.BRAND_ADMIN
STANDARD = UserType.STANDARD
USER_TYPES = tuple(UserType)
DETAIL_FIELDS = ("name", "email", "username", "user_type")
PERSONAL_DETAILS = ("name", "email", "username")

# Email preference categories (R52); operational updates cannot be unsubscribed.
PREFERENCE_CATEGORIES = (
    "personalised_learning",
    "news_and_updates",
    "customer_events",
    "operational_updates",
)
OPERATIONAL_UPDATES = "operational_updates"
CERTIFICATION_STATUSES = ("in_progress", "completed")


class Account(LifecycleAggregate):
    """A hub user, member of one organisation."""

    @classmethod
    def open(
        cls,
        account_id: UUID,
        *,
        organisation_id: UUID,
        name: str,
        email: str,
        username: str,
        user_type: str,
        datacenter: str,
        change: Change,
    ) -> Account:
        if user_type not in USER_TYPES:
            raise Rejected(f"unknown user type {user_type!r}")
        return cls(
            id=account_id,
            organisation_id=organisation_id,
            name=personal(name),
            email=personal(email),
            username=personal(username),
            user_type=user_type,
            datacenter=datacenter,
            **change.stamp(),
        )

    @event("Opened")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - the aggregate id, chosen by the application
        organisation_id: UUID,
        name: str,
        email: str,
        username: str,
        user_type: str,
        datacenter: str,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.organisation_id = organisation_id
        self.name = name
        self.email = email
        self.username = username
        self.user_type = user_type
        self.datacenter = datacenter
        self.email_preferences: dict[str, bool] = dict.fromkeys(PREFERENCE_CATEGORIES, True)
        self.community: dict[str, Any] | None = None
        self.certifications: list[dict[str, Any]] = []

    @property
    def is_brand_admin(self) -> bool:
        return self.user_type == BRAND_ADMIN

    def check_acts_in(self, organisation_id: UUID) -> None:
        """An account may only act inside its own organisation."""
        if self.organisation_id != organisation_id:
            raise NotYourOrganisation(
                f"account {self.id} belongs to another organisation than {organisation_id}"
            )

    def check_is_brand_admin_of(self, organisation_id: UUID) -> None:
        self.check_acts_in(organisation_id)
        if not self.is_brand_admin:
            raise NotBrandAdmin(f"account {self.id} is not a brand admin of {organisation_id}")

    def change_details(self, changes: dict[str, str], by: Account | None, change: Change) -> None:
        """Change name, email, username or user type (R3).

        ``by`` is the acting hub user, or ``None`` when the calling service acts
        on its own authority.
        """
        unknown = set(changes) - set(DETAIL_FIELDS)
        if unknown:
            raise Rejected(f"these fields cannot be changed here: {', '.join(sorted(unknown))}")
        if "user_type" in changes and changes["user_type"] not in USER_TYPES:
            raise Rejected(f"unknown user type {changes['user_type']!r}")
        if by is not None:
            by.check_is_brand_admin_of(self.organisation_id)
            if "user_type" in changes and by.id == self.id:
                raise OwnUserType("nobody changes their own user type")
        effective = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if effective:
            self._details_changed(
                changes=personal_fields(effective, PERSONAL_DETAILS), **change.stamp()
            )

    @event("DetailsChanged")
    def _details_changed(
        self, changes: dict[str, str], timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        for field, value in changes.items():
            setattr(self, field, value)

    # --- profile: email preferences and connected accounts (R52, R55) -----------------

    def change_email_preferences(self, preferences: dict[str, bool], change: Change) -> None:
        """Set the subscribed categories; operational updates stay on (R52)."""
        unknown = set(preferences) - set(PREFERENCE_CATEGORIES)
        if unknown:
            raise Rejected(f"unknown email categories: {', '.join(sorted(unknown))}")
        if preferences.get(OPERATIONAL_UPDATES, True) is False:
            raise OperationalUpdatesRequired(
                "operational updates are always sent and cannot be unsubscribed"
            )
        current = getattr(self, "email_preferences", dict.fromkeys(PREFERENCE_CATEGORIES, True))
        effective = {k: bool(v) for k, v in preferences.items() if current.get(k) != bool(v)}
        if effective:
            self._email_preferences_changed(preferences=effective, **change.stamp())

    @event("EmailPreferencesChanged")
    def _email_preferences_changed(
        self, preferences: dict[str, bool], timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.email_preferences = {**self.email_preferences, **preferences}

    def link_community_account(
        self, username: str, rank: str, created_on: str, topics: int, change: Change
    ) -> None:
        if topics < 0:
            raise Rejected("the number of topics is not negative")
        community = {
            "username": personal(username),
            "rank": rank,
            "created_on": created_on,
            "topics": topics,
        }
        if community != getattr(self, "community", None):
            self._community_account_linked(community=community, **change.stamp())

    @event("CommunityAccountLinked")
    def _community_account_linked(
        self, community: dict[str, Any], timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        self.community = dict(community)

    def record_certification(
        self,
        name: str,
        status: str,
        completed_on: str | None,
        certificate_url: str | None,
        change: Change,
    ) -> None:
        if status not in CERTIFICATION_STATUSES:
            raise Rejected(f"a certification is in_progress or completed, not {status!r}")
        if status == "completed" and not completed_on:
            raise Rejected("a completed certification needs its completion date")
        if status == "in_progress" and completed_on:
            raise Rejected("a certification in progress has no completion date")
        certification = {
            "name": name,
            "status": status,
            "completed_on": completed_on,
            "certificate_url": personal(certificate_url),
        }
        self._certification_recorded(certification=certification, **change.stamp())

    @event("CertificationRecorded")
    def _certification_recorded(
        self, certification: dict[str, Any], timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        """The latest record of a certification (by name) replaces earlier ones."""
        kept = [c for c in self.certifications if c["name"] != certification["name"]]
        self.certifications = [*kept, dict(certification)]
