"""Who issues a command: the calling service, the hub user it acts for, and the ids (R60)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from infrastructure.ids import random_uuid
from lifecycle.change import Change


@dataclass(frozen=True)
class Caller:
    service: str
    actor_id: UUID | None
    command_id: str
    correlation_id: str
    scope: str = ""
    """Where a caller-chosen command id applies (an HTTP request's method and path):
    the same id given for another route is another command."""

    @classmethod
    def of(
        cls,
        service: str,
        actor_id: UUID | None = None,
        command_id: str | None = None,
        correlation_id: str | None = None,
        scope: str = "",
    ) -> Caller:
        command_id = command_id or str(random_uuid())
        return cls(service, actor_id, command_id, correlation_id or command_id, scope)

    @classmethod
    def scheduler(cls, item_key: str) -> Caller:
        """Time-driven work: the scheduler acts, and the due item names the correlation."""
        return cls("scheduler", None, f"due:{item_key}", item_key)

    def change(self, at: datetime) -> Change:
        actor = f"user:{self.actor_id}" if self.actor_id else None
        return Change(at, self.service, actor, self.command_id, self.correlation_id)
