"""Crash: clients send a few thousand commands to ``lifecycle serve`` on PostgreSQL and
record every answer; the server is killed with SIGKILL in the middle of the load and
started again on the same database.

What must hold: every acknowledged command's events exist exactly once; no command is
recorded in part; a command whose answer was lost in the crash is answered on retry
from what was recorded, without running again; after the restart every projection
equals a rebuild of it from the log, row for row.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from in_process import projections_against_rebuilds, service_on
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

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

WORKERS = 8
COMMANDS_PER_WORKER = 250
KILL_AFTER_ACKNOWLEDGED = 800
RETRY_IN_DOUBT_UNTIL = 15.0
"""Until how long after the kill a client retries a command whose answer it lost in the
crash while the service answers 409 ``idempotency-key-in-use``. A key whose command
committed is answered from the record 10 s after its commit; a key the killed process
had claimed without committing anything stays in use until it is abandoned (2 min)."""

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
"""Transport errors that mean the request never reached the server."""


def test_a_server_killed_mid_load_loses_and_doubles_nothing(
    postgres_url: str,
    serve: Callable[..., LifecycleServer],
    report: Callable[[str, dict[str, Any]], None],
) -> None:
    server = serve(postgres_url, log_level="WARNING")
    setup = Client(server.base_url, COMMANDS_SECRET)
    subscription_ids = seed_subscriptions(setup, WORKERS, "crash")
    commands = [
        commands_for(worker, subscription_ids[worker], COMMANDS_PER_WORKER, "crash")
        for worker in range(WORKERS)
    ]
    every = [c for worker in commands for c in worker]

    lock = threading.Lock()
    acknowledged = [0]
    in_doubt: list[Command] = []
    unexpected: list[tuple[str, Any]] = []
    timeline: dict[str, float] = {}

    def decide(command: Command, answer: httpx.Response | None, error: BaseException | None) -> str:
        if answer is not None and 200 <= answer.status_code < 300:
            with lock:
                acknowledged[0] += 1
            return "done"
        if isinstance(error, NOT_SENT):
            return "retry"  # the server is down or starting: nothing was sent
        if error is not None:  # sent, and no answer: it may or may not have run
            with lock:
                in_doubt.append(command)
            return "give_up"
        assert answer is not None
        with lock:
            unexpected.append((command.key, answer.status_code, answer.text))
        return "give_up"

    clients = [Client(server.base_url, COMMANDS_SECRET, timeout=60) for _ in range(WORKERS)]

    def crash() -> None:
        while acknowledged[0] < KILL_AFTER_ACKNOWLEDGED:
            time.sleep(0.005)
        timeline["killed"] = time.monotonic()
        timeline["acknowledged_before_the_kill"] = acknowledged[0]
        assert server.kill() == -9
        server.start()
        timeline["healthy_again"] = time.monotonic()

    started = time.monotonic()
    run_workers(
        [lambda c=client, w=work: send_all(c, w, decide) for client, work in zip(clients, commands)]
        + [crash]
    )
    timeline["load_done"] = time.monotonic()
    assert unexpected == [], unexpected[:5]
    assert in_doubt, "no request was in flight when the server was killed"

    # The clients retry what they sent without an answer, with the same key and body.
    def retry_in_doubt(command: Command, answer: httpx.Response | None, error: BaseException | None) -> str:
        if answer is not None and 200 <= answer.status_code < 300:
            return "done"
        if (
            answer is not None
            and answer.status_code == 409
            and "idempotency-key-in-use" in answer.text
            and time.monotonic() - timeline["killed"] < RETRY_IN_DOUBT_UNTIL
        ):
            return "retry"
        return "give_up"

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda c: send_one(clients[0], c, retry_in_doubt, pause=0.5), in_doubt))
    recovered = [c for c in in_doubt if c.acknowledged and c.acknowledged.get("recovered")]
    replayed_or_run = [c for c in in_doubt if c.acknowledged and not c.acknowledged.get("recovered")]
    held = [c for c in in_doubt if not c.acknowledged]
    assert all(c.answers[-1] == 409 for c in held), [c.answers for c in held]

    # The projections have followed the whole log in the restarted process.
    ops = Client(server.base_url, OPS_SECRET)
    deadline = time.monotonic() + 60
    while True:
        shown = ops.call("GET", "/v1/ops/projections")
        if all(p["lag"] == 0 for p in shown) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(p["name"], p["status"], p["lag"]) for p in shown] == [
        (p["name"], "live", 0) for p in shown
    ]

    timeline["compare_started"] = time.monotonic()
    with service_on(postgres_url) as reader:
        recorded = recorded_by_command(reader)
        compared = projections_against_rebuilds(reader)
    timeline["compare_done"] = time.monotonic()
    checked = check_log(every, recorded)

    assert (checked.lost, checked.duplicated, checked.partial) == ([], [], [])
    # Commands still unacknowledged (their keys held by the killed process) recorded
    # nothing; those answered from the record after the crash ran exactly once.
    assert checked.applied_unacknowledged == []
    for command in recovered:
        assert recorded[command.key] == Counter(
            {"Subscription.UsageRecorded": 1} if command.kind == "usage"
            else {"Organisation.Registered": 1, "Account.Opened": 1}
        )
    usage = usage_counts(every, recorded)
    for subscription_id in subscription_ids:
        shown_usage = setup.call("GET", f"/v1/subscriptions/{subscription_id}")["usage"]
        assert shown_usage["responses"] == usage[subscription_id]
    assert {name: c["differences"] for name, c in compared.items()} == {
        name: [] for name in compared
    }
    assert all(c["position"] == c["rebuilt_to"] for c in compared.values()), compared

    # A graceful stop after all this ends the process with status 0.
    assert server.terminate() == 0, server.output()[-2000:]

    report(
        "crash",
        {
            **checked.figures(),
            "workers": WORKERS,
            "acknowledged_before_the_kill": timeline["acknowledged_before_the_kill"],
            "in_flight_at_the_kill": len(in_doubt),
            "in_flight_answered_from_the_record": len(recovered),
            "in_flight_run_or_replayed_on_retry": len(replayed_or_run),
            "in_flight_never_committed_key_held": len(held),
            "restart_seconds": round(timeline["healthy_again"] - timeline["killed"], 1),
            "load_seconds": round(timeline["load_done"] - started, 1),
            "log_and_rebuild_check_seconds": round(
                timeline["compare_done"] - timeline["compare_started"], 1
            ),
            "projections_compared": {
                name: {"rows": c["rows"], "position": c["position"]} for name, c in compared.items()
            },
        },
    )
