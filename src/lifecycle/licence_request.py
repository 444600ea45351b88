"""Licence requests: how a self-service buyer asks to grow a licence (R31)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from lifecycle.aggregate import LifecycleAggregate
from lifecycle.change import Change
from lifecycle.errors import InvalidState, Rejected
from lifecycle.money import Money
from lifecycle.personal import personal

KINDS = ("add_seats", "more_responses", "new_product", "other")


class LicenceRequestStatus(StrEnum):
    """A licence request is submitted, then fulfilled or declined.

    The members are the values the log stores: an event or a snapshot writes the plain
    string and reads back a ``str`` equal to the member, so compare, never ``is``.
    """

    SUBMITTED = "submitted"
    FULFILLED = "fulfilled"
    DECLINED = "declined"


SUBMITTED = LicenceRequestStatus.SUBMITTED
FULFILLED = LicenceRequestStatus.FULFILLED
DECLINED = LicenceRequestStatus.DECLINED


class LicenceRequest(LifecycleAggregate):
    @classmethod
    def submit(
        cls,
        licence_request_id: UUID,
        *,
        subscription_id: UUID,
        organisation_id: UUID,
        name: str,
        email: str,
        cc: list[str],
        username: str,
        kind: str,
        description: str,
        routed_to: str,
        change: Change,
    ) -> LicenceRequest:
        if kind not in KINDS:
            raise Rejected(f"unknown kind of change {kind!r}; one of {', '.join(KINDS)}")
        return cls(
            id=licence_request_id,
            subscription_id=subscription_id,
            organisation_id=organisation_id,
            name=personal(name),
            email=personal(email),
            cc=personal(list(cc)),
            username=personal(username),
            kind=kind,
            description=personal(description),
            routed_to=personal(routed_to),
            **change.stamp(),
        )

    @event("Submitted")
    def __init__(
        self,
        id: UUID,  # noqa: A002 - the aggregate id, chosen by the application
        subscription_id: UUID,
        organisation_id: UUID,
        name: str,
        email: str,
        cc: list[str],
        username: str,
        kind: str,
        description: str,
        routed_to: str,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.subscription_id = subscription_id
        self.organisation_id = organisation_id
        self.name = name
        self.email = email
        self.cc = list(cc)
        self.username = username
        self.kind = kind
        self.description = description
        self.routed_to = routed_to
        self.status: str = SUBMITTED
        self.resolution: dict[str, Any] | None = None

    def _check_submitted(self) -> None:
        if self.status != SUBMITTED:
            raise InvalidState(f"licence request {self.id} is already {self.status}")

    def fulfil(
        self,
        *,
        caps: dict[str, int | None] | None,
        plan: str | None,
        price: Money | None,
        change: Change,
    ) -> None:
        self._check_submitted()
        self._fulfilled(caps=caps, plan=plan, price=price, **change.stamp())

    @event("Fulfilled")
    def _fulfilled(
        self,
        caps: dict[str, int | None] | None,
        plan: str | None,
        price: Money | None,
        timestamp: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.status = FULFILLED
        self.resolution = {"caps": caps, "plan": plan, "price": price}

    def decline(self, reason: str, change: Change) -> None:
        self._check_submitted()
        self._declined(reason=personal(reason), **change.stamp())

    @event("Declined")
    def _declined(self, reason: str, timestamp: datetime, meta: dict[str, Any]) -> None:
        self.status = DECLINED
        self.resolution = {"reason": reason}
