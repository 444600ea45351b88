"""Subscriptions (R17, R20-R31)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import links, models
from api import representations as show
from api.deps import CallerDep, IfMatchDep, MinPosition, ReaderDep, ServicesDep
from api.responses import created, parse_id, resource
from api.routes.access import ReadingCallerDep, check_actor_in
from api.schemas import CancelRenewal, RecordUsage, ReplaceCard, SubmitLicenceRequest
from commands import licence_requests, subscriptions
from lifecycle.subscription import Subscription

router = APIRouter(tags=["subscriptions"])


@router.get("/v1/subscriptions/{subscription_id}", response_model=models.Subscription)
def get_subscription(
    subscription_id: str,
    services: ServicesDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    sub = services.load(Subscription, parse_id(subscription_id, "subscription"), "subscription")
    check_actor_in(services, reading, sub.organisation_id)
    return resource(show.subscription(sub))


@router.get(
    "/v1/subscriptions/{subscription_id}/payments", response_model=list[models.Payment]
)
def list_payments(
    subscription_id: str,
    services: ServicesDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    """Every charge, oldest first, the purchase charge included as term 1."""
    sub = services.load(Subscription, parse_id(subscription_id, "subscription"), "subscription")
    check_actor_in(services, reading, sub.organisation_id)
    return JSONResponse(show.payments(sub))


@router.post(
    "/v1/subscriptions/{subscription_id}/cancel-renewal", response_model=models.Subscription
)
def cancel_renewal(
    subscription_id: str,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
    body: CancelRenewal | None = None,
) -> JSONResponse:
    """No renewal and no charge at term end; access continues to expiry (R22, R25)."""
    done = subscriptions.cancel_renewal(
        services,
        caller,
        parse_id(subscription_id, "subscription"),
        body.reason if body else None,
        version,
    )
    return resource(show.subscription(done.value), done.position)


@router.post(
    "/v1/subscriptions/{subscription_id}/resume-renewal", response_model=models.Subscription
)
def resume_renewal(
    subscription_id: str, services: ServicesDep, caller: CallerDep, version: IfMatchDep
) -> JSONResponse:
    done = subscriptions.resume_renewal(
        services, caller, parse_id(subscription_id, "subscription"), version
    )
    return resource(show.subscription(done.value), done.position)


@router.put("/v1/subscriptions/{subscription_id}/card", response_model=models.Subscription)
def replace_card(
    subscription_id: str,
    body: ReplaceCard,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    """A new card for later charges; during ``past_due`` the charge is retried at once."""
    done = subscriptions.replace_card(
        services, caller, parse_id(subscription_id, "subscription"), body.payment_token, version
    )
    return resource(show.subscription(done.value), done.position)


@router.delete("/v1/subscriptions/{subscription_id}/card", response_model=models.Subscription)
def remove_card(
    subscription_id: str, services: ServicesDep, caller: CallerDep, version: IfMatchDep
) -> JSONResponse:
    done = subscriptions.remove_card(
        services, caller, parse_id(subscription_id, "subscription"), version
    )
    return resource(show.subscription(done.value), done.position)


@router.post("/v1/subscriptions/{subscription_id}/usage", response_model=models.Subscription)
def record_usage(
    subscription_id: str,
    body: RecordUsage,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    """Count responses and seats against the caps of the current term (R30)."""
    done = subscriptions.record_usage(
        services,
        caller,
        parse_id(subscription_id, "subscription"),
        body.responses,
        body.seats,
        version,
    )
    return resource(show.subscription(done.value), done.position)


@router.post(
    "/v1/subscriptions/{subscription_id}/licence-requests",
    status_code=201,
    response_model=models.LicenceRequestCreated,
    responses={201: links.to(licence_request="licence_request_id")},
)
def submit_licence_request(
    subscription_id: str, body: SubmitLicenceRequest, services: ServicesDep, caller: CallerDep
) -> JSONResponse:
    """Ask to grow the licence; routed to the account team (R31)."""
    done = licence_requests.submit_licence_request(
        services, caller, parse_id(subscription_id, "subscription"), **body.model_dump()
    )
    return created({"licence_request_id": str(done.value.id), "status": done.value.status}, done.position)
