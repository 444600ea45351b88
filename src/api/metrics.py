"""Prometheus metrics of one service instance, in a registry of its own (not the
process-wide default), so that every container built in a process counts apart.

Counters and histograms move as requests, commands and time-driven work happen; the
event log's head, each projection's position, lag and status and whether the store
answers are read from the database at scrape time (``StoreCollector``), so they are
as fresh as the scrape and the same whichever process is scraped.
"""

from __future__ import annotations

import collections
import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from api.logs import LogContext, bound, current_context
from commands.context import Caller
from infrastructure.database import STORE_DOWN_ERRORS, StoreUnavailable
from lifecycle.due import DueItem
from lifecycle.errors import DomainError

log = logging.getLogger("lifecycle.time_driven")

PROJECTION_STATUSES = ("live", "rebuilding", "failed")
STORE_ERRORS: tuple[type[BaseException], ...] = (StoreUnavailable, *STORE_DOWN_ERRORS)


class StoreCollector:
    """Reads the log head, each projection's tracking row and the failed due items
    when scraped."""

    def __init__(self, services: Any, runners: Mapping[str, Any], due_work: Any = None) -> None:
        self._services = services
        self._runners = runners
        self._due_work = due_work

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    @staticmethod
    def _families() -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "lifecycle_store_up", "1 when the event store answered this scrape, else 0"
        )
        yield GaugeMetricFamily(
            "lifecycle_event_log_head", "The position of the last event recorded in the log"
        )
        yield GaugeMetricFamily(
            "lifecycle_projection_position",
            "The last log position the projection has applied",
            labels=["projection"],
        )
        yield GaugeMetricFamily(
            "lifecycle_projection_lag_events",
            "Events recorded but not yet applied by the projection (log head minus position)",
            labels=["projection"],
        )
        yield GaugeMetricFamily(
            "lifecycle_projection_status",
            "1 for the projection's current status (live, rebuilding or failed), else 0",
            labels=["projection", "status"],
        )
        yield GaugeMetricFamily(
            "lifecycle_due_work_failed_items",
            "Due items whose work failed and is held back for a retry, by kind",
            labels=["kind"],
        )

    def collect(self) -> Iterable[Metric]:
        up, head, position, lag, status, failed = self._families()
        try:
            last = self._services.head()
            rows = {name: runner.status() for name, runner in self._runners.items()}
            failures = self._due_work.failures() if self._due_work is not None else []
        except STORE_ERRORS as error:
            log.warning("metrics: the store does not answer: %s", error)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        head.add_metric([], last)
        for name, row in rows.items():
            applied = int(row["position"])
            position.add_metric([name], applied)
            lag.add_metric([name], max(0, last - applied))
            for state in PROJECTION_STATUSES:
                status.add_metric([name, state], 1 if row["status"] == state else 0)
        by_kind = collections.Counter(failure.kind for failure in failures)
        for kind in sorted(by_kind):
            failed.add_metric([kind], by_kind[kind])
        return [up, head, position, lag, status, failed]


class Metrics:
    """The metric families of one service instance."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._store: StoreCollector | None = None
        self.http_requests = Counter(
            "lifecycle_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "lifecycle_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.commands = Counter(
            "lifecycle_commands",
            "Commands (POST, PUT, PATCH, DELETE on a route) by route name and outcome: "
            "ok, or the problem type's slug",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.time_driven = Counter(
            "lifecycle_time_driven_work",
            "Due items of time-driven work performed, by kind and outcome: ok, or the "
            "problem type's slug, or error",
            ["kind", "outcome"],
            registry=self.registry,
        )

    def watch_store(
        self, services: Any, runners: Mapping[str, Any], due_work: Any = None
    ) -> None:
        """Report the log head, the projections, the failed due items and the store's
        health at each scrape."""
        self._store = StoreCollector(services, runners, due_work)
        self.registry.register(self._store)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The text format the scraper asked for (``Accept``), and its content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self._scraped()), content_type

    def _scraped(self) -> CollectorRegistry:
        """This instance's registry; under ``lifecycle serve --workers N``
        (``PROMETHEUS_MULTIPROC_DIR`` set) the counts of every process of the service,
        summed from their files, and the store's readings."""
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        if self._store is not None:
            registry.register(self._store)
        return registry


def outcome_of(error: BaseException) -> str:
    """How a failed piece of work is counted: the problem type it maps to, or ``error``."""
    if isinstance(error, DomainError):
        return error.slug
    if isinstance(error, STORE_ERRORS):
        return "store-unavailable"
    return "error"


class TimeDrivenObserver:
    """Around each due item performed (``commands.time_driven.WorkObserver``): its log
    lines carry the item's correlation and command ids, and it is counted and logged
    once with its outcome."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    @contextmanager
    def performing(self, item: DueItem) -> Iterator[None]:
        caller = Caller.scheduler(item.key)
        context = replace(
            current_context() or LogContext(),
            correlation_id=caller.correlation_id,
            command_id=caller.command_id,
        )
        started = time.perf_counter()
        outcome = "error"
        with bound(context):
            try:
                yield
                outcome = "ok"
            except BaseException as error:  # counted and logged here, then re-raised
                outcome = outcome_of(error)
                raise
            finally:
                self._metrics.time_driven.labels(item.kind, outcome).inc()
                log.log(
                    logging.INFO if outcome == "ok" else logging.WARNING,
                    "time-driven work %s: %s",
                    item.kind,
                    outcome,
                    extra={
                        "kind": item.kind,
                        "due_item": item.key,
                        "due_at": item.due_at.isoformat(),
                        "outcome": outcome,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    },
                )
