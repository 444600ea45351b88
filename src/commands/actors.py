"""The hub user a calling service acts for (``X-Actor``), and where they may act."""

from __future__ import annotations

from uuid import UUID

from commands.context import Caller
from commands.services import Services
from lifecycle.account import Account
from lifecycle.errors import NotPermitted


class UnknownActor(NotPermitted):
    slug = "forbidden"


def acting_account(services: Services, caller: Caller) -> Account | None:
    """The actor's account, or ``None`` when the calling service acts itself."""
    if caller.actor_id is None:
        return None
    actor = services.find(Account, caller.actor_id)
    if actor is None:
        raise UnknownActor(f"the acting user {caller.actor_id} has no account")
    return actor


def check_acts_in(services: Services, caller: Caller, organisation_id: UUID) -> Account | None:
    """An account may only act inside its own organisation."""
    actor = acting_account(services, caller)
    if actor is not None:
        actor.check_acts_in(organisation_id)
    return actor
