"""Dates, instants and integers outside what the service supports are refused at the
edge with 422 ``invalid-request``, and record nothing; a due item whose work fails is
held back and shown to operators while the rest of the time-driven work runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from api.settings import Settings
from commands import time_driven
from commands.context import Caller
from commands.services import Services
from lifecycle.due import DueItem

from api.bootstrap import Container



@pytest.mark.parametrize(
    "start_date",
    ["0001-01-01", "1899-12-31", "9999-12-31", "9999-01-01", "3000-01-01"],
)
def test_a_contract_start_outside_the_supported_range_is_refused_and_records_nothing(
    hub: Any, start_date: str
) -> None:
    organisation_id = hub.open_account()["organisation_id"]
    head = hub.head()

    refused = hub.post("/v1/contracts", hub.contract_body(organisation_id, start_date=start_date))

    body = hub.problem(refused, 422, "invalid-request")
    assert body["errors"][0]["loc"] == ["body", "start_date"]
    assert "1900-01-01" in body["errors"][0]["msg"] and "2999-12-31" in body["errors"][0]["msg"]
    assert hub.head() == head


@pytest.mark.parametrize("start_date", ["1900-01-01", "2999-12-31"])
def test_a_contract_may_start_on_either_edge_of_the_supported_range(
    hub: Any, start_date: str
) -> None:
    organisation_id = hub.open_account()["organisation_id"]

    created = hub.post("/v1/contracts", hub.contract_body(organisation_id, start_date=start_date))

    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    "start_date", ["2027-03-01T00:00:00Z", "2027-3-1", 20270301, "20270301", None, True]
)
def test_a_contract_start_that_is_not_a_plain_date_is_refused(hub: Any, start_date: Any) -> None:
    organisation_id = hub.open_account()["organisation_id"]

    refused = hub.post("/v1/contracts", hub.contract_body(organisation_id, start_date=start_date))

    hub.problem(refused, 422, "invalid-request")


@pytest.mark.parametrize(
    "to",
    ["9999-12-31T23:59:59Z", "3000-01-01T00:00:00Z", "2999-12-31T23:00:00-05:00", 1893456000],
)
def test_the_manual_clock_cannot_be_advanced_past_the_supported_range(hub: Any, to: Any) -> None:
    before = hub.now()

    refused = hub.post("/v1/ops/clock/advance", {"to": to}, token="ops")

    hub.problem(refused, 422, "invalid-request")
    assert hub.now() == before
    hub.open_account(kind="trial")  # sign-ups still work afterwards
    hub.subscriber()


def test_an_as_of_before_the_supported_range_is_refused(hub: Any) -> None:
    subscription_id = hub.subscriber()["subscription_id"]

    refused = hub.get(
        f"/v1/audit/subscriptions/{subscription_id}",
        token="audit",
        params={"as_of": "0001-01-01T00:00:00+01:00"},
    )

    hub.problem(refused, 422, "invalid-request")


@pytest.mark.parametrize("name", ["after", "limit", "min_position"])
@pytest.mark.parametrize("value", ["9" * 30, str(2**63), "-1"])
def test_an_export_query_integer_out_of_range_is_refused(hub: Any, name: str, value: str) -> None:
    refused = hub.get("/v1/audit/export", token="audit", params={name: value})

    hub.problem(refused, 422, "invalid-request")


def test_the_largest_position_a_store_holds_is_accepted_by_the_export(hub: Any) -> None:
    answered = hub.get("/v1/audit/export", token="audit", params={"after": str(2**63 - 1)})

    assert answered.status_code == 200, answered.text
    assert answered.text == ""


@pytest.mark.parametrize("created_on", ["0001-01-01", "9999-12-31"])
def test_a_community_account_date_outside_the_range_is_refused(hub: Any, created_on: str) -> None:
    account_id = hub.open_account()["account_id"]

    refused = hub.put(
        f"/v1/accounts/{account_id}/community-account",
        {"username": "ada", "rank": "member", "created_on": created_on, "topics": 1},
    )

    hub.problem(refused, 422, "invalid-request")


@pytest.mark.parametrize("start", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00"])
def test_a_manual_clock_start_outside_the_range_is_refused_at_start_up(start: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(clock="manual", clock_start=start)  # type: ignore[arg-type]

    assert "LIFECYCLE_CLOCK_START" in str(refused.value)


# --- a failing due item, as operators see it ------------------------------------------------


@pytest.fixture
def faulty_reminders(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[UUID]]:
    """Subscriptions whose renewal-reminder work raises (a fault injected into the real
    handler table)."""
    broken: set[UUID] = set()
    real = time_driven.HANDLERS["renewal_reminder"]

    def reminder(services: Services, caller: Caller, item: DueItem) -> None:
        if item.aggregate_id in broken:
            raise RuntimeError("the reminder template is missing")
        real(services, caller, item)

    monkeypatch.setitem(time_driven.HANDLERS, "renewal_reminder", reminder)
    yield broken


def test_a_clock_advance_answers_200_and_lists_the_items_that_failed(
    hub: Any, faulty_reminders: set[UUID]
) -> None:
    broken = hub.subscriber()
    fine = hub.subscriber()
    faulty_reminders.add(UUID(broken["subscription_id"]))
    end = hub.subscription(broken["subscription_id"])["term"]["end"]

    advanced = hub.advance(end.replace("Z", "+00:00"))

    assert [f["key"] for f in advanced["failed"]] == [
        f"renewal_reminder:{broken['subscription_id']}:1"
    ]
    assert advanced["failed"][0]["error"] == "RuntimeError: the reminder template is missing"
    assert hub.subscription(fine["subscription_id"])["term"]["number"] == 2
    assert hub.subscription(broken["subscription_id"])["term"]["number"] == 2


def test_operators_see_failed_items_in_ops_health_and_metrics_and_can_retry_them(
    hub: Any, faulty_reminders: set[UUID]
) -> None:
    broken = hub.subscriber()
    faulty_reminders.add(UUID(broken["subscription_id"]))
    term_end = hub.now() + timedelta(days=365)
    hub.advance(term_end - timedelta(days=30))

    listed = ok_list(hub.get("/v1/ops/due-work/failed", token="ops"))
    health = hub.client.get("/health").json()
    metrics = hub.get("/metrics", token="ops").text

    assert [(f["kind"], f["aggregate_id"], f["attempts"]) for f in listed] == [
        ("renewal_reminder", broken["subscription_id"], 1)
    ]
    assert health["status"] == "degraded" and health["due_work"] == {"failed": 1}
    assert 'lifecycle_due_work_failed_items{kind="renewal_reminder"} 1.0' in metrics

    faulty_reminders.clear()
    retried = hub.post(f"/v1/ops/due-work/failed/{listed[0]['key']}/retry", token="ops")
    assert retried.status_code == 200, retried.text
    advanced = hub.advance(hub.now() + timedelta(seconds=1))

    assert advanced["failed"] == []
    assert ok_list(hub.get("/v1/ops/due-work/failed", token="ops")) == []
    assert hub.client.get("/health").json()["status"] == "ok"
    assert "renewal_reminder" in hub.kinds(broken["email"])


def test_retrying_an_unknown_due_item_is_not_found(hub: Any) -> None:
    missing = hub.post("/v1/ops/due-work/failed/renewal:nothing:2:1/retry", token="ops")

    hub.problem(missing, 404, "not-found")


def ok_list(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, list)
    return body


def test_a_position_past_the_head_is_refused_at_once_with_the_head(hub: Any) -> None:
    head = hub.head()

    behind = hub.get("/v1/ops/projections", token="ops", params={"min_position": head + 1000})

    body = hub.problem(behind, 503, "projection-behind")
    assert body["head"] == head
    assert behind.headers["retry-after"]


def test_the_projection_status_answers_once_every_projection_reached_min_position(
    make_container: Callable[..., Container], make_hub: Callable[..., Any]
) -> None:
    container = make_container(read_wait_seconds=0.2)
    hub = make_hub(container, run_background=False)  # the views move only when told to
    opened = hub.open_account()
    wanted = {"min_position": opened["position"]}

    behind = hub.get("/v1/ops/projections", token="ops", params=wanted)
    for runner in container.runners.values():
        runner.catch_up()
    caught_up = hub.get("/v1/ops/projections", token="ops", params=wanted)

    hub.problem(behind, 503, "projection-behind")
    assert all(row["position"] >= opened["position"] for row in ok_list(caught_up))
