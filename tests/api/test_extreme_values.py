"""Every date, instant and integer a route takes, drawn from extreme values (year 1, year
9999, ±2⁶³, digit strings longer than any store's integers), never yields a 5xx, and
the time-driven work still runs afterwards.

The fields are read from the app's OpenAPI document; ``test_every_such_field_is_drawn``
fails when a route gains a date, instant or integer that these properties do not draw.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.bootstrap import Container

_numbers = itertools.count(90_001)

# --- values ------------------------------------------------------------------------------

EDGE_INTEGERS = [
    0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64,
    10**30, -(10**30), 10**300,
]
integers = st.sampled_from(EDGE_INTEGERS) | st.sampled_from(EDGE_INTEGERS) | st.integers()
"""Numbers as JSON carries them in a body."""
query_integers = (
    integers.map(str)
    | st.integers(min_value=1, max_value=80).map(lambda n: "9" * n)
    | st.sampled_from(["", "1.5", "1e3", "-0", "0x10", "٣"])
)
"""Numbers as a query string carries them: any digit string, and a few that are not."""

EDGE_DATES = [
    "0001-01-01", "0001-12-31", "1899-12-31", "1900-01-01", "2999-12-31", "3000-01-01",
    "9999-01-01", "9999-12-31", "0000-01-01", "2027-02-29", "2028-02-29", "2027-13-01",
]
dates = (
    st.sampled_from(EDGE_DATES)
    | st.sampled_from(EDGE_DATES)
    | st.dates().map(date.isoformat)
    | st.sampled_from(["2027-03-01T00:00:00Z", "2027-3-1", 20270301, -1, 2**63, None, True])
)

offsets = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)),
)
EDGE_INSTANTS = [
    "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00-14:00",
    "1899-12-31T23:59:59Z", "2999-12-31T23:59:59.999999Z", "2999-12-31T23:00:00-05:00",
    "3000-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999+14:00", "2027-01-31T09:00:00", "2027-01-31",
]
instants = (
    st.sampled_from(EDGE_INSTANTS)
    | st.sampled_from(EDGE_INSTANTS)
    | st.datetimes(timezones=offsets).map(datetime.isoformat)
    | st.sampled_from([0, 2**63, -1, None])
)


# --- where each field goes -------------------------------------------------------------------


def body_with(path: tuple[str, ...], value: Any, base: dict[str, Any]) -> dict[str, Any]:
    body = {**base}
    target = body
    for part in path[:-1]:
        target[part] = {**target.get(part, {})}
        target = target[part]
    target[path[-1]] = value
    return body


def bodies(hub: Any, ids: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid body for each operation with a date, instant or integer in its body."""
    return {
        ("POST", "/v1/accounts"): {
            "email": f"t{next(_numbers)}@example.com",
            "name": "Tia",
            "username": f"tia{next(_numbers)}",
            "kind": "trial",
        },
        ("POST", "/v1/subscriptions/{subscription_id}/usage"): {"responses": 1},
        ("POST", "/v1/licence-requests/{licence_request_id}/fulfil"): {"caps": {"responses": 10}},
        ("POST", "/v1/contracts"): hub.contract_body(ids["organisation_id"]),
        ("POST", "/v1/renewals/{renewal_id}/quotes"): {
            "licences": ["research_suite"],
            "term_months": 12,
            "price": {"amount": "1000.00", "currency": "USD"},
        },
        ("PUT", "/v1/accounts/{account_id}/community-account"): {
            "username": "ada",
            "rank": "member",
            "created_on": "2026-01-01",
            "topics": 1,
        },
        ("POST", "/v1/accounts/{account_id}/certifications"): {
            "name": "Research",
            "status": "completed",
            "completed_on": "2026-01-01",
        },
        ("POST", "/v1/ops/clock/advance"): {"to": "2027-02-01T00:00:00Z"},
    }


def fields_of(openapi: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """(method, path, place, kind) of every date, instant and integer a route takes;
    ``place`` is ``query:<name>`` or ``body.<dotted path>``."""
    schemas = openapi["components"]["schemas"]
    found: set[tuple[str, str, str, str]] = set()

    def walk(schema: dict[str, Any], place: str, into: set[tuple[str, str]]) -> None:
        if "$ref" in schema:
            walk(schemas[schema["$ref"].rsplit("/", 1)[-1]], place, into)
            return
        for key in ("anyOf", "allOf", "oneOf"):
            for option in schema.get(key, []):
                walk(option, place, into)
        kind = schema.get("format") if schema.get("format") in ("date", "date-time") else None
        if schema.get("type") == "integer":
            kind = "integer"
        if kind:
            into.add((place, kind))
        for name, sub in schema.get("properties", {}).items():
            walk(sub, f"{place}.{name}", into)

    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            places: set[tuple[str, str]] = set()
            for parameter in operation.get("parameters", []):
                walk(parameter["schema"], f"{parameter['in']}:{parameter['name']}", places)
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                walk(content["application/json"]["schema"], "body", places)
            found |= {(method.upper(), path, place, kind) for place, kind in places}
    return found


DRAWN_BY_KIND = {"integer": integers, "date": dates, "date-time": instants}


def request_for(
    hub: Any, field: tuple[str, str, str, str], value: Any, ids: dict[str, str]
) -> tuple[str, str, dict[str, Any] | None, dict[str, str]]:
    method, template, place, _ = field
    path = template.format(kind="subscriptions", aggregate_id=ids["subscription_id"], **ids)
    if place.startswith("query:"):
        name = place.split(":", 1)[1]
        params = {name: value if isinstance(value, str) else str(value)}
        if template.endswith("{aggregate_id}"):  # the as-of read needs its instant
            params.setdefault("as_of", "2027-06-01T00:00:00Z")
        return method, path, None, params
    base = bodies(hub, ids)[(method, template)]
    return method, path, body_with(tuple(place.split(".")[1:]), value, base), {}


# --- the service under test ----------------------------------------------------------------


@pytest.fixture
def served(container: Container, make_hub: Callable[..., Any]) -> Any:
    return make_hub(container)


def resources(hub: Any) -> dict[str, str]:
    """An organisation with each kind of resource a route names."""
    bought = hub.subscriber()
    request = hub.ok(
        hub.post(
            f"/v1/subscriptions/{bought['subscription_id']}/licence-requests",
            {
                "name": "Ada",
                "email": "ada@example.com",
                "username": "ada",
                "kind": "more_responses",
                "description": "more please",
            },
        ),
        201,
    )
    contract = hub.ok(
        hub.post(
            "/v1/contracts",
            hub.contract_body(bought["organisation_id"], start_date="2026-05-01"),
        ),
        201,
    )
    renewal = hub.ok(hub.get(f"/v1/contracts/{contract['contract_id']}/renewal"))
    hub.ok(hub.post(f"/v1/renewals/{renewal['renewal_id']}/contact", {}))
    return {
        "organisation_id": bought["organisation_id"],
        "account_id": bought["account_id"],
        "subscription_id": bought["subscription_id"],
        "purchase_id": hub.ok(
            hub.post("/v1/purchases", {"plan": "strategic_research", "email": "p@example.com"}),
            201,
        )["purchase_id"],
        "licence_request_id": request["licence_request_id"],
        "contract_id": contract["contract_id"],
        "renewal_id": renewal["renewal_id"],
    }


EXAMPLES_PER_FIELD = 25


def strategy_for(field: tuple[str, str, str, str]) -> st.SearchStrategy[Any]:
    _, _, place, kind = field
    if place.startswith("query:") and kind == "integer":
        return query_integers
    return DRAWN_BY_KIND[kind]


def token_for(path: str) -> str:
    if path.startswith("/v1/audit"):
        return "audit"
    return "ops" if path.startswith("/v1/ops") else "commands"


def answered_within_contract(response: Any, place: str) -> bool:
    """No 5xx, but the contract's own: a ``min_position`` past the log's head is 503
    ``projection-behind`` (with the head), at once."""
    if response.status_code < 500:
        return True
    return (
        place == "query:min_position"
        and response.status_code == 503
        and response.json()["type"] == "/problems/projection-behind"
    )


def test_every_such_field_is_drawn(served: Any) -> None:
    fields = fields_of(served.client.app.openapi())
    bodied = {(method, path) for method, path, place, _ in fields if place.startswith("body")}

    drawn = set(bodies(served, {"organisation_id": ""}))
    assert bodied <= drawn, bodied - drawn
    assert {kind for *_, kind in fields} <= set(DRAWN_BY_KIND)
    assert len(fields) > 30


def test_extreme_dates_instants_and_integers_never_yield_a_5xx_and_renewals_still_run(
    served: Any,
) -> None:
    hub = served
    ids = resources(hub)
    ordinary = hub.subscriber()
    fields = sorted(
        f for f in fields_of(hub.client.app.openapi()) if f[1] != "/v1/ops/clock/advance"
    )

    for field in fields:

        @settings(
            max_examples=EXAMPLES_PER_FIELD,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            database=None,
        )
        @given(value=strategy_for(field))
        def no_5xx(value: Any) -> None:
            method, path, body, params = request_for(hub, field, value, ids)
            response = hub.request(method, path, body, token=token_for(path), params=params)
            assert answered_within_contract(response, field[2]), (
                field, value, response.status_code, response.text
            )

        no_5xx()

    renewal_at = hub.subscription(ordinary["subscription_id"])["term"]["end"]
    advanced = hub.advance(renewal_at.replace("Z", "+00:00"))
    assert advanced["failed"] == []
    assert hub.subscription(ordinary["subscription_id"])["term"]["number"] == 2


# --- the manual clock at the edges --------------------------------------------------------


def test_a_clock_advance_to_an_extreme_instant_never_yields_a_5xx_and_leaves_work_running(
    fresh_hub: Callable[[], Any],
) -> None:
    @settings(
        max_examples=12,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    @given(to=instants)
    def no_5xx(to: Any) -> None:
        hub = fresh_hub()
        trial = hub.open_account(kind="trial", trial_days=1)

        response = hub.post("/v1/ops/clock/advance", {"to": to}, token="ops")

        assert response.status_code < 500, (to, response.status_code, response.text)
        if response.status_code != 200:
            return
        assert response.json()["failed"] == []
        # Sign-ups, purchases and due work still run at the new instant.
        hub.open_account(kind="trial")
        hub.subscriber()
        if hub.now() >= datetime.fromisoformat("2027-02-01T09:00:00+00:00"):
            assert hub.organisation(trial["organisation_id"])["licence"] == "free"

    no_5xx()
