"""Time-driven work an aggregate awaits: what, for which aggregate, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, order=True)
class DueItem:
    """One piece of time-driven work.

    ``key`` names the item uniquely and stably (for example
    ``renewal:<subscription_id>:2``): it becomes the correlation id of the work and
    keeps a retried job from doing anything twice.
    """

    due_at: datetime
    kind: str
    aggregate_id: UUID
    key: str
