"""Where an acting user may go. ``X-Actor: user:<account_id>`` names the hub user on
whose behalf the calling service reads or acts, and that user may only read or change
their own organisation's data (403 ``not-your-organisation``). Commands check it in
their handlers; reads, and the purchase commands whose handlers do not, check it here.
Without ``X-Actor`` the calling service acts on its own authority."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Request

from api.deps import ACTOR_PATTERN, caller_of
from commands.actors import acting_account
from commands.context import Caller
from commands.services import Services
from lifecycle.errors import NotYourOrganisation


async def reading_caller(
    request: Request,
    x_actor: Annotated[
        str | None,
        Header(
            description="user:<account_id> on whose behalf; only their organisation's data",
            pattern=ACTOR_PATTERN,
        ),
    ] = None,
) -> Caller:
    """The caller of a read, ``X-Actor`` parsed as for commands (a malformed one is 422)."""
    return caller_of(request, x_actor)


ReadingCallerDep = Annotated[Caller, Depends(reading_caller)]


def check_actor_in(services: Services, who: Caller, organisation_id: UUID | None) -> None:
    """An acting user stays inside their own organisation; a resource that belongs to
    no organisation yet (a new buyer's purchase before completion) is no user's."""
    actor = acting_account(services, who)
    if actor is None:
        return
    if organisation_id is None:
        raise NotYourOrganisation(f"account {actor.id} acts outside its organisation")
    actor.check_acts_in(organisation_id)
