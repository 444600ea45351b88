"""R60, R61 over HTTP: a subscription's full history, its state as of any instant, and
the chained export of the log with its verification (on SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

Hub = Any  # the ``hub`` fixture of tests/api/conftest.py

CLOCK_START = datetime(2027, 1, 31, 9, 0, tzinfo=timezone.utc)
"""Where the test containers' manual clock starts (tests/conftest.py)."""

ZEROS = "0" * 64
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
DAY = timedelta(days=1)


def z(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def usage(hub: Hub, subscription_id: str, responses: int, **kw: Any) -> dict[str, Any]:
    return hub.ok(
        hub.post(f"/v1/subscriptions/{subscription_id}/usage", {"responses": responses, "seats": 0}, **kw)
    )


def history(hub: Hub, kind: str, aggregate_id: str, token: str | None = "audit") -> Any:
    return hub.get(f"/v1/audit/{kind}/{aggregate_id}/history", token=token)


def as_of(hub: Hub, subscription_id: str, instant: datetime | str, token: str = "audit") -> Any:
    when = instant if isinstance(instant, str) else z(instant)
    return hub.get(f"/v1/audit/subscriptions/{subscription_id}", token=token, params={"as_of": when})


def export_lines(hub: Hub, **params: Any) -> list[dict[str, Any]]:
    response = hub.get("/v1/audit/export", token="audit", params={"min_position": hub.head(), **params})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


@pytest.fixture
def story(hub: Hub) -> dict[str, Any]:
    """A subscription bought at CLOCK_START, usage of 5 a day later (acting user, own
    command and correlation ids) and of 7 two days later."""
    assert hub.container.settings.clock_start == CLOCK_START
    opened = hub.open_account()
    bought = hub.upgrade(opened["account_id"])
    sid = bought["subscription_id"]
    hub.advance(CLOCK_START + DAY)
    first = usage(
        hub,
        sid,
        5,
        key="usage-command-1",
        actor=opened["account_id"],
        headers={"X-Correlation-Id": "corr-usage-1"},
    )
    hub.advance(CLOCK_START + 2 * DAY)
    second = usage(hub, sid, 7)
    return {
        "subscription_id": sid,
        "account_id": opened["account_id"],
        "organisation_id": opened["organisation_id"],
        "purchase_id": bought["purchase_id"],
        "first": first,
        "second": second,
    }


# --- history -------------------------------------------------------------------------


def test_history_lists_every_event_of_the_subscription_oldest_first(hub: Hub, story: dict[str, Any]) -> None:
    events = history(hub, "subscriptions", story["subscription_id"]).json()

    assert [e["type"] for e in events] == ["Started", "UsageRecorded", "UsageRecorded"]
    assert [e["version"] for e in events] == [1, 2, 3]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == 3
    assert [e["occurred_at"] for e in events] == [
        "2027-01-31T09:00:00Z",
        "2027-02-01T09:00:00Z",
        "2027-02-02T09:00:00Z",
    ]


def test_history_entries_have_exactly_the_audit_fields(hub: Hub, story: dict[str, Any]) -> None:
    events = history(hub, "subscriptions", story["subscription_id"]).json()

    for entry in events:
        assert set(entry) == {
            "position", "version", "type", "occurred_at", "service", "actor",
            "command_id", "correlation_id", "data",
        }
        assert RFC3339_Z.match(entry["occurred_at"]), entry


def test_history_records_the_calling_service_acting_user_and_the_commands_ids(
    hub: Hub, story: dict[str, Any]
) -> None:
    started, first, second = history(hub, "subscriptions", story["subscription_id"]).json()

    assert first["service"] == "test-commands"
    assert first["actor"] == f"user:{story['account_id']}"
    assert first["command_id"] == "usage-command-1"
    assert first["correlation_id"] == "corr-usage-1"
    assert first["data"] == {"responses": 5, "seats": 0}
    assert second["actor"] is None
    assert second["command_id"] and second["correlation_id"] == second["command_id"]
    assert second["position"] == story["second"]["position"]


def test_history_renders_money_as_decimal_strings_and_ids_as_strings(
    hub: Hub, story: dict[str, Any]
) -> None:
    started = history(hub, "subscriptions", story["subscription_id"]).json()[0]

    assert started["data"]["price"] == {"amount": "1500.00", "currency": "USD"}
    assert started["data"]["organisation_id"] == story["organisation_id"]
    assert started["data"]["buyer_account_id"] == story["account_id"]
    assert started["data"]["card"]["last4"] == "4242"
    assert started["data"]["billing_address"]["city"] == "San Francisco"


def test_history_of_an_unknown_subscription_is_not_found(hub: Hub, story: dict[str, Any]) -> None:
    hub.problem(history(hub, "subscriptions", "8f5bdf9e-0000-4000-8000-000000000000"), 404, "not-found")
    hub.problem(history(hub, "subscriptions", "not-a-uuid"), 404, "not-found")


def test_history_of_another_aggregate_types_id_is_not_found(hub: Hub, story: dict[str, Any]) -> None:
    hub.problem(history(hub, "subscriptions", story["organisation_id"]), 404, "not-found")
    hub.problem(history(hub, "subscriptions", story["purchase_id"]), 404, "not-found")


def test_a_subscription_is_not_found_among_contracts(hub: Hub, story: dict[str, Any]) -> None:
    sid = story["subscription_id"]
    hub.problem(history(hub, "contracts", sid), 404, "not-found")
    hub.problem(
        hub.get(f"/v1/audit/contracts/{sid}", token="audit", params={"as_of": "2030-01-01T00:00:00Z"}),
        404,
        "not-found",
    )


def test_an_unknown_kind_is_not_found(hub: Hub, story: dict[str, Any]) -> None:
    hub.problem(history(hub, "accounts", story["account_id"]), 404, "not-found")


@pytest.mark.parametrize("token", ["views", "commands"])
def test_audit_routes_are_forbidden_without_the_audit_scope(
    hub: Hub, story: dict[str, Any], token: str
) -> None:
    sid = story["subscription_id"]
    hub.problem(history(hub, "subscriptions", sid, token=token), 403, "forbidden")
    hub.problem(as_of(hub, sid, CLOCK_START, token=token), 403, "forbidden")
    hub.problem(hub.get("/v1/audit/export", token=token), 403, "forbidden")
    hub.problem(hub.get("/v1/audit/verify", token=token), 403, "forbidden")


def test_audit_routes_need_a_token(hub: Hub, story: dict[str, Any]) -> None:
    hub.problem(history(hub, "subscriptions", story["subscription_id"], token=None), 401, "unauthorized")


# --- as of an instant ------------------------------------------------------------------


def test_as_of_before_the_subscription_existed_is_not_found(hub: Hub, story: dict[str, Any]) -> None:
    before = CLOCK_START - timedelta(microseconds=1)
    hub.problem(as_of(hub, story["subscription_id"], before), 404, "not-found")


def test_as_of_the_purchase_instant_shows_the_new_subscription(hub: Hub, story: dict[str, Any]) -> None:
    shown = hub.ok(as_of(hub, story["subscription_id"], CLOCK_START))

    assert shown["version"] == 1
    assert shown["usage"] == {"responses": 0, "seats": 0}
    assert shown["subscription_id"] == story["subscription_id"]


def test_as_of_between_two_events_shows_the_state_after_the_earlier(hub: Hub, story: dict[str, Any]) -> None:
    shown = hub.ok(as_of(hub, story["subscription_id"], CLOCK_START + DAY + timedelta(hours=12)))

    assert shown["version"] == 2
    assert shown["usage"] == {"responses": 5, "seats": 0}


def test_as_of_an_events_instant_includes_that_event(hub: Hub, story: dict[str, Any]) -> None:
    shown = hub.ok(as_of(hub, story["subscription_id"], "2027-02-01T10:00:00+01:00"))

    assert shown["version"] == 2


def test_as_of_after_the_last_event_is_what_the_get_answers(hub: Hub, story: dict[str, Any]) -> None:
    shown = hub.ok(as_of(hub, story["subscription_id"], CLOCK_START + 300 * DAY))

    assert shown == hub.subscription(story["subscription_id"])
    assert shown["usage"] == {"responses": 12, "seats": 0}


@pytest.mark.parametrize("bad", ["yesterday", "2027-02-01T09:00:00", "2027-13-01T00:00:00Z", ""])
def test_as_of_a_bad_timestamp_is_an_invalid_request(hub: Hub, story: dict[str, Any], bad: str) -> None:
    hub.problem(as_of(hub, story["subscription_id"], bad), 422, "invalid-request")


# --- export and verify -------------------------------------------------------------------


def test_export_gives_every_event_once_in_log_order(hub: Hub, story: dict[str, Any]) -> None:
    lines = export_lines(hub, limit=10_000)

    assert [line["position"] for line in lines] == [n.id for n in _notifications(hub)]
    ours = [line for line in lines if line["aggregate_id"] == story["subscription_id"]]
    assert [(line["aggregate_type"], line["version"], line["type"]) for line in ours] == [
        ("subscription", 1, "Started"),
        ("subscription", 2, "UsageRecorded"),
        ("subscription", 3, "UsageRecorded"),
    ]


def test_export_lines_are_chained_by_the_sha256_of_their_canonical_json(
    hub: Hub, story: dict[str, Any]
) -> None:
    lines = export_lines(hub)

    prev = ZEROS
    for line in lines:
        body = {k: v for k, v in line.items() if k != "hash"}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert line["prev_hash"] == prev
        assert line["hash"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
        prev = line["hash"]


def test_export_pages_follow_on_from_the_last_position(hub: Hub, story: dict[str, Any]) -> None:
    everything = export_lines(hub)
    first_page = export_lines(hub, limit=4)
    second_page = export_lines(hub, after=first_page[-1]["position"], limit=4)
    rest = export_lines(hub, after=second_page[-1]["position"])

    assert len(first_page) == len(second_page) == 4
    assert first_page + second_page + rest == everything
    assert second_page[0]["prev_hash"] == first_page[-1]["hash"]


def test_a_full_export_page_links_to_the_next(hub: Hub, story: dict[str, Any]) -> None:
    response = hub.get("/v1/audit/export", token="audit", params={"limit": 2, "min_position": hub.head()})
    last = json.loads(response.text.splitlines()[-1])

    assert response.headers["link"] == f'</v1/audit/export?after={last["position"]}&limit=2>; rel="next"'


def test_export_after_the_head_is_empty(hub: Hub, story: dict[str, Any]) -> None:
    assert export_lines(hub, after=hub.head()) == []


@pytest.mark.parametrize("params", [{"limit": 10_001}, {"limit": 0}, {"after": -1}])
def test_export_refuses_limits_outside_one_to_ten_thousand(
    hub: Hub, story: dict[str, Any], params: dict[str, int]
) -> None:
    hub.problem(hub.get("/v1/audit/export", token="audit", params=params), 422, "invalid-request")


def test_verify_is_ok_and_names_the_exports_last_hash(hub: Hub, story: dict[str, Any]) -> None:
    lines = export_lines(hub)
    response = hub.get("/v1/audit/verify", token="audit", params={"min_position": hub.head()})

    assert hub.ok(response) == {
        "ok": True,
        "events": len(lines),
        "head_hash": lines[-1]["hash"],
        "position": lines[-1]["position"],
    }


def _notifications(hub: Hub) -> list[Any]:
    store = hub.container.services.store
    return list(store.recorder.select_notifications(start=1, limit=10_000, settled_only=False))


# --- contracts ----------------------------------------------------------------------------

OWNER = {"first_name": "Olive", "last_name": "Owner", "email": "olive@customer.example"}
BILLER = {"first_name": "Bill", "last_name": "Payer", "email": "bill@customer.example"}
NEW_BILLER = {"first_name": "Nora", "last_name": "Ledger", "email": "nora@customer.example"}


@pytest.fixture
def contract(hub: Hub) -> dict[str, Any]:
    """A contract created at CLOCK_START whose billing contact changed a day later."""
    body = {
        "organisation_id": hub.open_account()["organisation_id"],
        "number": 7001,
        "start_date": "2027-01-01",
        "term_months": 12,
        "licences": ["cx"],
        "notice_days": 90,
        "price": {"amount": "12000.00", "currency": "USD"},
        "primary_contact": OWNER,
        "billing_contact": BILLER,
    }
    created = hub.ok(hub.post("/v1/contracts", body), 201)
    hub.advance(CLOCK_START + DAY)
    hub.ok(hub.put(f"/v1/contracts/{created['contract_id']}/contacts/billing", NEW_BILLER))
    return created


def test_contract_history_lists_its_events_oldest_first(hub: Hub, contract: dict[str, Any]) -> None:
    events = history(hub, "contracts", contract["contract_id"]).json()

    assert [e["type"] for e in events][:2] == ["Created", "ContactChanged"]
    assert events[0]["data"]["price"] == {"amount": "12000.00", "currency": "USD"}
    assert events[0]["data"]["start_date"] == "2027-01-01"
    assert events[1]["occurred_at"] == "2027-02-01T09:00:00Z"


def test_contract_as_of_before_the_contact_change_shows_the_old_contact(
    hub: Hub, contract: dict[str, Any]
) -> None:
    before = hub.ok(
        hub.get(
            f"/v1/audit/contracts/{contract['contract_id']}",
            token="audit",
            params={"as_of": z(CLOCK_START + DAY / 2)},
        )
    )

    assert before == contract_without_position(contract)


def test_contract_as_of_now_is_what_its_get_answers(hub: Hub, contract: dict[str, Any]) -> None:
    now = hub.ok(
        hub.get(
            f"/v1/audit/contracts/{contract['contract_id']}",
            token="audit",
            params={"as_of": z(CLOCK_START + 2 * DAY)},
        )
    )

    assert now == hub.ok(hub.get(f"/v1/contracts/{contract['contract_id']}"))


def test_a_contract_is_not_found_among_subscriptions(hub: Hub, contract: dict[str, Any]) -> None:
    hub.problem(history(hub, "subscriptions", contract["contract_id"]), 404, "not-found")


def contract_without_position(created: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in created.items() if k != "position"}


def test_audit_routes_refuse_a_token_without_the_audit_scope_even_behind_another_guard() -> None:
    import asyncio

    from starlette.requests import Request

    from api.guard import TOKEN_KEY
    from api.routes.audit import AuditScopeRequired, audit_scope
    from api.settings import ApiToken

    def request(*scopes: str) -> Request:
        token = ApiToken("someone", "secret", frozenset(scopes))
        return Request({"type": "http", "state": {TOKEN_KEY: token}})

    asyncio.run(audit_scope(request("audit")))
    for scopes in (("views",), ("views", "commands"), ("ops",)):
        with pytest.raises(AuditScopeRequired):
            asyncio.run(audit_scope(request(*scopes)))
    with pytest.raises(AuditScopeRequired):
        asyncio.run(audit_scope(Request({"type": "http"})))
