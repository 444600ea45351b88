"""The smaller parts of the HTTP contract: strict types where a lenient parse would
surprise a client, If-Match as HTTP defines it, 405 with Allow, HEAD, and an OpenAPI
document that says what the service checks."""

from __future__ import annotations

from typing import Any

import pytest

PREFERENCES = {"personalised_learning": True, "news_and_updates": True, "customer_events": True}


# --- strict types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [{"fedramp": "yes"}, {"fedramp": 1}, {"trial_days": "30"}, {"trial_days": 30.0}],
)
def test_an_account_field_of_the_wrong_json_type_is_refused(hub: Any, field: dict[str, Any]) -> None:
    body = {"email": "s@example.com", "name": "S", "username": "s", "kind": "trial", **field}
    head = hub.head()

    refused = hub.post("/v1/accounts", body)

    hub.problem(refused, 422, "invalid-request")
    assert hub.head() == head


@pytest.mark.parametrize("flag", ["yes", "off", 0.0, 1, "true", None])
def test_an_email_preference_that_is_not_a_json_boolean_is_refused(hub: Any, flag: Any) -> None:
    account_id = hub.open_account()["account_id"]

    refused = hub.put(
        f"/v1/accounts/{account_id}/email-preferences", {**PREFERENCES, "customer_events": flag}
    )

    hub.problem(refused, 422, "invalid-request")


@pytest.mark.parametrize("count", [True, 1.0, "1", -1])
def test_usage_that_is_not_a_whole_json_number_is_refused(hub: Any, count: Any) -> None:
    subscription_id = hub.subscriber()["subscription_id"]

    refused = hub.post(f"/v1/subscriptions/{subscription_id}/usage", {"responses": count})

    hub.problem(refused, 422, "invalid-request")
    assert hub.subscription(subscription_id)["usage"]["responses"] == 0


@pytest.mark.parametrize("acceptance", ["yes", 1, "true"])
def test_an_acceptance_that_is_not_a_json_boolean_is_refused(hub: Any, acceptance: Any) -> None:
    opened = hub.open_account()
    started = hub.ok(
        hub.post("/v1/purchases", {"plan": "strategic_research", "account_id": opened["account_id"]}),
        201,
    )

    refused = hub.complete(started["purchase_id"], hub.completion(accept_terms=acceptance))

    hub.problem(refused, 422, "invalid-request")
    assert hub.container.services.gateway.charges() == []


@pytest.mark.parametrize("currency", ["XXX", "XTS", "XAU", "ABC", "usd"])
def test_a_price_in_a_code_that_is_no_iso_4217_money_is_refused(hub: Any, currency: str) -> None:
    organisation_id = hub.open_account()["organisation_id"]
    price = {"amount": "1000.00", "currency": currency}

    refused = hub.post("/v1/contracts", hub.contract_body(organisation_id, price=price))

    hub.problem(refused, 422, "invalid-request")


@pytest.mark.parametrize("currency", ["CHF", "XOF", "NZD"])
def test_a_price_in_any_iso_4217_currency_is_taken(hub: Any, currency: str) -> None:
    organisation_id = hub.open_account()["organisation_id"]
    price = {"amount": "1000.00", "currency": currency}

    created = hub.post("/v1/contracts", hub.contract_body(organisation_id, price=price))

    assert created.status_code == 201, created.text


def test_a_contact_naming_another_organisations_account_is_refused(hub: Any) -> None:
    ours = hub.open_account()
    theirs = hub.open_account()
    contact = {**hub.CONTACT, "account_id": theirs["account_id"]}
    head = hub.head()

    refused = hub.post(
        "/v1/contracts", hub.contract_body(ours["organisation_id"], primary_contact=contact)
    )

    hub.problem(refused, 422, "invalid-request")
    assert hub.head() == head


def test_a_contact_naming_an_unknown_account_is_refused_on_a_contact_change(hub: Any) -> None:
    ours = hub.open_account()
    created = hub.ok(hub.post("/v1/contracts", hub.contract_body(ours["organisation_id"])), 201)
    contact = {**hub.CONTACT, "account_id": "00000000-0000-4000-8000-000000000000"}

    refused = hub.put(f"/v1/contracts/{created['contract_id']}/contacts/billing", contact)

    hub.problem(refused, 422, "invalid-request")


def test_a_contact_naming_one_of_the_organisations_own_accounts_is_taken(hub: Any) -> None:
    ours = hub.open_account()
    contact = {**hub.CONTACT, "account_id": ours["account_id"]}

    created = hub.post(
        "/v1/contracts", hub.contract_body(ours["organisation_id"], billing_contact=contact)
    )

    assert created.status_code == 201, created.text


# --- If-Match --------------------------------------------------------------------------------


def test_if_match_star_applies_the_command_to_the_latest_version(hub: Any) -> None:
    subscription_id = hub.subscriber()["subscription_id"]

    applied = hub.post(
        f"/v1/subscriptions/{subscription_id}/usage", {"responses": 2}, if_match="*"
    )

    assert hub.ok(applied)["usage"]["responses"] == 2


@pytest.mark.parametrize("value", ['"abc"', "1 2", '"99999999999999999999999"', "W/"])
def test_a_malformed_if_match_is_refused(hub: Any, value: str) -> None:
    subscription_id = hub.subscriber()["subscription_id"]

    refused = hub.post(
        f"/v1/subscriptions/{subscription_id}/usage", {"responses": 2}, if_match=value
    )

    hub.problem(refused, 422, "invalid-request")
    assert hub.subscription(subscription_id)["usage"]["responses"] == 0


# --- methods -------------------------------------------------------------------------------


def test_a_method_a_path_does_not_serve_is_405_with_every_allowed_method(hub: Any) -> None:
    account_id = hub.open_account()["account_id"]

    refused = hub.delete(f"/v1/accounts/{account_id}")

    hub.problem(refused, 405, "method-not-allowed")
    assert refused.headers["allow"] == "GET, HEAD, PATCH"


def test_health_answers_head_with_its_headers_and_no_body(hub: Any) -> None:
    answered = hub.client.head("/health")

    assert answered.status_code == 200
    assert answered.headers["content-type"] == "application/json"
    assert int(answered.headers["content-length"]) > 0
    assert answered.content == b""


def test_head_on_a_resource_needs_the_gets_token_and_shows_its_etag(hub: Any) -> None:
    subscription_id = hub.subscriber()["subscription_id"]
    path = f"/v1/subscriptions/{subscription_id}"

    anonymous = hub.client.head(path)
    answered = hub.client.head(path, headers=hub.headers("views"))

    assert anonymous.status_code == 401
    assert answered.status_code == 200 and answered.content == b""
    assert answered.headers["etag"] == hub.get(path).headers["etag"]


# --- the OpenAPI document ---------------------------------------------------------------------


def operation(hub: Any, method: str, path: str) -> dict[str, Any]:
    return hub.client.app.openapi()["paths"][path][method]  # type: ignore[no-any-return]


def test_the_email_link_change_is_documented_without_bearer_auth(hub: Any) -> None:
    link = operation(hub, "put", "/v1/email-preferences/{link_token}")
    by_account = operation(hub, "put", "/v1/accounts/{account_id}/email-preferences")

    assert not link.get("security")
    assert by_account.get("security")


def test_the_actor_and_if_match_headers_are_documented_with_their_formats(hub: Any) -> None:
    usage = operation(hub, "post", "/v1/subscriptions/{subscription_id}/usage")
    headers = {p["name"]: p["schema"] for p in usage["parameters"] if p["in"] == "header"}

    def pattern(schema: dict[str, Any]) -> str:
        options = schema.get("anyOf", [schema])
        return next(o["pattern"] for o in options if "pattern" in o)

    assert pattern(headers["x-actor"]).startswith("^\\s*user:")
    assert "\\*" in pattern(headers["If-Match"])
