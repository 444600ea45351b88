"""The hub's profile (R50-R56): its commands, and its views read from the ``profiles``
and ``contracts`` projections, with what each viewer may see decided at read time
(``projections.profile_policy``)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import AnyHttpUrl, StrictBool

from api import models
from api.deps import (
    CallerDep,
    LinkCallerDep,
    ContainerDep,
    MinPosition,
    ReaderDep,
    ServicesDep,
    wait_for_projection,
)
from api.responses import created, parse_id, resource
from api.routes.access import ReadingCallerDep, check_actor_in
from api.schemas import Body, Count, Day, Email, Text
from commands import profiles
from commands.context import Caller
from lifecycle.account import OPERATIONAL_UPDATES, PREFERENCE_CATEGORIES, Account
from lifecycle.errors import NotFound
from projections import profile_policy as policy
from projections.contract_views import ContractRows
from projections.profiles import ProfileRows

router = APIRouter(tags=["profiles"])


class EmailPreferencesIn(Body):
    personalised_learning: StrictBool
    news_and_updates: StrictBool
    customer_events: StrictBool
    operational_updates: StrictBool | None = None


class Person(Body):
    name: Text
    email: Email


class AccountTeamIn(Body):
    success_manager: Person | None = None
    account_executive: Person
    intake_form_url: AnyHttpUrl | None = None
    brand_admin_contact: Person | None = None


class CommunityAccountIn(Body):
    username: Text
    rank: Text
    created_on: Day
    topics: Count


class CertificationIn(Body):
    name: Text
    status: Literal["in_progress", "completed"]
    completed_on: Day | None = None
    certificate_url: AnyHttpUrl | None = None


def _preferences_of(account: Account) -> dict[str, bool]:
    shown = {c: bool(account.email_preferences.get(c, True)) for c in PREFERENCE_CATEGORIES}
    if not account.is_brand_admin:
        shown.pop(OPERATIONAL_UPDATES)
    return shown


def _preferences_answer(account: Account, position: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "account_id": str(account.id),
        "email_preferences": _preferences_of(account),
        "version": account.version,
    }
    return resource(body, position)


# --- commands ---------------------------------------------------------------------------


@router.put(
    "/v1/accounts/{account_id}/email-preferences", response_model=models.EmailPreferences
)
def change_email_preferences(
    account_id: str, body: EmailPreferencesIn, services: ServicesDep, caller: CallerDep
) -> JSONResponse:
    """The four email categories (R52); brand admins cannot turn operational updates off."""
    done = profiles.change_email_preferences(
        services, caller, parse_id(account_id, "account"), body.model_dump()
    )
    return _preferences_answer(done.value, done.position)


@router.get("/v1/email-preferences/{link_token}", response_model=models.EmailPreferences)
def email_preferences_by_link(link_token: str, services: ServicesDep) -> JSONResponse:
    """The manage-subscriptions link of an email: the signed token names the account."""
    return _preferences_answer(profiles.account_of_link(services, link_token))


@router.put("/v1/email-preferences/{link_token}", response_model=models.EmailPreferences)
def change_email_preferences_by_link(
    link_token: str, body: EmailPreferencesIn, services: ServicesDep, caller: LinkCallerDep
) -> JSONResponse:
    done = profiles.change_email_preferences_by_link(
        services, caller, link_token, body.model_dump()
    )
    return _preferences_answer(done.value, done.position)


@router.put(
    "/v1/organisations/{organisation_id}/account-team", response_model=models.AccountTeam
)
def set_account_team(
    organisation_id: str, body: AccountTeamIn, services: ServicesDep, caller: CallerDep
) -> JSONResponse:
    """The organisation's account team (R51); licence requests and overdue renewals are
    then routed to its Account Executive."""
    data = body.model_dump(mode="json")
    done = profiles.set_account_team(
        services, caller, parse_id(organisation_id, "organisation"), **data
    )
    team = dict(done.value.account_team or {})
    return resource(
        {"organisation_id": str(done.value.id), **team, "version": done.value.version},
        done.position,
    )


@router.put(
    "/v1/accounts/{account_id}/community-account", response_model=models.CommunityAccount
)
def link_community_account(
    account_id: str, body: CommunityAccountIn, services: ServicesDep, caller: CallerDep
) -> JSONResponse:
    done = profiles.link_community_account(
        services, caller, parse_id(account_id, "account"), **body.model_dump(mode="json")
    )
    return resource(
        {"account_id": str(done.value.id), "community": done.value.community, "version": done.value.version},
        done.position,
    )


@router.post(
    "/v1/accounts/{account_id}/certifications",
    status_code=201,
    response_model=models.CertificationRecorded,
)
def record_certification(
    account_id: str, body: CertificationIn, services: ServicesDep, caller: CallerDep
) -> JSONResponse:
    done = profiles.record_certification(
        services, caller, parse_id(account_id, "account"), **body.model_dump(mode="json")
    )
    return created(
        {"account_id": str(done.value.id), "certifications": done.value.certifications},
        done.position,
    )


# --- views ------------------------------------------------------------------------------


def _viewer(
    container: Any, account_id: str, reading: Caller, min_position: int | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    viewer_id = parse_id(account_id, "account")
    wait_for_projection(container, container.runners["profiles"], min_position)
    wait_for_projection(container, container.runners["contracts"], min_position)
    rows = ProfileRows(container.services.database)
    account = rows.account(viewer_id)
    organisation = rows.organisation(account["organisation_id"]) if account else None
    if account is None or organisation is None:
        raise NotFound(f"account {account_id} not found")
    check_actor_in(container.services, reading, UUID(account["organisation_id"]))
    policy.check_viewer(viewer_id, reading.actor_id)
    return account, organisation


@router.get("/v1/profiles/{account_id}", response_model=models.Profile)
def get_profile(
    account_id: str,
    container: ContainerDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    """The profile as this account sees it (R50-R56); sections it may not see are absent."""
    account, organisation = _viewer(container, account_id, reading, min_position)
    database = container.services.database
    billing = ProfileRows(database).billing(organisation.get("subscription_id"))
    contracts = ContractRows(database).of_organisation(account["organisation_id"])
    return JSONResponse(policy.profile(account, organisation, billing, contracts))


@router.get("/v1/profiles/{account_id}/contracts", response_model=list[models.ContractSummary])
def get_profile_contracts(
    account_id: str,
    container: ContainerDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    """The contracts this account may see (R54), as summaries."""
    account, organisation = _viewer(container, account_id, reading, min_position)
    contracts = ContractRows(container.services.database).of_organisation(account["organisation_id"])
    visible = policy.visible_contracts(account, organisation, contracts)
    return JSONResponse([policy.contract_summary(c) for c in visible])


@router.get(
    "/v1/profiles/{account_id}/contracts/{contract_id}", response_model=models.ProfileContract
)
def get_profile_contract(
    account_id: str,
    contract_id: str,
    container: ContainerDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    """One visible contract with its contacts and its renewal; 404 when not visible."""
    account, organisation = _viewer(container, account_id, reading, min_position)
    rows = ContractRows(container.services.database)
    wanted = str(parse_id(contract_id, "contract"))
    for contract in policy.visible_contracts(
        account, organisation, rows.of_organisation(account["organisation_id"])
    ):
        if contract["contract_id"] == wanted:
            return JSONResponse(
                {
                    **policy.contract_summary(contract),
                    "status": contract["status"],
                    "primary_contact": contract["primary_contact"],
                    "billing_contact": contract["billing_contact"],
                    "renewal": rows.renewal(wanted),
                }
            )
    raise NotFound(f"contract {contract_id} not found")
