"""Accounts and organisations (R1-R3)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import links, models
from api import representations as show
from api.deps import CallerDep, IfMatchDep, MinPosition, ReaderDep, ServicesDep
from api.responses import created, parse_id, resource
from api.routes.access import ReadingCallerDep, check_actor_in
from api.schemas import AddUser, ChangeAccount, OpenAccount
from commands import accounts, contracts
from lifecycle.account import Account
from lifecycle.organisation import Organisation
from lifecycle.subscription import Subscription

router = APIRouter(tags=["accounts and organisations"])


@router.post(
    "/v1/accounts",
    status_code=201,
    response_model=models.AccountCreated,
    responses={201: links.to(account="account_id", organisation="organisation_id")},
)
def open_account(body: OpenAccount, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """A free or trial account in a new organisation; its first user is the brand admin."""
    done = accounts.open_account(services, caller, **body.model_dump())
    return created(
        {
            "account_id": str(done.value.account.id),
            "organisation_id": str(done.value.organisation.id),
            "brand_id": done.value.organisation.brand_id,
            "user_type": done.value.account.user_type,
        },
        done.position,
    )


@router.get("/v1/accounts/{account_id}", response_model=models.Account)
def get_account(
    account_id: str,
    services: ServicesDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    account = services.load(Account, parse_id(account_id, "account"), "account")
    check_actor_in(services, reading, account.organisation_id)
    return resource(show.account(account))


@router.patch("/v1/accounts/{account_id}", response_model=models.Account)
def change_account(
    account_id: str,
    body: ChangeAccount,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    """Name, email, username or user type; only a brand admin of the organisation (R3)."""
    changes = body.model_dump(exclude_none=True)
    done = accounts.change_account_details(
        services, caller, parse_id(account_id, "account"), changes, version
    )
    return resource(show.account(done.value), done.position)


@router.post(
    "/v1/organisations/{organisation_id}/users",
    status_code=201,
    response_model=models.UserAdded,
    responses={201: links.to(account="account_id")},
)
def add_user(
    organisation_id: str, body: AddUser, services: ServicesDep, caller: CallerDep
) -> JSONResponse:
    done = accounts.add_user(
        services, caller, parse_id(organisation_id, "organisation"), **body.model_dump()
    )
    return created({"account_id": str(done.value.id), "user_type": done.value.user_type}, done.position)


@router.get("/v1/organisations/{organisation_id}", response_model=models.Organisation)
def get_organisation(
    organisation_id: str,
    services: ServicesDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    org = services.load(Organisation, parse_id(organisation_id, "organisation"), "organisation")
    check_actor_in(services, reading, org.id)
    return resource(show.organisation(org))


@router.get(
    "/v1/organisations/{organisation_id}/subscriptions", response_model=list[models.Subscription]
)
def list_subscriptions(
    organisation_id: str,
    services: ServicesDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    """The organisation's subscriptions, newest first."""
    org = services.load(Organisation, parse_id(organisation_id, "organisation"), "organisation")
    check_actor_in(services, reading, org.id)
    subs = [services.load(Subscription, i, "subscription") for i in reversed(org.subscription_ids)]
    return JSONResponse([show.subscription(s) for s in subs])


@router.get(
    "/v1/organisations/{organisation_id}/contracts", response_model=list[models.Contract]
)
def list_contracts(
    organisation_id: str,
    services: ServicesDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    """The organisation's contracts as their GET shows them, newest first."""
    org = services.load(Organisation, parse_id(organisation_id, "organisation"), "organisation")
    check_actor_in(services, reading, org.id)
    found = contracts.organisation_contracts(services, org.id)
    return JSONResponse([show.contract(c) for c in found])
