"""The plan catalogue and datacenters (R10, R15)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api import models
from api.deps import MinPosition, ReaderDep, ServicesDep
from lifecycle.datacenters import DATACENTERS, recommend_datacenter

router = APIRouter(tags=["catalogue"])


@router.get("/v1/plans", response_model=list[models.Plan])
def list_plans(services: ServicesDep, _: ReaderDep, min_position: MinPosition = None) -> JSONResponse:
    return JSONResponse(
        [
            {
                "plan": plan.plan_id,
                "name": plan.name,
                "prices": [price.as_dict() for price in plan.prices.values()],
                "caps": plan.caps.as_dict(),
            }
            for plan in services.catalogue
        ]
    )


@router.get("/v1/datacenters", response_model=list[models.Datacenter])
def list_datacenters(
    services: ServicesDep,
    _: ReaderDep,
    ip: str | None = Query(default=None, max_length=64),
    min_position: MinPosition = None,
) -> JSONResponse:
    """Every datacenter, the one recommended for ``ip`` marked ``recommended``."""
    recommended = recommend_datacenter(ip, services.address_ranges)
    return JSONResponse(
        [{"datacenter": dc, "recommended": dc == recommended} for dc in DATACENTERS]
    )
