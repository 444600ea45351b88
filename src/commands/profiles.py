"""Use cases behind the hub's profile (R51, R52, R55): the account team, email
preferences (from the profile or from an email's manage-subscriptions link), the
community account and training certifications."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from commands.actors import acting_account, check_acts_in
from commands.context import Caller
from commands.outcome import Outcome
from commands.services import Services, check_version, retrying
from lifecycle.account import OPERATIONAL_UPDATES, Account
from lifecycle.organisation import Organisation


def change_email_preferences(
    services: Services,
    caller: Caller,
    account_id: UUID,
    preferences: dict[str, bool],
    if_match: int | None = None,
) -> Outcome[Account]:
    """From the profile: the account itself, a brand admin of its organisation, or
    the calling service on its own authority."""

    def attempt() -> Outcome[Account]:
        account = services.load(Account, account_id, "account")
        check_version(account, if_match)
        actor = acting_account(services, caller)
        if actor is not None and actor.id != account.id:
            actor.check_is_brand_admin_of(account.organisation_id)
        account.change_email_preferences(
            _for(account, preferences), caller.change(services.clock.now())
        )
        return Outcome(account, services.save(account))

    return retrying(attempt, if_match)


def change_email_preferences_by_link(
    services: Services, caller: Caller, token: str, preferences: dict[str, bool]
) -> Outcome[Account]:
    """From the manage-subscriptions link of an email: the signed token names the account."""
    account_id = services.links.account_for(token, services.clock.now())

    def attempt() -> Outcome[Account]:
        account = services.load(Account, account_id, "account")
        account.change_email_preferences(
            _for(account, preferences), caller.change(services.clock.now())
        )
        return Outcome(account, services.save(account))

    return retrying(attempt)


def account_of_link(services: Services, token: str) -> Account:
    return services.load(Account, services.links.account_for(token, services.clock.now()), "account")


def _for(account: Account, preferences: dict[str, bool]) -> dict[str, bool]:
    """Operational updates are a brand admin's only (R52): from others the flag is
    ignored, as it is neither shown to them nor theirs to change."""
    chosen = {k: v for k, v in preferences.items() if v is not None}
    if not account.is_brand_admin:
        chosen.pop(OPERATIONAL_UPDATES, None)
    return chosen


def set_account_team(
    services: Services,
    caller: Caller,
    organisation_id: UUID,
    *,
    success_manager: dict[str, str] | None,
    account_executive: dict[str, str],
    intake_form_url: str | None,
    brand_admin_contact: dict[str, str] | None,
) -> Outcome[Organisation]:
    def attempt() -> Outcome[Organisation]:
        organisation = services.load(Organisation, organisation_id, "organisation")
        actor = acting_account(services, caller)
        if actor is not None:
            actor.check_is_brand_admin_of(organisation.id)
        organisation.set_account_team(
            success_manager=success_manager,
            account_executive=account_executive,
            intake_form_url=intake_form_url,
            brand_admin_contact=brand_admin_contact,
            change=caller.change(services.clock.now()),
        )
        return Outcome(organisation, services.save(organisation))

    return retrying(attempt)


def link_community_account(
    services: Services, caller: Caller, account_id: UUID, **community: Any
) -> Outcome[Account]:
    def attempt() -> Outcome[Account]:
        account = services.load(Account, account_id, "account")
        check_acts_in(services, caller, account.organisation_id)
        account.link_community_account(change=caller.change(services.clock.now()), **community)
        return Outcome(account, services.save(account))

    return retrying(attempt)


def record_certification(
    services: Services, caller: Caller, account_id: UUID, **certification: Any
) -> Outcome[Account]:
    def attempt() -> Outcome[Account]:
        account = services.load(Account, account_id, "account")
        check_acts_in(services, caller, account.organisation_id)
        account.record_certification(
            change=caller.change(services.clock.now()), **certification
        )
        return Outcome(account, services.save(account))

    return retrying(attempt)
