"""Licence requests over HTTP (R31): submitted on a subscription, routed to account
services, fulfilled (caps and plan now, price from the next renewal) or declined."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

TERM_END = datetime(2028, 1, 31, 9, 0, tzinfo=timezone.utc)
DEFAULT_ACCOUNT_SERVICES = "account-services@example.com"


def request_body(**overrides):
    body = {
        "name": "Lee Requester",
        "email": "lee@example.com",
        "cc": ["finance@example.com"],
        "username": "lee",
        "kind": "more_responses",
        "description": "We need 5000 responses this year.",
    }
    body.update(overrides)
    return body


def submit(hub, subscription_id, **kw):
    actor = kw.pop("actor", None)
    return hub.post(f"/v1/subscriptions/{subscription_id}/licence-requests", request_body(**kw), actor=actor)


def submitted(hub, subscription_id, **kw):
    return hub.ok(submit(hub, subscription_id, **kw), 201)


def licence_request(hub, request_id):
    return hub.ok(hub.get(f"/v1/licence-requests/{request_id}"))


def test_a_submitted_licence_request_answers_201_and_is_mailed_to_account_services(hub):
    done = hub.subscriber()

    response = submit(hub, done["subscription_id"])

    created = hub.ok(response, 201)
    assert created["licence_request_id"]
    assert created["position"] == hub.head()
    shown = licence_request(hub, created["licence_request_id"])
    assert shown["subscription_id"] == done["subscription_id"]
    assert shown["organisation_id"] == done["organisation_id"]
    assert shown["status"] == created["status"] == "submitted"
    body = request_body()
    assert {k: shown[k] for k in body} == body
    assert shown["routed_to"] == DEFAULT_ACCOUNT_SERVICES
    messages = hub.notifications(DEFAULT_ACCOUNT_SERVICES, min_position=created["position"])
    assert [m["kind"] for m in messages] == ["licence_request"]
    data = messages[0]["data"]
    assert data["licence_request_id"] == created["licence_request_id"]
    assert data["subscription_id"] == done["subscription_id"]
    assert (data["kind"], data["email"], data["description"]) == (body["kind"], body["email"], body["description"])


def test_the_account_services_address_comes_from_lifecycle_account_services_email(
    make_container, make_hub, monkeypatch
):
    monkeypatch.setenv("LIFECYCLE_ACCOUNT_SERVICES_EMAIL", "licences@corp.example")
    hub = make_hub(make_container())
    done = hub.subscriber()

    created = submitted(hub, done["subscription_id"])

    messages = hub.notifications("licences@corp.example", min_position=created["position"])
    assert [m["kind"] for m in messages] == ["licence_request"]
    assert hub.notifications(DEFAULT_ACCOUNT_SERVICES) == []


def test_a_licence_request_of_an_unknown_kind_is_422_invalid_request(hub):
    done = hub.subscriber()
    head = hub.head()

    response = submit(hub, done["subscription_id"], kind="free_upgrade")

    problem = hub.problem(response, 422, "invalid-request")
    assert ["body", "kind"] in [e["loc"] for e in problem["errors"]]
    assert hub.head() == head


def test_a_licence_request_on_an_unknown_subscription_is_404_not_found(hub):
    hub.problem(submit(hub, str(uuid.uuid4())), 404, "not-found")


def test_a_user_of_another_organisation_cannot_submit_a_licence_request(hub):
    done = hub.subscriber()
    outsider = hub.open_account()["account_id"]
    head = hub.head()

    response = submit(hub, done["subscription_id"], actor=outsider)

    hub.problem(response, 403, "not-your-organisation")
    assert hub.head() == head


def test_fulfilling_with_caps_changes_the_subscriptions_caps_at_once(hub):
    done = hub.subscriber()
    sid = done["subscription_id"]
    caps_before = hub.subscription(sid)["caps"]
    old_limit = caps_before["responses"]
    created = submitted(hub, sid)

    response = hub.post(
        f"/v1/licence-requests/{created['licence_request_id']}/fulfil", {"caps": {"responses": 5000}}
    )

    fulfilled = hub.ok(response)
    assert fulfilled["status"] == "fulfilled"
    assert fulfilled["position"] == hub.head()
    assert hub.subscription(sid)["caps"] == {**caps_before, "responses": 5000}
    counted = hub.ok(hub.post(f"/v1/subscriptions/{sid}/usage", {"responses": old_limit + 1}))
    assert counted["usage"]["responses"] == old_limit + 1


def test_fulfilling_with_a_plan_changes_the_subscriptions_plan(hub):
    plans = [p["plan"] for p in hub.get("/v1/plans").json()]
    done = hub.subscriber(plan=plans[0])
    created = submitted(hub, done["subscription_id"], kind="new_product")

    hub.ok(hub.post(f"/v1/licence-requests/{created['licence_request_id']}/fulfil", {"plan": plans[1]}))

    assert hub.subscription(done["subscription_id"])["plan"] == plans[1]


def test_fulfilling_with_a_price_charges_it_from_the_next_renewal(hub):
    done = hub.subscriber()
    sid = done["subscription_id"]
    old_price = hub.subscription(sid)["price"]
    new_price = {"amount": "2750.00", "currency": old_price["currency"]}
    created = submitted(hub, sid, kind="add_seats")

    hub.ok(
        hub.post(
            f"/v1/licence-requests/{created['licence_request_id']}/fulfil",
            {"caps": {"seats": 3}, "price": new_price},
        )
    )
    during_term = hub.subscription(sid)
    hub.advance(TERM_END)

    assert during_term["price"] == old_price
    assert during_term["caps"]["seats"] == 3
    renewed = hub.subscription(sid)
    assert renewed["term"]["number"] == 2
    assert renewed["price"] == new_price
    assert hub.payments(sid)[-1]["amount"] == new_price


def test_declining_a_licence_request_records_the_reason_and_changes_nothing(hub):
    done = hub.subscriber()
    before = hub.subscription(done["subscription_id"])
    created = submitted(hub, done["subscription_id"])

    response = hub.post(
        f"/v1/licence-requests/{created['licence_request_id']}/decline", {"reason": "not on this plan"}
    )

    declined = hub.ok(response)
    assert declined["status"] == "declined"
    assert declined["resolution"]["reason"] == "not on this plan"
    after = hub.subscription(done["subscription_id"])
    assert (after["caps"], after["plan"], after["version"]) == (before["caps"], before["plan"], before["version"])


def test_declining_without_a_reason_is_422_invalid_request(hub):
    done = hub.subscriber()
    created = submitted(hub, done["subscription_id"])

    response = hub.post(f"/v1/licence-requests/{created['licence_request_id']}/decline", {})

    hub.problem(response, 422, "invalid-request")
    assert licence_request(hub, created["licence_request_id"])["status"] == "submitted"


def test_a_resolved_licence_request_cannot_be_resolved_again(hub):
    done = hub.subscriber()
    created = submitted(hub, done["subscription_id"])
    rid = created["licence_request_id"]
    hub.ok(hub.post(f"/v1/licence-requests/{rid}/decline", {"reason": "no"}))
    head = hub.head()

    fulfil = hub.post(f"/v1/licence-requests/{rid}/fulfil", {"caps": {"responses": 9000}})
    decline = hub.post(f"/v1/licence-requests/{rid}/decline", {"reason": "again"})

    assert fulfil.status_code == decline.status_code == 409, (fulfil.text, decline.text)
    assert hub.head() == head
    assert hub.subscription(done["subscription_id"])["caps"]["responses"] != 9000


def test_an_unknown_licence_request_is_404_not_found(hub):
    missing = str(uuid.uuid4())

    hub.problem(hub.get(f"/v1/licence-requests/{missing}"), 404, "not-found")
    hub.problem(hub.post(f"/v1/licence-requests/{missing}/fulfil", {}), 404, "not-found")
    hub.problem(hub.post(f"/v1/licence-requests/{missing}/decline", {"reason": "x"}), 404, "not-found")


def test_a_user_of_another_organisation_cannot_resolve_a_licence_request(hub):
    done = hub.subscriber()
    created = submitted(hub, done["subscription_id"])
    outsider = hub.open_account()["account_id"]
    rid = created["licence_request_id"]
    head = hub.head()

    fulfil = hub.post(f"/v1/licence-requests/{rid}/fulfil", {"caps": {"responses": 9000}}, actor=outsider)
    decline = hub.post(f"/v1/licence-requests/{rid}/decline", {"reason": "x"}, actor=outsider)

    hub.problem(fulfil, 403, "not-your-organisation")
    hub.problem(decline, 403, "not-your-organisation")
    assert hub.head() == head


def test_fulfilling_with_an_unknown_plan_is_refused_and_changes_nothing(hub):
    done = hub.subscriber()
    created = submitted(hub, done["subscription_id"])
    head = hub.head()

    response = hub.post(f"/v1/licence-requests/{created['licence_request_id']}/fulfil", {"plan": "platinum"})

    hub.problem(response, 422, "invalid-request")
    assert hub.head() == head
    assert licence_request(hub, created["licence_request_id"])["status"] == "submitted"
