"""Licence requests (R31)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import models
from api import representations as show
from api.deps import CallerDep, IfMatchDep, MinPosition, ReaderDep, ServicesDep
from api.responses import parse_id, resource
from api.routes.access import ReadingCallerDep, check_actor_in
from api.schemas import DeclineLicenceRequest, FulfilLicenceRequest
from commands import licence_requests
from lifecycle.licence_request import LicenceRequest

router = APIRouter(tags=["subscriptions"])


@router.get("/v1/licence-requests/{licence_request_id}", response_model=models.LicenceRequest)
def get_licence_request(
    licence_request_id: str,
    services: ServicesDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    request = services.load(
        LicenceRequest, parse_id(licence_request_id, "licence request"), "licence request"
    )
    check_actor_in(services, reading, request.organisation_id)
    return resource(show.licence_request(request))


@router.post(
    "/v1/licence-requests/{licence_request_id}/fulfil", response_model=models.LicenceRequest
)
def fulfil(
    licence_request_id: str,
    body: FulfilLicenceRequest,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    """New absolute caps and plan now; a new price from the next renewal."""
    done = licence_requests.fulfil_licence_request(
        services,
        caller,
        parse_id(licence_request_id, "licence request"),
        caps=body.caps.model_dump(exclude_unset=True) if body.caps else None,
        plan=body.plan,
        price=body.price.to_money() if body.price else None,
        if_match=version,
    )
    return resource(show.licence_request(done.value), done.position)


@router.post(
    "/v1/licence-requests/{licence_request_id}/decline", response_model=models.LicenceRequest
)
def decline(
    licence_request_id: str,
    body: DeclineLicenceRequest,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    done = licence_requests.decline_licence_request(
        services, caller, parse_id(licence_request_id, "licence request"), body.reason, version
    )
    return resource(show.licence_request(done.value), done.position)
