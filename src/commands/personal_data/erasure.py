"""Erasing an organisation's personal data (crypto-shredding).

The data keys go first, then the event that says so: once the event is in the log,
every process that follows it (the views) reads the organisation's personal values as
``"[erased]"``. A run that stops between the two leaves the keys erased and no event;
running the command again records it. Running it again after that changes nothing.
"""

from __future__ import annotations

from uuid import UUID

from commands.context import Caller
from commands.outcome import Outcome
from commands.services import Services, retrying
from lifecycle.organisation import Organisation


def erase_personal_data(
    services: Services, caller: Caller, organisation_id: UUID
) -> Outcome[Organisation]:
    """Make the organisation's personal data unreadable for good: delete its data keys
    (and those of the purchases that created it), then record ``PersonalDataErased``
    (who asked and when; nothing personal). Unknown organisation: ``NotFound``."""
    organisation = services.load(Organisation, organisation_id, "organisation")
    change = caller.change(services.clock.now())
    erased_at = getattr(organisation, "personal_data_erased_at", None)
    services.store.personal_data.erase(organisation.id, erased_at or change.at)

    def attempt() -> Outcome[Organisation]:
        current = services.load(Organisation, organisation_id, "organisation")
        current.record_personal_data_erased(change)
        return Outcome(current, services.save(current))

    return retrying(attempt)
