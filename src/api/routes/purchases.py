"""Self-service purchase (R10-R16)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import models
from api import representations as show
from api.deps import CallerDep, IfMatchDep, MinPosition, ReaderDep, ServicesDep
from api.responses import created, parse_id, resource
from api.schemas import ChooseDatacenter, CompletePurchase, StartPurchase, VerifyPurchase
from commands import purchases
from lifecycle.purchase import Purchase

router = APIRouter(tags=["self-service purchase"], responses=models.PROBLEMS)


@router.post("/v1/purchases", status_code=201, response_model=models.PurchaseStarted)
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
    purchase_id: str, services: ServicesDep, _: ReaderDep, min_position: MinPosition = None
) -> JSONResponse:
    return resource(show.purchase(services.load(Purchase, parse_id(purchase_id, "purchase"), "purchase")))


@router.post("/v1/purchases/{purchase_id}/verify", response_model=models.Purchase)
def verify_purchase(
    purchase_id: str,
    body: VerifyPurchase,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    done = purchases.verify_purchase(
        services, caller, parse_id(purchase_id, "purchase"), body.token, version
    )
    return resource(show.purchase(done.value), done.position)


@router.put("/v1/purchases/{purchase_id}/datacenter", response_model=models.Purchase)
def choose_datacenter(
    purchase_id: str,
    body: ChooseDatacenter,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    done = purchases.choose_datacenter(
        services, caller, parse_id(purchase_id, "purchase"), body.datacenter, version
    )
    return resource(show.purchase(done.value), done.position)


@router.post(
    "/v1/purchases/{purchase_id}/complete",
    response_model=models.Purchase,
    responses={402: {"model": models.Problem, "description": "the card was declined"}},
)
def complete_purchase(
    purchase_id: str,
    body: CompletePurchase,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    """Charge the card; on approval create the licence (and a new buyer's organisation)."""
    done = purchases.complete_purchase(
        services,
        caller,
        parse_id(purchase_id, "purchase"),
        payment_token=body.payment_token,
        billing_address=body.billing_address.model_dump(exclude_none=True),
        accept_terms=bool(body.accept_terms),
        accept_auto_renewal=bool(body.accept_auto_renewal),
        accept_privacy=bool(body.accept_privacy),
        new_buyer=purchases.NewBuyer(body.account.name, body.account.username) if body.account else None,
        if_match=version,
    )
    return resource(show.purchase(done.value.purchase), done.position)
