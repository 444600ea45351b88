"""The request deadline: PostgreSQL is stopped under a running ``lifecycle serve`` while
clients send commands, and stays down well past the deadline.

The requests in flight at that moment, and those that arrive before the service has
seen the outage, are answered 503 ``store-unavailable`` within the deadline (plus a
generous margin for a loaded machine), not after the event store's retries (about
50 s) or once the database is back. Nothing is recorded in part, and every command the
clients retried with its Idempotency-Key is in the log exactly once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from in_process import service_on
from lifecycle_server import COMMANDS_SECRET, Client, LifecycleServer
from load import (
    Command,
    check_log,
    commands_for,
    recorded_by_command,
    run_workers,
    seed_subscriptions,
    send_all,
)
from pg_cluster import PostgresCluster

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

DEADLINE_SECONDS = 3.0
MARGIN_SECONDS = 4.0
DOWN_SECONDS = 12.0
"""Longer than the deadline and its margin: a request that waited for the database to
come back would be answered too late."""
WORKERS = 4
COMMANDS_PER_WORKER = 60
STOP_AFTER_ACKNOWLEDGED = 40


@dataclass
class Attempt:
    key: str
    sent: float
    answered: float
    status: int
    kind: str  # the problem type, if any

    @property
    def seconds(self) -> float:
        return self.answered - self.sent


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL of this test's own, to stop and start (the suite's server stays up)."""
    with PostgresCluster() as cluster:
        yield cluster


def test_a_request_in_flight_when_the_database_stops_answers_503_within_the_deadline(
    cluster: PostgresCluster,
    serve: Callable[..., LifecycleServer],
    report: Callable[[str, dict[str, Any]], None],
) -> None:
    server = serve(cluster.url, request_deadline_seconds=str(DEADLINE_SECONDS), log_level="WARNING")
    setup = Client(server.base_url, COMMANDS_SECRET)
    subscription_ids = seed_subscriptions(setup, WORKERS, "deadline")
    commands = [
        commands_for(worker, subscription_ids[worker], COMMANDS_PER_WORKER, "deadline")
        for worker in range(WORKERS)
    ]
    lock = threading.Lock()
    attempts: list[Attempt] = []
    failures: list[tuple[str, str]] = []
    timeline: dict[str, float] = {}

    def decide(command: Command, answer: httpx.Response | None, error: BaseException | None) -> str:
        now = time.monotonic()
        if answer is None:
            with lock:
                failures.append((command.key, repr(error)))
            return "give_up"
        kind = ""
        if answer.headers.get("content-type", "").startswith("application/problem+json"):
            kind = answer.json().get("type", "")
        took = answer.elapsed.total_seconds()
        with lock:
            attempts.append(Attempt(command.key, now - took, now, answer.status_code, kind))
        if 200 <= answer.status_code < 300:
            return "done"
        if (answer.status_code, kind) in (
            (503, "/problems/store-unavailable"),
            (409, "/problems/idempotency-key-in-use"),
        ):
            return "retry"
        with lock:
            failures.append((command.key, f"{answer.status_code} {answer.text}"))
        return "give_up"

    def acknowledged() -> int:
        with lock:
            return sum(1 for a in attempts if 200 <= a.status < 300)

    def damage() -> None:
        while acknowledged() < STOP_AFTER_ACKNOWLEDGED:
            time.sleep(0.01)
        timeline["stopping"] = time.monotonic()
        cluster.stop("fast")
        timeline["stopped"] = time.monotonic()
        time.sleep(DOWN_SECONDS)
        cluster.start()
        timeline["started"] = time.monotonic()

    clients = [Client(server.base_url, COMMANDS_SECRET, timeout=120) for _ in range(WORKERS)]
    run_workers(
        [
            lambda c=client, w=work: send_all(c, w, decide, pause=0.2)
            for client, work in zip(clients, commands)
        ]
        + [damage]
    )
    every = [c for worker in commands for c in worker]

    assert failures == [], failures[:5]
    assert all(c.acknowledged is not None for c in every)

    # Every attempt made while the database was down, those in flight when it stopped
    # included, was answered within the deadline: 503 store-unavailable, never a 500.
    during = [
        a for a in attempts if a.sent < timeline["started"] and a.answered > timeline["stopping"]
    ]
    in_flight = [a for a in during if a.sent < timeline["stopped"]]
    assert in_flight, "no request was in flight when the database stopped"
    assert any(a.status == 503 for a in in_flight), in_flight
    slowest = max(during, key=lambda a: a.seconds)
    assert slowest.seconds < DEADLINE_SECONDS + MARGIN_SECONDS, slowest
    assert {(a.status, a.kind) for a in during if a.status >= 300} <= {
        (503, "/problems/store-unavailable"),
        (409, "/problems/idempotency-key-in-use"),
    }

    # Nothing recorded in part; every acknowledged command exactly once.
    with service_on(cluster.url) as reader:
        recorded = recorded_by_command(reader)
    checked = check_log(every, recorded)
    assert (checked.lost, checked.duplicated, checked.partial) == ([], [], [])

    report(
        "request_deadline",
        {
            **checked.figures(),
            "deadline_seconds": DEADLINE_SECONDS,
            "database_down_seconds": round(timeline["started"] - timeline["stopped"], 1),
            "in_flight_when_stopped": len(in_flight),
            "in_flight_answered_503": sum(1 for a in in_flight if a.status == 503),
            "slowest_in_flight_seconds": round(max(a.seconds for a in in_flight), 2),
            "slowest_while_down_seconds": round(slowest.seconds, 2),
            "answers_while_down": dict(Counter(str(a.status) for a in during)),
        },
    )
