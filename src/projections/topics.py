"""Which events a projection follows: its ``topics`` are the events' topics."""

from __future__ import annotations

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic


def event_topics(*aggregates: type[Aggregate]) -> list[str]:
    """The topics of every event class the given aggregate classes declare (their
    ``@event`` methods' classes included), aggregate by aggregate."""
    return [
        get_topic(value)
        for cls in aggregates
        for value in vars(cls).values()
        if isinstance(value, type) and issubclass(value, cls.Event)
    ]
