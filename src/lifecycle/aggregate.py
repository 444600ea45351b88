"""The base of every aggregate: each event carries the change's metadata (R60)."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate


class LifecycleAggregate(Aggregate):
    """An aggregate whose events record the calling service, actor and ids.

    Event methods take ``timestamp`` and ``meta`` (see ``Change.stamp``), so the
    event's timestamp is the instant the application passed in, not a clock read.
    """

    class Event(Aggregate.Event):
        meta: dict[str, Any]
