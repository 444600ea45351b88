"""What every change carries (R60): when it happened and who asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Change:
    """The instant of a change and the request it belongs to.

    ``actor`` is ``"user:<account_id>"`` when a calling service acts for a hub
    user, else ``None`` (the calling service itself is the actor).
    """

    at: datetime
    service: str
    actor: str | None
    command_id: str
    correlation_id: str

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("a change's instant must be timezone-aware")

    def stamp(self) -> dict[str, Any]:
        """Keyword arguments every event method takes: its timestamp and metadata."""
        return {"timestamp": self.at, "meta": self.meta()}

    def meta(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "actor": self.actor,
            "command_id": self.command_id,
            "correlation_id": self.correlation_id,
        }
