"""Enterprise contracts and the renewal pipeline (R40-R46)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import links, models
from api import representations as show
from api.deps import CallerDep, IfMatchDep, MinPosition, ReaderDep, ServicesDep
from api.responses import parse_id, resource
from api.routes.access import ReadingCallerDep, check_actor_in
from api.schemas import (
    AlignScope,
    ConfirmQuote,
    ContactIn,
    CreateContract,
    IssueQuote,
    OptOut,
    RecordRenewalContact,
)
from commands import contracts, renewals
from commands.services import Services
from lifecycle.contract import Contract
from lifecycle.contract_terms import Contact
from lifecycle.errors import NotFound, Rejected
from lifecycle.renewal import Renewal

router = APIRouter(tags=["contracts and renewals"])


def _contact(body: ContactIn) -> Contact:
    account_id = None
    if body.account_id is not None:
        try:
            account_id = parse_id(body.account_id, "account")
        except NotFound:
            raise Rejected(f"account_id {body.account_id!r} is not an id") from None
    return Contact.of(body.first_name, body.last_name, body.email, account_id)


def _renewal(services: Services, renewal: Renewal, position: int | None = None) -> JSONResponse:
    return resource(show.renewal(renewal, services.clock.now()), position)


# --- contracts ---------------------------------------------------------------------------


@router.post(
    "/v1/contracts",
    status_code=201,
    response_model=models.Contract,
    responses={201: links.to(contract="contract_id")},
)
def create_contract(body: CreateContract, services: ServicesDep, caller: CallerDep) -> JSONResponse:
    """A contract under a number unused in this deployment (else 409
    ``duplicate-contract-number``); its organisation is ``enterprise`` from now on."""
    done = contracts.create_contract(
        services,
        caller,
        organisation_id=parse_id(body.organisation_id, "organisation"),
        number=body.number,
        start_date=body.start_date,
        term_months=body.term_months,
        licences=list(body.licences),
        notice_days=body.notice_days,
        price=body.price.to_money(),
        primary_contact=_contact(body.primary_contact),
        billing_contact=_contact(body.billing_contact),
    )
    return resource(show.contract(done.value), done.position, status=201)


@router.get("/v1/contracts/{contract_id}", response_model=models.Contract)
def get_contract(
    contract_id: str,
    services: ServicesDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    contract = services.load(Contract, parse_id(contract_id, "contract"), "contract")
    check_actor_in(services, reading, contract.organisation_id)
    return resource(show.contract(contract))


@router.put("/v1/contracts/{contract_id}/contacts/{role}", response_model=models.Contract)
def change_contact(
    contract_id: str,
    role: Literal["primary", "billing"],
    body: ContactIn,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    """The primary (contract owner) or billing contact; in effect at once, also for the
    renewal under way."""
    done = contracts.change_contact(
        services, caller, parse_id(contract_id, "contract"), role, _contact(body), version
    )
    return resource(show.contract(done.value), done.position)


@router.get(
    "/v1/contracts/{contract_id}/renewal",
    response_model=models.Renewal,
    responses={200: links.to(renewal="renewal_id")},
)
def get_contract_renewal(
    contract_id: str,
    services: ServicesDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    """The current term's renewal once its window has opened, else the previous term's."""
    contract = services.load(Contract, parse_id(contract_id, "contract"), "contract")
    check_actor_in(services, reading, contract.organisation_id)
    renewal = contracts.current_renewal(services, contract)
    if renewal is None:
        opens_on = contract.end_date - Renewal.OPENS_BEFORE
        raise NotFound(
            f"no renewal window of contract {contract.number} has opened yet; the first "
            f"opens on {opens_on.isoformat()}"
        )
    return _renewal(services, renewal)


# --- renewals ------------------------------------------------------------------------------


@router.get("/v1/renewals/{renewal_id}", response_model=models.Renewal)
def get_renewal(
    renewal_id: str,
    services: ServicesDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    renewal = services.load(Renewal, parse_id(renewal_id, "renewal"), "renewal")
    check_actor_in(services, reading, renewal.organisation_id)
    return _renewal(services, renewal)


@router.post("/v1/renewals/{renewal_id}/contact", response_model=models.Renewal)
def record_contact(
    renewal_id: str,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
    body: RecordRenewalContact | None = None,
) -> JSONResponse:
    """The customer has been contacted: assessment → discussion."""
    done = renewals.record_contact(
        services, caller, parse_id(renewal_id, "renewal"), body.notes if body else None, version
    )
    return _renewal(services, done.value, done.position)


@router.post("/v1/renewals/{renewal_id}/align", response_model=models.Renewal)
def align_scope(
    renewal_id: str,
    body: AlignScope,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    """The agreed scope: no changes is a direct continuation (Renewals Manager); any
    change is the Account Executive's, and is refused after the notice deadline."""
    done = renewals.align_scope(
        services,
        caller,
        parse_id(renewal_id, "renewal"),
        [change.model_dump() for change in body.changes],
        version,
    )
    return _renewal(services, done.value, done.position)


@router.post(
    "/v1/renewals/{renewal_id}/quotes",
    status_code=201,
    response_model=models.QuoteIssued,
    responses={201: links.to(quote="quote_id")},
)
def issue_quote(
    renewal_id: str,
    body: IssueQuote,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    """A quote (services, term, price) to the primary contact; a later one revises it."""
    done = renewals.issue_quote(
        services,
        caller,
        parse_id(renewal_id, "renewal"),
        licences=list(body.licences),
        term_months=body.term_months,
        price=body.price.to_money(),
        if_match=version,
    )
    shown = show.renewal(done.value.renewal, services.clock.now())
    return resource({**shown, "quote_id": str(done.value.quote_id)}, done.position, status=201)


@router.post("/v1/renewals/{renewal_id}/confirm", response_model=models.Renewal)
def confirm_quote(
    renewal_id: str,
    body: ConfirmQuote,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
) -> JSONResponse:
    """Only the latest quote can be confirmed (else 409 ``stale-quote``)."""
    try:
        quote_id = parse_id(body.quote_id, "quote")
    except NotFound:
        raise Rejected(f"quote_id {body.quote_id!r} is not an id") from None
    done = renewals.confirm_quote(
        services, caller, parse_id(renewal_id, "renewal"), quote_id, version
    )
    return _renewal(services, done.value, done.position)


@router.post("/v1/renewals/{renewal_id}/invoice", response_model=models.Renewal)
def issue_invoice(
    renewal_id: str, services: ServicesDep, caller: CallerDep, version: IfMatchDep
) -> JSONResponse:
    """The invoice for the renewed term, to the billing contact on file, due in 30 days."""
    done = renewals.issue_invoice(services, caller, parse_id(renewal_id, "renewal"), version)
    return _renewal(services, done.value, done.position)


@router.post("/v1/renewals/{renewal_id}/opt-out", response_model=models.Renewal)
def opt_out(
    renewal_id: str,
    services: ServicesDep,
    caller: CallerDep,
    version: IfMatchDep,
    body: OptOut | None = None,
) -> JSONResponse:
    """Non-renewal, accepted through the notice deadline (else 409
    ``notice-period-passed``); the contract ends at its end date."""
    done = renewals.opt_out(
        services, caller, parse_id(renewal_id, "renewal"), body.reason if body else None, version
    )
    return _renewal(services, done.value, done.position)
