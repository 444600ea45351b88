"""Self-service purchase (R10-R16)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import links, models
from api import representations as show
from api.deps import CallerDep, IfMatchDep, MinPosition, ReaderDep, ServicesDep
from api.responses import created, parse_id, resource
from api.routes.access import ReadingCallerDep, check_actor_in
from api.schemas import ChooseDatacenter, CompletePurchase, StartPurchase, VerifyPurchase
from commands import purchases
from commands.context import Caller
from commands.services import Services
from lifecycle.purchase import Purchase

router = APIRouter(tags=["self-service purchase"])


@router.post(
    "/v1/purchases",
    status_code=201,
    response_model=models.PurchaseStarted,
    responses={201: links.to(purchase="purchase_id")},
)
def start_purchase(body: StartPurchase, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """An upgrade (``account_id``) or a new buyer (``email``, who gets a verification message)."""
    done = purchases.start_purchase(
        services,
        caller,
        plan=body.plan,
        currency=body.currency,
        account_id=parse_id(body.account_id, "account") if body.account_id else None,
        email=body.email,
        ip=body.ip,
    )
    p = done.value
    return created(
        {
            "purchase_id": str(p.id),
            "status": p.status,
            "recommended_datacenter": p.recommended_datacenter,
            "datacenter": p.datacenter,
        },
        done.position,
    )


@router.get("/v1/purchases/{purchase_id}", response_model=models.Purchase)
def get_purchase(
    purchase_id: str,
    services: ServicesDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    purchase = services.load(Purchase, parse_id(purchase_id, "purchase"), "purchase")
    check_actor_in(services, reading, purchase.organisation_id)
    return resource(show.purchase(purchase))


def _check_purchase_actor(services: Services, caller: Caller, purchase_id: UUID) -> None:
    """The handlers of verify and datacenter check no actor, and completion checks one
    only on an upgrade: an acting user may not touch another organisation's purchase,
    nor a new buyer's, which belongs to no organisation until it completes."""
    if caller.actor_id is None:
        return
    purchase = services.load(Purchase, purchase_id, "purchase")
    check_actor_in(services, caller, purchase.organisation_id)


@router.post("/v1/purchases/{purchase_id}/verify", response_model=models.Purchase)
def verify_purchase(
    purchase_id: str,
    body: VerifyPurchase,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    uid = parse_id(purchase_id, "purchase")
    _check_purchase_actor(services, caller, uid)
    done = purchases.verify_purchase(services, caller, uid, body.token, version)
    return resource(show.purchase(done.value), done.position)


@router.put("/v1/purchases/{purchase_id}/datacenter", response_model=models.Purchase)
def choose_datacenter(
    purchase_id: str,
    body: ChooseDatacenter,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    uid = parse_id(purchase_id, "purchase")
    _check_purchase_actor(services, caller, uid)
    done = purchases.choose_datacenter(services, caller, uid, body.datacenter, version)
    return resource(show.purchase(done.value), done.position)


@router.post(
    "/v1/purchases/{purchase_id}/complete",
    response_model=models.Purchase,
    responses={
        200: links.to(subscription="subscription_id"),
        402: models.problem_response("the card was declined (`payment-declined`)"),
    },
)
def complete_purchase(
    purchase_id: str,
    body: CompletePurchase,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    """Charge the card; on approval create the licence (and a new buyer's organisation)."""
    uid = parse_id(purchase_id, "purchase")
    _check_purchase_actor(services, caller, uid)
    done = purchases.complete_purchase(
        services,
        caller,
        uid,
        payment_token=body.payment_token,
        billing_address=body.billing_address.model_dump(exclude_none=True),
        accept_terms=bool(body.accept_terms),
        accept_auto_renewal=bool(body.accept_auto_renewal),
        accept_privacy=bool(body.accept_privacy),
        new_buyer=purchases.NewBuyer(body.account.name, body.account.username) if body.account else None,
        if_match=version,
    )
    return resource(show.purchase(done.value.purchase), done.position)
