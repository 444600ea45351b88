"""The time-driven work under the system clock: a timer (``infrastructure.timer``)
calls ``TimeDrivenScheduler.tick`` every few seconds, and each tick runs what is due,
in one process at a time when several share a database (``WorkLock``)."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from commands.services import Services
from commands.time_driven import DueWork, run_due
from infrastructure.database import STORE_DOWN_ERRORS, StoreUnavailable

log = logging.getLogger("lifecycle.scheduler")


class WorkLock(Protocol):
    def held(self) -> Any:
        """A context manager yielding True when this process holds the lock."""


class TimeDrivenScheduler:
    def __init__(self, services: Services, due_work: DueWork, lock: WorkLock) -> None:
        self._services = services
        self._due_work = due_work
        self._lock = lock

    def tick(self) -> int:
        """One run: everything due now, if this process holds the lock."""
        try:
            with self._lock.held() as acquired:
                if not acquired:
                    return 0
                done = run_due(self._services, self._due_work, self._services.clock.now())
                if done.performed or done.failed:
                    log.info(
                        "time-driven work: %d item(s) done, %d failed",
                        done.performed,
                        len(done.failed),
                    )
                return done.performed
        except (StoreUnavailable, *STORE_DOWN_ERRORS) as error:
            log.warning("time-driven work waits for the store: %s", error)
            return 0
