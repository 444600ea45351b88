"""Aggregates as the events a projection follows leave them, kept per thread, so that
a projection needing each event's aggregate at the event's version moves its copy on
by the event instead of reading the aggregate's history again from the store."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID

from infrastructure.store import LifecycleStore

RECENT_AGGREGATES = 4096
"""How many aggregates each thread keeps at the version its last event left them."""


class RecentAggregates:
    """Per thread (a live runner and a rebuild each have their own): the aggregates
    recent events left, at most ``size`` of them, least recently used dropped first."""

    def __init__(self, store: LifecycleStore, size: int = RECENT_AGGREGATES) -> None:
        self.store = store
        self.size = size
        self._threads = threading.local()

    def _recent(self) -> OrderedDict[UUID, Any]:
        recent: OrderedDict[UUID, Any] | None = getattr(self._threads, "recent", None)
        if recent is None:
            recent = self._threads.recent = OrderedDict()
        return recent

    def at(self, event: Any) -> Any:
        """The event's aggregate at the event's version: the recent copy moved on by this
        event when it stands just before it (the store's reconstruction does the same
        fold), the creation event's own aggregate, or else read from the store."""
        recent = self._recent()
        version = event.originator_version
        known = recent.pop(event.originator_id, None)  # dropped if the event fails below
        if known is not None and known.version == version - 1:
            aggregate = event.mutate(known)
        elif known is not None and known.version == version:
            aggregate = known
        elif version == 1:
            aggregate = event.mutate(None)
        else:
            aggregate = self.store.repository.get(event.originator_id, version=version)
        recent[event.originator_id] = aggregate
        if len(recent) > self.size:
            recent.popitem(last=False)
        return aggregate

    def clear(self) -> None:
        """Forget this thread's copies (after an erasure: they hold values it removed)."""
        self._recent().clear()
