"""Use cases for organisations and user accounts (R1-R3)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from commands.actors import acting_account
from commands.context import Caller
from commands.outcome import Outcome
from commands.services import Services, check_version, retrying
from lifecycle.account import BRAND_ADMIN, Account
from lifecycle.datacenters import DEFAULT_DATACENTER
from lifecycle.errors import Rejected
from lifecycle.organisation import FREE, TRIAL, Organisation

NAMESPACE = uuid.UUID("0d3c5c1a-8a5e-4d0b-b7f8-5e2d1b9c4a77")


def new_brand_id(organisation_id: UUID) -> str:
    """Generated at creation and never changed afterwards (R13)."""
    return "BR_" + organisation_id.hex[:12].upper()


def command_uuid(caller: Caller, purpose: str) -> UUID:
    """An id derived from the command, so a retried command creates the same thing once
    (and the same command id sent to another route, or by another acting user, creates
    something else)."""
    scope = f"{caller.scope}/" if caller.scope else ""
    actor = f"user:{caller.actor_id}/" if caller.actor_id else ""
    return uuid.uuid5(NAMESPACE, f"{caller.service}/{actor}{scope}{caller.command_id}/{purpose}")


@dataclass(frozen=True)
class OpenedAccount:
    account: Account
    organisation: Organisation


def open_account(
    services: Services,
    caller: Caller,
    *,
    email: str,
    name: str,
    username: str,
    kind: str,
    trial_days: int = 30,
    datacenter: str | None = None,
    fedramp: bool = False,
) -> Outcome[OpenedAccount]:
    """A free or trial account: a new organisation whose first user is its brand admin."""
    if kind not in (FREE, TRIAL):
        raise Rejected(f"an account is opened as free or trial, not {kind!r}")
    if trial_days < 1:
        raise Rejected("a trial lasts at least one day")
    change = caller.change(services.clock.now())
    organisation_id = command_uuid(caller, "organisation")
    organisation = Organisation.register(
        organisation_id,
        brand_id=new_brand_id(organisation_id),
        datacenter=datacenter or DEFAULT_DATACENTER,
        fedramp=fedramp,
        licence=kind,
        trial_ends_at=change.at + timedelta(days=trial_days) if kind == TRIAL else None,
        change=change,
    )
    account = Account.open(
        command_uuid(caller, "account"),
        organisation_id=organisation.id,
        name=name,
        email=email,
        username=username,
        user_type=BRAND_ADMIN,
        datacenter=organisation.datacenter,
        change=change,
    )
    position = services.save(organisation, account)
    return Outcome(OpenedAccount(account, organisation), position)


def add_user(
    services: Services,
    caller: Caller,
    organisation_id: UUID,
    *,
    email: str,
    name: str,
    username: str,
    user_type: str,
) -> Outcome[Account]:
    organisation = services.load(Organisation, organisation_id, "organisation")
    actor = acting_account(services, caller)
    if actor is not None:
        actor.check_is_brand_admin_of(organisation.id)
    change = caller.change(services.clock.now())
    account = Account.open(
        command_uuid(caller, "account"),
        organisation_id=organisation.id,
        name=name,
        email=email,
        username=username,
        user_type=user_type,
        datacenter=organisation.datacenter,
        change=change,
    )
    return Outcome(account, services.save(account))


def change_account_details(
    services: Services,
    caller: Caller,
    account_id: UUID,
    changes: dict[str, str],
    if_match: int | None = None,
) -> Outcome[Account]:
    def attempt() -> Outcome[Account]:
        account = services.load(Account, account_id, "account")
        check_version(account, if_match)
        actor = acting_account(services, caller)
        if actor is not None and actor.id == account.id:
            actor = account
        account.change_details(changes, actor, caller.change(services.clock.now()))
        return Outcome(account, services.save(account))

    return retrying(attempt, if_match)
