"""A calling service acting for a hub user (``X-Actor: user:<account_id>``) reads and
changes only that user's organisation: every route that names an organisation's
resource — its organisation, accounts, subscriptions, purchases, licence requests,
contracts, renewals, audit trail and profile views — answers 403
``not-your-organisation`` to a user of another organisation, and records nothing.

The routes are enumerated from the OpenAPI document: a route with an id of an
organisation's resource in its path must have a case here, so a new one is covered
the day it is added.
"""

from __future__ import annotations

import uuid
from typing import Any

ID_PARAMETERS = {
    "organisation_id",
    "account_id",
    "subscription_id",
    "purchase_id",
    "licence_request_id",
    "contract_id",
    "renewal_id",
    "aggregate_id",
}
"""Path parameters naming something that belongs to an organisation."""

BODY_IDS = {("POST", "/v1/purchases"), ("POST", "/v1/contracts")}
"""Routes that name an organisation's resource in their body instead."""

CONTACT = {"first_name": "Eve", "last_name": "Outsider", "email": "eve@elsewhere.example"}
PREFERENCES = {"personalised_learning": False, "news_and_updates": False, "customer_events": False}


def cases(theirs: dict[str, str]) -> dict[tuple[str, str], tuple[str, Any]]:
    """``(method, template) -> (path, body)``: a valid request on the other
    organisation's resource, so only the organisation check can refuse it."""
    org, account = theirs["organisation_id"], theirs["account_id"]
    sid, pid = theirs["subscription_id"], theirs["purchase_id"]
    lrid, cid, rid = theirs["licence_request_id"], theirs["contract_id"], theirs["renewal_id"]
    price = {"amount": "1.00", "currency": "USD"}
    return {
        # accounts and organisations
        ("GET", "/v1/accounts/{account_id}"): (f"/v1/accounts/{account}", None),
        ("PATCH", "/v1/accounts/{account_id}"): (f"/v1/accounts/{account}", {"name": "Hijacked"}),
        ("POST", "/v1/organisations/{organisation_id}/users"): (
            f"/v1/organisations/{org}/users",
            {
                "email": "mole@example.com",
                "name": "Mole",
                "username": "mole",
                "user_type": "brand_admin",
            },
        ),
        ("GET", "/v1/organisations/{organisation_id}"): (f"/v1/organisations/{org}", None),
        ("GET", "/v1/organisations/{organisation_id}/subscriptions"): (
            f"/v1/organisations/{org}/subscriptions",
            None,
        ),
        ("GET", "/v1/organisations/{organisation_id}/contracts"): (
            f"/v1/organisations/{org}/contracts",
            None,
        ),
        ("PUT", "/v1/accounts/{account_id}/email-preferences"): (
            f"/v1/accounts/{account}/email-preferences",
            PREFERENCES,
        ),
        ("PUT", "/v1/organisations/{organisation_id}/account-team"): (
            f"/v1/organisations/{org}/account-team",
            {
                "account_executive": {"name": "Eve", "email": "eve@elsewhere.example"},
                "intake_form_url": "https://elsewhere.example/intake",
            },
        ),
        ("PUT", "/v1/accounts/{account_id}/community-account"): (
            f"/v1/accounts/{account}/community-account",
            {"username": "eve", "rank": "newcomer", "created_on": "2026-01-01", "topics": 1},
        ),
        ("POST", "/v1/accounts/{account_id}/certifications"): (
            f"/v1/accounts/{account}/certifications",
            {"name": "Forged", "status": "in_progress"},
        ),
        # purchases
        ("POST", "/v1/purchases"): (
            "/v1/purchases",
            {"plan": "strategic_research", "account_id": account},
        ),
        ("GET", "/v1/purchases/{purchase_id}"): (f"/v1/purchases/{pid}", None),
        ("POST", "/v1/purchases/{purchase_id}/verify"): (
            f"/v1/purchases/{pid}/verify",
            {"token": "x"},
        ),
        ("PUT", "/v1/purchases/{purchase_id}/datacenter"): (
            f"/v1/purchases/{pid}/datacenter",
            {"datacenter": "eu-1"},
        ),
        ("POST", "/v1/purchases/{purchase_id}/complete"): (
            f"/v1/purchases/{pid}/complete",
            {
                "payment_token": "tok_visa",
                "billing_address": {
                    "line1": "1 Way",
                    "city": "Town",
                    "postal_code": "1",
                    "country": "US",
                },
                "accept_terms": True,
                "accept_auto_renewal": True,
            },
        ),
        # subscriptions and licence requests
        ("GET", "/v1/subscriptions/{subscription_id}"): (f"/v1/subscriptions/{sid}", None),
        ("GET", "/v1/subscriptions/{subscription_id}/payments"): (
            f"/v1/subscriptions/{sid}/payments",
            None,
        ),
        ("POST", "/v1/subscriptions/{subscription_id}/cancel-renewal"): (
            f"/v1/subscriptions/{sid}/cancel-renewal",
            {"reason": "sabotage"},
        ),
        ("POST", "/v1/subscriptions/{subscription_id}/resume-renewal"): (
            f"/v1/subscriptions/{sid}/resume-renewal",
            None,
        ),
        ("PUT", "/v1/subscriptions/{subscription_id}/card"): (
            f"/v1/subscriptions/{sid}/card",
            {"payment_token": "tok_mastercard"},
        ),
        ("DELETE", "/v1/subscriptions/{subscription_id}/card"): (
            f"/v1/subscriptions/{sid}/card",
            None,
        ),
        ("POST", "/v1/subscriptions/{subscription_id}/usage"): (
            f"/v1/subscriptions/{sid}/usage",
            {"responses": 1},
        ),
        ("POST", "/v1/subscriptions/{subscription_id}/licence-requests"): (
            f"/v1/subscriptions/{sid}/licence-requests",
            {
                "name": "Eve",
                "email": "eve@elsewhere.example",
                "username": "eve",
                "kind": "other",
                "description": "more",
            },
        ),
        ("GET", "/v1/licence-requests/{licence_request_id}"): (
            f"/v1/licence-requests/{lrid}",
            None,
        ),
        ("POST", "/v1/licence-requests/{licence_request_id}/fulfil"): (
            f"/v1/licence-requests/{lrid}/fulfil",
            {"caps": {"seats": 9999}},
        ),
        ("POST", "/v1/licence-requests/{licence_request_id}/decline"): (
            f"/v1/licence-requests/{lrid}/decline",
            {"reason": "no"},
        ),
        # contracts and renewals
        ("POST", "/v1/contracts"): (
            "/v1/contracts",
            {
                "organisation_id": org,
                "number": 770001,
                "start_date": "2027-01-01",
                "term_months": 12,
                "licences": ["cx"],
                "notice_days": 30,
                "price": price,
                "primary_contact": CONTACT,
                "billing_contact": CONTACT,
            },
        ),
        ("GET", "/v1/contracts/{contract_id}"): (f"/v1/contracts/{cid}", None),
        ("PUT", "/v1/contracts/{contract_id}/contacts/{role}"): (
            f"/v1/contracts/{cid}/contacts/billing",
            CONTACT,
        ),
        ("GET", "/v1/contracts/{contract_id}/renewal"): (f"/v1/contracts/{cid}/renewal", None),
        ("GET", "/v1/renewals/{renewal_id}"): (f"/v1/renewals/{rid}", None),
        ("POST", "/v1/renewals/{renewal_id}/contact"): (
            f"/v1/renewals/{rid}/contact",
            {"notes": "x"},
        ),
        ("POST", "/v1/renewals/{renewal_id}/align"): (f"/v1/renewals/{rid}/align", {"changes": []}),
        ("POST", "/v1/renewals/{renewal_id}/quotes"): (
            f"/v1/renewals/{rid}/quotes",
            {"licences": ["cx"], "term_months": 12, "price": price},
        ),
        ("POST", "/v1/renewals/{renewal_id}/confirm"): (
            f"/v1/renewals/{rid}/confirm",
            {"quote_id": str(uuid.uuid4())},
        ),
        ("POST", "/v1/renewals/{renewal_id}/invoice"): (f"/v1/renewals/{rid}/invoice", None),
        ("POST", "/v1/renewals/{renewal_id}/opt-out"): (
            f"/v1/renewals/{rid}/opt-out",
            {"reason": "x"},
        ),
        # audit and views
        ("GET", "/v1/audit/{kind}/{aggregate_id}/history"): (
            f"/v1/audit/subscriptions/{sid}/history",
            None,
        ),
        ("GET", "/v1/audit/{kind}/{aggregate_id}"): (
            f"/v1/audit/contracts/{cid}?as_of=2030-01-01T00:00:00Z",
            None,
        ),
        ("GET", "/v1/profiles/{account_id}"): (f"/v1/profiles/{account}", None),
        ("GET", "/v1/profiles/{account_id}/contracts"): (f"/v1/profiles/{account}/contracts", None),
        ("GET", "/v1/profiles/{account_id}/contracts/{contract_id}"): (
            f"/v1/profiles/{account}/contracts/{cid}",
            None,
        ),
        # operations on an organisation
        ("POST", "/v1/ops/organisations/{organisation_id}/erase-personal-data"): (
            f"/v1/ops/organisations/{org}/erase-personal-data",
            None,
        ),
    }


def organisation(hub: Any) -> dict[str, str]:
    """An organisation with one of everything: a brand admin with a subscription
    bought by upgrade, a licence request, a contract whose renewal window is open."""
    bought = hub.subscriber()
    sid = bought["subscription_id"]
    licence_request = hub.ok(
        hub.post(
            f"/v1/subscriptions/{sid}/licence-requests",
            {
                "name": "Lee",
                "email": "lee@example.com",
                "username": "lee",
                "kind": "add_seats",
                "description": "seats",
            },
        ),
        201,
    )
    contract = hub.ok(
        hub.post(
            "/v1/contracts",
            {
                "organisation_id": bought["organisation_id"],
                "number": 880000 + int(uuid.uuid4().int % 10_000),
                "start_date": "2026-05-01",
                "term_months": 12,
                "licences": ["cx"],
                "notice_days": 30,
                "price": {"amount": "12000.00", "currency": "USD"},
                "primary_contact": {
                    "first_name": "Olive",
                    "last_name": "Owner",
                    "email": bought["email"],
                },
                "billing_contact": {
                    "first_name": "Bill",
                    "last_name": "Payer",
                    "email": "bill@example.com",
                },
            },
        ),
        201,
    )
    renewal = hub.ok(hub.get(f"/v1/contracts/{contract['contract_id']}/renewal"))
    return {
        "organisation_id": bought["organisation_id"],
        "account_id": bought["account_id"],
        "subscription_id": sid,
        "purchase_id": bought["purchase_id"],
        "licence_request_id": licence_request["licence_request_id"],
        "contract_id": contract["contract_id"],
        "renewal_id": renewal["renewal_id"],
    }


def documented(hub: Any) -> list[tuple[str, str]]:
    paths = hub.client.app.openapi()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if method in ("get", "put", "post", "patch", "delete")
    )


def naming_an_organisations_resource(hub: Any) -> set[tuple[str, str]]:
    return {
        (method, path)
        for method, path in documented(hub)
        if any(f"{{{name}}}" in path for name in ID_PARAMETERS)
    } | BODY_IDS


def test_every_route_that_names_an_organisations_resource_has_a_case(hub):
    placeholder = dict.fromkeys(ID_PARAMETERS, str(uuid.uuid4()))

    assert naming_an_organisations_resource(hub) == set(cases(placeholder))


def test_a_user_of_another_organisation_can_neither_read_nor_change_its_data(hub):
    theirs = organisation(hub)
    outsider = hub.open_account()["account_id"]
    head = hub.head()
    refused = []

    for (method, template), (path, body) in cases(theirs).items():
        response = hub.request(method, path, body, token="ops", actor=outsider)

        hub.problem(response, 403, "not-your-organisation")
        refused.append((method, template))

    assert set(refused) == naming_an_organisations_resource(hub)
    assert hub.head() == head, "a refused request recorded something"
    assert hub.subscription(theirs["subscription_id"])["card"]["last4"] == "4242"
    assert hub.account(theirs["account_id"])["name"] != "Hijacked"


def test_their_own_users_and_the_calling_service_read_what_an_outsider_may_not(hub):
    theirs = organisation(hub)
    member = hub.add_user(theirs["organisation_id"])["account_id"]
    hub.container.runners["profiles"].catch_up()
    hub.container.runners["contracts"].catch_up()

    for (method, template), (path, _) in cases(theirs).items():
        if method != "GET":
            continue
        # A profile is read by its own account only (or by the service itself).
        readers = (theirs["account_id"], None) if "/profiles/" in template else (
            theirs["account_id"], member, None
        )
        for actor in readers:
            response = hub.request(method, path, token="ops", actor=actor)

            assert response.status_code == 200, (template, actor, response.text)


def test_a_new_buyers_purchase_belongs_to_no_organisation_an_actor_acts_in(hub):
    started = hub.start_new_buyer()
    someone = hub.open_account()["account_id"]
    path = f"/v1/purchases/{started['purchase_id']}"
    head = hub.head()

    read = hub.get(path, token="views", actor=someone)
    verified = hub.post(f"{path}/verify", {"token": "guess"}, actor=someone)
    moved = hub.put(f"{path}/datacenter", {"datacenter": "eu-1"}, actor=someone)
    completed = hub.complete(started["purchase_id"], hub.completion(new_buyer=True), actor=someone)

    for response in (read, verified, moved, completed):
        hub.problem(response, 403, "not-your-organisation")
    assert hub.head() == head
    assert hub.ok(hub.get(path))["status"] == "awaiting_verification"


def test_an_unknown_or_malformed_actor_on_a_read_is_refused(hub):
    theirs = hub.open_account()
    path = f"/v1/organisations/{theirs['organisation_id']}"

    unknown = hub.get(path, actor=str(uuid.uuid4()))
    malformed = hub.get(path, headers={"X-Actor": "admin"})

    hub.problem(unknown, 403, "forbidden")
    hub.problem(malformed, 422, "invalid-request")
