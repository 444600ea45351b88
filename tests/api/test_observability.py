"""Logs and metrics as an operator sees them: JSON lines carrying each request's and
each due item's ids (the ids its events record), and Prometheus metrics at /metrics
that move with the requests, commands and time-driven work the service handles."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.bootstrap import Container
from api.logs import log_handler
from infrastructure.database import StoreUnavailable

PROJECTIONS = ("due_work", "notifications", "audit_chain", "profiles", "contracts")


class CapturedLogs:
    """Every record of every logger, as the service writes it (the JSON handler)."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        """Each line parsed; a line that is not one JSON object fails the test."""
        parsed = []
        for line in self.stream.getvalue().splitlines():
            document = json.loads(line)
            assert isinstance(document, dict), line
            assert {"timestamp", "level", "logger", "message"} <= document.keys(), line
            parsed.append(document)
        return parsed

    def access(self, method: str, route: str) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines()
            if line["logger"] == "lifecycle.access"
            and line["method"] == method
            and line["route"] == route
        ]


@pytest.fixture
def logs() -> Iterator[CapturedLogs]:
    captured = CapturedLogs()
    handler = log_handler(captured.stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def scrape(hub: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of GET /metrics, by name and labels."""
    response = hub.get("/metrics", token="ops")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- logs ------------------------------------------------------------------------------


def test_an_unexpected_error_answers_a_problem_and_logs_its_traceback_with_the_request_id(
    hub: Any, logs: CapturedLogs
) -> None:
    def broken() -> None:
        raise RuntimeError("a defect no test foresaw")

    hub.client.app.add_api_route("/v1/broken-for-this-test", broken, methods=["GET"])

    answered = hub.get("/v1/broken-for-this-test")

    body = hub.problem(answered, 500, "internal-error")
    assert body["request_id"] and body["request_id"] in body["detail"]
    assert "a defect" not in answered.text  # the details stay in the log
    (logged,) = [line for line in logs.lines() if line["logger"] == "lifecycle.api"]
    assert logged["level"] == "ERROR"
    assert logged["request_id"] == body["request_id"]
    assert "RuntimeError: a defect no test foresaw" in logged["exc_info"]
    (access,) = logs.access("GET", "/v1/broken-for-this-test")
    assert access["status"] == 500 and access["request_id"] == body["request_id"]


def test_a_requests_lines_are_json_and_carry_its_correlation_id_into_the_handler(
    hub: Any, logs: CapturedLogs, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = hub.open_account()
    begin = {"plan": "strategic_research", "account_id": opened["account_id"]}
    started = hub.ok(hub.post("/v1/purchases", begin), 201)
    gateway = hub.container.services.gateway
    charge = gateway.charge

    def charge_and_log(request: Any, at: Any) -> Any:
        logging.getLogger("lifecycle.payments").info("charging %s", request.idempotency_key)
        return charge(request, at)

    monkeypatch.setattr(gateway, "charge", charge_and_log)
    before = hub.head()

    done = hub.ok(
        hub.complete(
            started["purchase_id"],
            hub.completion(),
            headers={"X-Correlation-Id": "corr-observability-1"},
        )
    )

    mine = [line for line in logs.lines() if line.get("correlation_id") == "corr-observability-1"]
    assert [line["logger"] for line in mine] == ["lifecycle.payments", "lifecycle.access"], mine
    charged, access = mine
    assert charged["message"].startswith("charging ")
    assert charged["request_id"] == access["request_id"]
    assert access["route"] == "/v1/purchases/{purchase_id}/complete"
    assert (access["method"], access["status"], access["token"]) == ("POST", 200, "test-commands")
    assert (access["command"], access["outcome"]) == ("complete_purchase", "ok")
    assert isinstance(access["duration_ms"], float)
    events = hub.events_after(before)
    assert events and done["position"] == before + len(events)
    assert {event.meta["correlation_id"] for event in events} == {"corr-observability-1"}
    assert {event.meta["command_id"] for event in events} == {access["command_id"]}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Idempotency-Key": "key-observability-2"},
        {"X-Correlation-Id": "corr-observability-3"},
        {"Idempotency-Key": "key-observability-4", "X-Correlation-Id": "corr-observability-4"},
    ],
    ids=["generated", "idempotency-key", "correlation-id", "both"],
)
def test_a_commands_ids_in_its_access_line_are_those_its_events_record(
    hub: Any, logs: CapturedLogs, headers: dict[str, str]
) -> None:
    before = hub.head()
    body = {"email": hub.unique_email(), "name": "Ada", "username": "ada-observed", "kind": "free"}
    hub.ok(hub.post("/v1/accounts", body, headers=headers), 201)

    [access] = logs.access("POST", "/v1/accounts")
    events = hub.events_after(before)
    assert events
    assert {event.meta["correlation_id"] for event in events} == {access["correlation_id"]}
    assert {event.meta["command_id"] for event in events} == {access["command_id"]}
    if "X-Correlation-Id" in headers:
        assert access["correlation_id"] == headers["X-Correlation-Id"]
    if "Idempotency-Key" in headers:
        assert access["command_id"] == headers["Idempotency-Key"]


def test_a_route_with_a_token_in_its_path_is_logged_by_its_template(
    hub: Any, logs: CapturedLogs
) -> None:
    opened = hub.open_account()
    hub.ok(hub.get(f"/v1/profiles/{opened['account_id']}", params={"min_position": hub.head()}))
    hub.problem(hub.get("/v1/nowhere/at-all"), 404, "not-found")
    hub.problem(hub.get("/v1/plans", token=None), 401, "unauthorized")

    [profile] = logs.access("GET", "/v1/profiles/{account_id}")
    assert opened["account_id"] not in json.dumps(profile)
    [unmatched] = logs.access("GET", "unmatched")
    assert (unmatched["status"], unmatched["outcome"]) == (404, "not-found")
    assert "nowhere" not in json.dumps(unmatched)
    [refused] = logs.access("GET", "/v1/plans")
    assert (refused["status"], refused["token"], refused["outcome"]) == (401, None, "unauthorized")


def test_a_known_token_refused_for_its_scope_is_named_in_the_access_line(
    hub: Any, logs: CapturedLogs
) -> None:
    hub.problem(hub.get("/v1/ops/projections", token="views"), 403, "forbidden")
    hub.problem(hub.post("/v1/accounts", {}, token="audit"), 403, "forbidden")

    [ops] = logs.access("GET", "/v1/ops/projections")
    [accounts] = logs.access("POST", "/v1/accounts")
    assert (ops["status"], ops["token"], ops["outcome"]) == (403, "test-views", "forbidden")
    assert (accounts["status"], accounts["token"]) == (403, "test-audit")
    assert hub.secrets["views"] not in json.dumps(ops)


def test_time_driven_work_logs_each_item_with_the_ids_its_events_record(
    hub: Any, logs: CapturedLogs
) -> None:
    bought = hub.subscriber()
    before = hub.head()

    hub.advance(hub.now() + timedelta(days=340))

    work = [line for line in logs.lines() if line["logger"] == "lifecycle.time_driven"]
    reminders = [line for line in work if line["kind"] == "renewal_reminder"]
    assert [line["outcome"] for line in reminders] == ["ok"], work
    [reminder] = reminders
    assert bought["subscription_id"] in reminder["due_item"]
    assert reminder["correlation_id"] == reminder["due_item"]
    assert reminder["command_id"] == f"due:{reminder['due_item']}"
    by_scheduler = [e for e in hub.events_after(before) if e.meta["service"] == "scheduler"]
    assert by_scheduler
    keys = {line["due_item"] for line in work}
    assert {e.meta["correlation_id"] for e in by_scheduler} <= keys
    assert {e.meta["command_id"] for e in by_scheduler} <= {f"due:{key}" for key in keys}


# --- metrics ---------------------------------------------------------------------------


def test_metrics_need_the_ops_scope(hub: Any) -> None:
    hub.problem(hub.get("/metrics", token=None), 401, "unauthorized")
    hub.problem(hub.get("/metrics", token="views"), 403, "forbidden")
    hub.problem(hub.get("/metrics", token="audit"), 403, "forbidden")
    assert hub.get("/metrics", token="ops").status_code == 200


def test_requests_and_command_outcomes_are_counted(hub: Any) -> None:
    before = scrape(hub)

    for _ in range(2):
        assert hub.get("/v1/plans").status_code == 200
    hub.open_account()
    hub.problem(hub.post("/v1/accounts", {"email": "not-an-email"}), 422, "invalid-request")
    hub.problem(hub.post("/v1/accounts", {}, token=None), 401, "unauthorized")
    hub.problem(hub.post("/v1/accounts", {"cvc": "123"}), 422, "raw-card-data-refused")
    hub.problem(hub.get("/v1/nowhere"), 404, "not-found")

    after = scrape(hub)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "lifecycle_http_requests_total"
    assert delta(requests, method="GET", route="/v1/plans", status="200") == 2
    assert delta(requests, method="POST", route="/v1/accounts", status="201") == 1
    assert delta(requests, method="POST", route="/v1/accounts", status="422") == 2
    assert delta(requests, method="POST", route="/v1/accounts", status="401") == 1
    assert delta(requests, method="GET", route="unmatched", status="404") == 1
    durations = "lifecycle_http_request_duration_seconds_count"
    assert delta(durations, method="GET", route="/v1/plans", status="200") == 2
    commands = "lifecycle_commands_total"
    assert delta(commands, command="open_account", outcome="ok") == 1
    assert delta(commands, command="open_account", outcome="invalid-request") == 1
    assert delta(commands, command="open_account", outcome="unauthorized") == 1
    assert delta(commands, command="open_account", outcome="raw-card-data-refused") == 1
    counted_commands = {dict(labels)["command"] for name, labels in after if name == commands}
    assert "list_plans" not in counted_commands  # a read is not a command


def test_projection_lag_is_read_at_scrape_time(
    make_container: Callable[..., Container], make_hub: Callable[..., Any]
) -> None:
    container = make_container()
    hub = make_hub(container, run_background=False)  # nothing follows the log by itself
    for runner in container.runners.values():
        runner.catch_up()
    caught_up = scrape(hub)
    for name in PROJECTIONS:
        assert value(caught_up, "lifecycle_projection_lag_events", projection=name) == 0
        status = "lifecycle_projection_status"
        assert value(caught_up, status, projection=name, status="live") == 1
        assert value(caught_up, status, projection=name, status="failed") == 0

    hub.open_account()
    hub.open_account()

    behind = scrape(hub)
    head = hub.head()
    assert value(behind, "lifecycle_event_log_head") == head
    assert value(behind, "lifecycle_store_up") == 1
    for name in PROJECTIONS:
        position = container.runners[name].position()
        assert position < head
        assert value(behind, "lifecycle_projection_lag_events", projection=name) == head - position

    container.runners["profiles"].catch_up()

    partly = scrape(hub)
    assert value(partly, "lifecycle_projection_lag_events", projection="profiles") == 0
    assert value(partly, "lifecycle_projection_lag_events", projection="notifications") > 0


def test_time_driven_work_is_counted_by_kind_and_outcome(hub: Any, logs: CapturedLogs) -> None:
    hub.subscriber()
    hub.subscriber(payment_token="tok_fails_renewal")
    before = scrape(hub)

    hub.advance(hub.now() + timedelta(days=367))

    after = scrape(hub)
    done = [line for line in logs.lines() if line["logger"] == "lifecycle.time_driven"]
    counted = Counter((line["kind"], line["outcome"]) for line in done)
    assert counted.get(("renewal_reminder", "ok")) == 2, counted
    assert counted.get(("renewal", "ok"), 0) >= 2, counted
    name = "lifecycle_time_driven_work_total"
    for (kind, outcome), times in counted.items():
        labels = {"kind": kind, "outcome": outcome}
        assert value(after, name, **labels) - value(before, name, **labels) == times, labels


def test_a_scrape_answers_and_says_so_when_the_store_does_not(
    hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert value(scrape(hub), "lifecycle_store_up") == 1

    def unreachable() -> int:
        raise StoreUnavailable("connection refused")

    monkeypatch.setattr(hub.container.services, "head", unreachable)

    down = scrape(hub)
    assert value(down, "lifecycle_store_up") == 0
    assert not any(name == "lifecycle_projection_lag_events" for name, _ in down)


# --- the real server -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_lifecycle_serve_writes_json_lines_for_its_own_and_uvicorns_loggers(
    database_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "LIFECYCLE_DATABASE_URL": database_url,
        "LIFECYCLE_CLOCK": "manual",
        "LIFECYCLE_API_TOKENS": "serve-views:serve-views-secret-0123456789:views",
        "LIFECYCLE_LOG_LEVEL": "info",
    }
    env.pop("LIFECYCLE_LOG_FORMAT", None)
    stderr = tmp_path / "stderr.log"
    with stderr.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=output,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):  # up to about 30 s to start
                assert process.poll() is None, stderr.read_text()
                try:
                    if httpx.get(f"{base}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                pytest.fail(f"the server did not start:\n{stderr.read_text()}")
            answered = httpx.get(
                f"{base}/v1/plans",
                headers={
                    "Authorization": "Bearer serve-views-secret-0123456789",
                    "X-Correlation-Id": "corr-serve",
                },
            )
            assert answered.status_code == 200
        finally:
            process.terminate()
            process.wait(timeout=30)

    lines = [json.loads(line) for line in stderr.read_text().splitlines()]
    loggers = {line["logger"] for line in lines}
    assert {"uvicorn.error", "lifecycle.access"} <= loggers, lines
    [plans] = [line for line in lines if line.get("route") == "/v1/plans"]
    assert (plans["correlation_id"], plans["token"]) == ("corr-serve", "serve-views")
    assert plans["status"] == 200
    assert "serve-views-secret-0123456789" not in stderr.read_text()
