"""User accounts (R2, R3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from lifecycle.aggregate import LifecycleAggregate
from lifecycle.change import Change
from lifecycle.errors import NotBrandAdmin, NotYourOrganisation, OwnUserType, Rejected

BRAND_ADMIN = "brand_admin"
STANDARD = "standard"
USER_TYPES = (BRAND_ADMIN, STANDARD)
DETAIL_FIELDS = ("name", "email", "username", "user_type")


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
            name=name,
            email=email,
            username=username,
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
            self._details_changed(changes=effective, **change.stamp())

    @event("DetailsChanged")
    def _details_changed(
        self, changes: dict[str, str], timestamp: datetime, meta: dict[str, Any]
    ) -> None:
        for field, value in changes.items():
            setattr(self, field, value)
