"""Database restart: PostgreSQL is stopped and started again under a running
``lifecycle serve`` while clients send commands.

While the database is down every answer is 503 ``store-unavailable`` (never a 500),
fast, and ``GET /health`` says the store is unavailable. Once it is back the same
process serves again, without a restart, and every command that was acknowledged is in
the log exactly once. The clients retry each command with its Idempotency-Key until it
is acknowledged, as the contract invites them to.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from in_process import service_on
from lifecycle_server import COMMANDS_SECRET, OPS_SECRET, Client, LifecycleServer
from load import (
    Command,
    check_log,
    commands_for,
    recorded_by_command,
    run_workers,
    seed_subscriptions,
    send_all,
    send_one,
    usage_counts,
)
from pg_cluster import PostgresCluster

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

WORKERS = 4
COMMANDS_PER_WORKER = 150
STOP_AFTER_ACKNOWLEDGED = 200
DOWN_SECONDS = 4.0
"""How long the database stays down once ``/health`` has reported it down."""
FAST_ANSWER_SECONDS = 3.0
"""A request that arrives while the database is down is answered within this."""


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL of this test's own, to stop and start (the suite's server stays up)."""
    with PostgresCluster() as cluster:
        yield cluster


def test_a_database_restart_answers_503_while_down_and_loses_no_acknowledged_command(
    cluster: PostgresCluster,
    serve: Callable[..., LifecycleServer],
    report: Callable[[str, dict[str, Any]], None],
) -> None:
    server = serve(cluster.url, log_level="WARNING")
    pid = server.pid
    setup = Client(server.base_url, COMMANDS_SECRET)
    subscription_ids = seed_subscriptions(setup, WORKERS + 1, "restart")
    commands = [
        commands_for(worker, subscription_ids[worker], COMMANDS_PER_WORKER, "restart")
        for worker in range(WORKERS)
    ]
    while_down = commands_for(WORKERS, subscription_ids[WORKERS], 300, "restart-down")
    sent_while_down: list[Command] = []

    lock = threading.Lock()
    acknowledged_at: list[float] = []
    unavailable: list[tuple[float, float]] = []  # (when sent, how long the answer took)
    other: list[tuple[str, int | str, str]] = []

    def decide(command: Command, answer: httpx.Response | None, error: BaseException | None) -> str:
        now = time.monotonic()
        if answer is None:
            with lock:
                other.append((command.key, type(error).__name__, str(error)))
            return "give_up"
        if 200 <= answer.status_code < 300:
            with lock:
                acknowledged_at.append(now)
            return "done"
        problem = answer.json() if answer.headers.get("content-type", "").startswith(
            "application/problem+json"
        ) else {}
        if answer.status_code == 503 and problem.get("type") == "/problems/store-unavailable":
            took = answer.elapsed.total_seconds()
            with lock:
                unavailable.append((now - took, took))
            return "retry"
        if answer.status_code == 409 and problem.get("type") == "/problems/idempotency-key-in-use":
            return "retry"
        with lock:
            other.append((command.key, answer.status_code, answer.text))
        return "give_up"

    clients = [Client(server.base_url, COMMANDS_SECRET, timeout=120) for _ in range(WORKERS)]
    health_down: list[dict[str, Any]] = []
    reads_down: list[tuple[int, str, float]] = []
    timeline: dict[str, float] = {}

    def damage() -> None:
        while len(acknowledged_at) < STOP_AFTER_ACKNOWLEDGED:
            time.sleep(0.01)
        timeline["stopping"] = time.monotonic()
        cluster.stop("fast")
        timeline["stopped"] = time.monotonic()
        ops = Client(server.base_url, OPS_SECRET, timeout=10)
        while ops.http.get("/health").json()["store"] != "unavailable":
            time.sleep(0.05)
        timeline["detected"] = time.monotonic()
        while time.monotonic() - timeline["detected"] < DOWN_SECONDS:
            began = time.monotonic()
            health = ops.http.get("/health")
            assert health.status_code == 200, health.text
            health_down.append(health.json())
            read = ops.http.get(f"/v1/subscriptions/{subscription_ids[0]}")
            reads_down.append(
                (read.status_code, read.json().get("type", ""), time.monotonic() - began)
            )
            command = while_down[len(sent_while_down)]
            sent_while_down.append(command)
            send_one(clients[0], command, lambda *_: "give_up")
            time.sleep(0.2)
        cluster.start()
        timeline["started"] = time.monotonic()
        while True:
            if ops.http.get("/health").json()["store"] == "ok":
                timeline["healthy"] = time.monotonic()
                return
            time.sleep(0.05)

    run_workers(
        [lambda c=client, w=work: send_all(c, w, decide) for client, work in zip(clients, commands)]
        + [damage]
    )
    run_started = min(acknowledged_at)
    first_after = min(t for t in acknowledged_at if t > timeline["started"])
    refused_while_down = [c.answers[0] for c in sent_while_down]
    for command in sent_while_down:  # the client tries again once the store is back
        send_one(clients[0], command, decide)
    every = [c for worker in commands for c in worker] + sent_while_down

    assert other == [], other[:5]
    assert all(c.acknowledged is not None for c in every)
    assert server.running and server.pid == pid, "the server was not restarted"

    # While down: health said so, reads and commands were 503 store-unavailable, fast.
    assert health_down and all(h["store"] == "unavailable" for h in health_down), health_down
    assert reads_down and all(
        status == 503 and kind == "/problems/store-unavailable" for status, kind, _ in reads_down
    ), reads_down
    assert max(seconds for _, _, seconds in reads_down) < FAST_ANSWER_SECONDS
    assert refused_while_down and set(refused_while_down) == {503}, refused_while_down
    during = [
        seconds for sent, seconds in unavailable if timeline["detected"] < sent < timeline["started"]
    ]
    assert max(during, default=0) < FAST_ANSWER_SECONDS

    # After: the projections follow the log again, in the same process.
    ops = Client(server.base_url, OPS_SECRET)
    deadline = time.monotonic() + 60
    while True:
        shown = ops.call("GET", "/v1/ops/projections")
        if all(p["status"] == "live" and p["lag"] == 0 for p in shown) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(p["name"], p["status"], p["lag"]) for p in shown] == [
        (p["name"], "live", 0) for p in shown
    ]
    assert ops.call("GET", "/health")["status"] == "ok"

    # Every acknowledged command is in the log exactly once.
    with service_on(cluster.url) as reader:
        recorded = recorded_by_command(reader)
    checked = check_log(every, recorded)
    assert (checked.lost, checked.duplicated, checked.partial) == ([], [], [])
    usage = usage_counts(every, recorded)
    for subscription_id in subscription_ids:
        shown_usage = setup.call("GET", f"/v1/subscriptions/{subscription_id}")["usage"]
        assert shown_usage["responses"] == usage[subscription_id]
    assert sum(usage.values()) == sum(1 for c in every if c.kind == "usage")

    report(
        "database_restart",
        {
            **checked.figures(),
            "workers": WORKERS,
            "acknowledged_before_the_stop": sum(1 for t in acknowledged_at if t < timeline["stopping"]),
            "database_down_seconds": round(timeline["started"] - timeline["stopped"], 1),
            "detected_down_after_seconds": round(timeline["detected"] - timeline["stopped"], 2),
            "commands_sent_while_down": len(sent_while_down),
            "store_unavailable_answers": len(unavailable)
            + len(refused_while_down)
            + sum(1 for r in reads_down if r[0] == 503),
            "slowest_503_once_detected_seconds": round(max(during + [r[2] for r in reads_down]), 2),
            "first_acknowledged_after_start_seconds": round(first_after - timeline["started"], 2),
            "healthy_after_start_seconds": round(timeline["healthy"] - timeline["started"], 2),
            "run_seconds": round(max(acknowledged_at) - run_started, 1),
            "answers": dict(Counter(str(a) for c in every for a in c.answers)),
        },
    )
