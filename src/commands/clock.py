"""The clock port: the application asks it once per command and passes the instant down."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Protocol

from lifecycle.errors import Rejected


class Clock(Protocol):
    @property
    def is_manual(self) -> bool: ...

    def now(self) -> datetime: ...


class SystemClock:
    is_manual = False

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ClockBackwards(Rejected):
    slug = "clock-backwards"


class ManualClock:
    """A clock that moves only when told to (``LIFECYCLE_CLOCK=manual``)."""

    is_manual = True

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(timezone.utc)
        if start.tzinfo is None:
            raise ValueError("the manual clock starts at an aware instant")
        self._now = start.astimezone(timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the manual clock is set to an aware instant")
        with self._lock:
            if instant < self._now:
                raise ClockBackwards(
                    f"the clock is at {self._now.isoformat()}; it cannot go back to "
                    f"{instant.isoformat()}"
                )
            self._now = instant.astimezone(timezone.utc)
