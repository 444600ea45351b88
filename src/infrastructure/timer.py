"""A job run every few seconds in a background thread, by APScheduler."""

from __future__ import annotations

from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler


class IntervalTimer:
    """Calls ``job`` every ``seconds``: never two runs at once, and the runs missed
    while one was running are made up by one run, not several."""

    def __init__(self, job: Callable[[], object], seconds: float, name: str) -> None:
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_job(
            job,
            "interval",
            seconds=seconds,
            id=name,
            max_instances=1,
            coalesce=True,
        )

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        """Stop, after the run in progress (if any) has finished."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
