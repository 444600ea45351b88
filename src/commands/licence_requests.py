"""Use cases of licence requests (R31)."""

from __future__ import annotations

from uuid import UUID

from commands.accounts import command_uuid
from commands.actors import check_acts_in
from commands.context import Caller
from commands.messages import Outbox
from commands.outcome import Outcome
from commands.services import Services, check_version, retrying
from lifecycle.licence_request import LicenceRequest
from lifecycle.money import Money
from lifecycle.organisation import Organisation
from lifecycle.subscription import Subscription


def submit_licence_request(
    services: Services,
    caller: Caller,
    subscription_id: UUID,
    *,
    name: str,
    email: str,
    cc: list[str],
    username: str,
    kind: str,
    description: str,
) -> Outcome[LicenceRequest]:
    """Routed to the organisation's account team, else to account services."""
    subscription = services.load(Subscription, subscription_id, "subscription")
    check_acts_in(services, caller, subscription.organisation_id)
    change = caller.change(services.clock.now())
    organisation = services.find(Organisation, subscription.organisation_id)
    routed_to = (
        getattr(organisation, "account_executive_email", None) if organisation else None
    ) or services.account_services_email
    request = LicenceRequest.submit(
        command_uuid(caller, "licence_request"),
        subscription_id=subscription.id,
        organisation_id=subscription.organisation_id,
        name=name,
        email=email,
        cc=cc,
        username=username,
        kind=kind,
        description=description,
        routed_to=routed_to,
        change=change,
    )
    message = Outbox(services.links).licence_request(
        routed_to,
        request.id,
        {
            "subscription_id": str(subscription.id),
            "name": name,
            "email": email,
            "cc": list(cc),
            "username": username,
            "kind": kind,
            "description": description,
        },
        change,
    )
    return Outcome(request, services.save(request, message))


def fulfil_licence_request(
    services: Services,
    caller: Caller,
    licence_request_id: UUID,
    *,
    caps: dict[str, int | None] | None = None,
    plan: str | None = None,
    price: Money | None = None,
    if_match: int | None = None,
) -> Outcome[LicenceRequest]:
    """Record the change on the subscription: caps and plan now, price from the next renewal."""
    if plan is not None:
        services.catalogue.get(plan)

    def attempt() -> Outcome[LicenceRequest]:
        request = services.load(LicenceRequest, licence_request_id, "licence request")
        check_version(request, if_match)
        check_acts_in(services, caller, request.organisation_id)
        subscription = services.load(Subscription, request.subscription_id, "subscription")
        change = caller.change(services.clock.now())
        request.fulfil(caps=caps, plan=plan, price=price, change=change)
        subscription.apply_licence_change(
            licence_request_id=request.id, caps=caps, plan=plan, next_price=price, change=change
        )
        return Outcome(request, services.save(request, subscription))

    return retrying(attempt, if_match)


def decline_licence_request(
    services: Services,
    caller: Caller,
    licence_request_id: UUID,
    reason: str,
    if_match: int | None = None,
) -> Outcome[LicenceRequest]:
    def attempt() -> Outcome[LicenceRequest]:
        request = services.load(LicenceRequest, licence_request_id, "licence request")
        check_version(request, if_match)
        check_acts_in(services, caller, request.organisation_id)
        request.decline(reason, caller.change(services.clock.now()))
        return Outcome(request, services.save(request))

    return retrying(attempt, if_match)
