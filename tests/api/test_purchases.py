"""Self-service purchase over HTTP (R10-R16): new buyers and upgrades, verification,
datacenter choice, acceptances, declined cards and completion."""

from __future__ import annotations

import json
import uuid

PLAN = "strategic_research"


def start(hub, actor=None, **body):
    return hub.post("/v1/purchases", {"plan": PLAN, **body}, actor=actor)


def start_upgrade(hub, account_id, **kw):
    return hub.ok(start(hub, account_id=account_id, **kw), 201)


def purchase(hub, purchase_id):
    return hub.ok(hub.get(f"/v1/purchases/{purchase_id}"))


def plan_price(hub, plan, currency):
    plans = {p["plan"]: p for p in hub.get("/v1/plans").json()}
    return next(p for p in plans[plan]["prices"] if p["currency"] == currency)


# --- starting ---------------------------------------------------------------------------------


def test_a_new_buyers_purchase_awaits_verification_and_mails_a_verification_token(hub):
    email = hub.unique_email("newbie")

    started = hub.ok(start(hub, email=email), 201)

    assert started["status"] == "awaiting_verification"
    assert started["datacenter"] == started["recommended_datacenter"]
    assert started["position"] == hub.head()
    messages = [m for m in hub.notifications(email) if m["kind"] == "email_verification"]
    assert len(messages) == 1
    assert messages[0]["recipient"] == email
    assert messages[0]["data"]["purchase_id"] == started["purchase_id"]
    assert messages[0]["data"]["token"]
    shown = purchase(hub, started["purchase_id"])
    assert (shown["status"], shown["plan"], shown["email"]) == ("awaiting_verification", PLAN, email)


def test_the_recommended_datacenter_follows_the_buyers_address(hub, make_container, make_hub, tmp_path):
    ranges = tmp_path / "ranges.json"
    ranges.write_text(
        json.dumps({"ranges": [["198.51.100.0/24", "sg-1"], ["198.51.100.128/25", "jp-1"], ["2001:db8::/32", "au-1"]]})
    )
    other = make_hub(make_container(address_ranges_file=str(ranges)))
    default = other.start_new_buyer()["recommended_datacenter"]

    cases = {"198.51.100.7": "sg-1", "198.51.100.200": "jp-1", "2001:db8::1": "au-1", "203.0.113.9": default}
    for ip, expected in cases.items():
        started = other.start_new_buyer(ip=ip)

        assert started["recommended_datacenter"] == expected, ip
        assert started["datacenter"] == expected, ip
    assert other.start_new_buyer(ip="not an address")["recommended_datacenter"] == default


def test_an_upgrade_is_open_at_once_and_keeps_the_organisations_datacenter(hub):
    opened = hub.open_account(datacenter="eu-1")

    started = start_upgrade(hub, opened["account_id"])

    assert started["status"] == "open"
    assert started["datacenter"] == "eu-1"
    assert "email_verification" not in hub.kinds(opened["email"])


def test_a_purchase_is_priced_in_the_chosen_currency_and_in_usd_by_default(hub):
    chosen = start_upgrade(hub, hub.open_account()["account_id"], currency="EUR")
    default = start_upgrade(hub, hub.open_account()["account_id"])

    assert purchase(hub, chosen["purchase_id"])["price"] == plan_price(hub, PLAN, "EUR")
    assert purchase(hub, default["purchase_id"])["price"] == plan_price(hub, PLAN, "USD")


def test_an_unknown_plan_or_currency_or_buyer_is_422_and_records_nothing(hub):
    opened = hub.open_account()
    head = hub.head()

    for body in (
        {"plan": "platinum", "account_id": opened["account_id"]},
        {"plan": PLAN, "currency": "XYZ", "account_id": opened["account_id"]},
        {"plan": PLAN, "currency": "usd", "account_id": opened["account_id"]},
        {"plan": PLAN, "account_id": opened["account_id"], "email": "both@example.com"},
        {"plan": PLAN},
    ):
        hub.problem(hub.post("/v1/purchases", body), 422, "invalid-request")
    assert hub.head() == head


def test_a_fedramp_organisation_cannot_buy_422_fedramp_not_eligible(hub):
    opened = hub.open_account(fedramp=True)
    head = hub.head()

    response = start(hub, account_id=opened["account_id"])

    hub.problem(response, 422, "fedramp-not-eligible")
    assert hub.head() == head


def test_an_organisation_with_an_active_subscription_cannot_buy_409_already_subscribed(hub):
    opened = hub.open_account()
    hub.upgrade(opened["account_id"])
    head = hub.head()

    response = start(hub, account_id=opened["account_id"])

    hub.problem(response, 409, "already-subscribed")
    assert hub.head() == head


def test_a_user_of_another_organisation_can_neither_start_nor_complete_an_upgrade(hub):
    opened = hub.open_account()
    outsider = hub.open_account()["account_id"]
    started = start_upgrade(hub, opened["account_id"])
    head = hub.head()

    starting = start(hub, account_id=opened["account_id"], actor=outsider)
    completing = hub.complete(started["purchase_id"], hub.completion(), actor=outsider)

    hub.problem(starting, 403, "not-your-organisation")
    hub.problem(completing, 403, "not-your-organisation")
    assert hub.head() == head
    assert hub.container.services.gateway.charges() == []


def test_a_user_of_the_organisation_may_start_its_upgrade(hub):
    opened = hub.open_account()

    response = start(hub, account_id=opened["account_id"], actor=opened["account_id"])

    assert hub.ok(response, 201)["status"] == "open"


# --- verification -------------------------------------------------------------------------------


def test_the_mailed_token_verifies_the_purchase_and_opens_it(hub):
    started = hub.start_new_buyer()
    token = hub.verification_token(started["email"], started["purchase_id"], started["position"])

    response = hub.post(f"/v1/purchases/{started['purchase_id']}/verify", {"token": token})

    verified = hub.ok(response)
    assert verified["status"] == "open"
    assert verified["position"] == hub.head()
    assert purchase(hub, started["purchase_id"])["status"] == "open"


def test_a_wrong_token_is_422_verification_failed_and_the_purchase_still_awaits(hub):
    started = hub.start_new_buyer()
    other = hub.start_new_buyer()
    other_token = hub.verification_token(other["email"], other["purchase_id"], other["position"])
    head = hub.head()

    for token in ("guess", other_token):
        response = hub.post(f"/v1/purchases/{started['purchase_id']}/verify", {"token": token})

        hub.problem(response, 422, "verification-failed")
    assert hub.head() == head
    assert purchase(hub, started["purchase_id"])["status"] == "awaiting_verification"


def test_completing_before_verification_is_409_purchase_not_verified_and_charges_nothing(hub):
    started = hub.start_new_buyer()
    head = hub.head()

    response = hub.complete(started["purchase_id"], hub.completion(new_buyer=True))

    hub.problem(response, 409, "purchase-not-verified")
    assert hub.head() == head
    assert hub.container.services.gateway.charges() == []


# --- datacenter -----------------------------------------------------------------------------------


def test_a_new_buyer_chooses_the_datacenter_and_the_organisation_is_created_there(hub):
    started = hub.verified_new_buyer()
    chosen = "jp-1" if started["datacenter"] != "jp-1" else "eu-1"

    response = hub.put(f"/v1/purchases/{started['purchase_id']}/datacenter", {"datacenter": chosen})

    assert hub.ok(response)["datacenter"] == chosen
    done = hub.ok(hub.complete(started["purchase_id"], hub.completion(new_buyer=True)))
    assert hub.organisation(done["organisation_id"])["datacenter"] == chosen
    assert hub.account(done["account_id"])["datacenter"] == chosen


def test_an_unknown_datacenter_is_refused_and_the_choice_is_kept(hub):
    started = hub.start_new_buyer()
    head = hub.head()

    response = hub.put(f"/v1/purchases/{started['purchase_id']}/datacenter", {"datacenter": "moon-1"})

    hub.problem(response, 422, "invalid-request")
    assert hub.head() == head
    assert purchase(hub, started["purchase_id"])["datacenter"] == started["datacenter"]


def test_choosing_a_datacenter_after_completion_is_409_purchase_completed(hub):
    done = hub.buy_new()
    other = "au-1" if done["datacenter"] != "au-1" else "eu-1"
    head = hub.head()

    response = hub.put(f"/v1/purchases/{done['purchase_id']}/datacenter", {"datacenter": other})

    hub.problem(response, 409, "purchase-completed")
    assert hub.head() == head
    assert purchase(hub, done["purchase_id"])["datacenter"] == done["datacenter"]
    assert hub.organisation(done["organisation_id"])["datacenter"] == done["datacenter"]


def test_an_upgrade_cannot_change_the_datacenter_409_datacenter_fixed(hub):
    opened = hub.open_account(datacenter="uk-1")
    started = start_upgrade(hub, opened["account_id"])
    head = hub.head()

    response = hub.put(f"/v1/purchases/{started['purchase_id']}/datacenter", {"datacenter": "au-1"})

    hub.problem(response, 409, "datacenter-fixed")
    assert hub.head() == head
    assert purchase(hub, started["purchase_id"])["datacenter"] == "uk-1"


# --- completion --------------------------------------------------------------------------------------


def test_completing_a_new_buyers_purchase_creates_organisation_account_subscription_and_confirmation(hub):
    started = hub.verified_new_buyer()
    body = hub.completion(new_buyer=True)

    response = hub.complete(started["purchase_id"], body)

    done = hub.ok(response)
    assert done["status"] == "completed"
    assert done["position"] == hub.head()
    organisation = hub.organisation(done["organisation_id"])
    assert organisation["brand_id"] == done["brand_id"]
    assert organisation["licence"] == "self_service"
    assert organisation["subscription_id"] == done["subscription_id"]
    account = hub.account(done["account_id"])
    assert account["organisation_id"] == done["organisation_id"]
    assert account["email"] == started["email"]
    assert (account["name"], account["username"]) == (body["account"]["name"], body["account"]["username"])
    assert account["user_type"] == "brand_admin"
    subscription = hub.subscription(done["subscription_id"])
    assert (subscription["organisation_id"], subscription["status"], subscription["plan"]) == (
        done["organisation_id"],
        "active",
        PLAN,
    )
    shown = purchase(hub, started["purchase_id"])
    assert shown["status"] == "completed"
    assert shown["subscription_id"] == done["subscription_id"]
    confirmations = [m for m in hub.notifications(started["email"]) if m["kind"] == "purchase_confirmation"]
    assert [m["data"]["subscription_id"] for m in confirmations] == [done["subscription_id"]]


def test_completing_an_upgrade_makes_the_organisation_self_service(hub):
    opened = hub.open_account("trial")
    started = start_upgrade(hub, opened["account_id"])

    done = hub.ok(hub.complete(started["purchase_id"], hub.completion()))

    assert done["organisation_id"] == opened["organisation_id"]
    assert done["account_id"] == opened["account_id"]
    assert done["brand_id"] == opened["brand_id"]
    organisation = hub.organisation(opened["organisation_id"])
    assert organisation["licence"] == "self_service"
    assert organisation["subscription_id"] == done["subscription_id"]


def test_each_missing_or_refused_acceptance_is_422_acceptance_required_and_charges_nothing(hub):
    started = hub.verified_new_buyer()
    head = hub.head()

    for name in ("accept_terms", "accept_auto_renewal", "accept_privacy"):
        refused = hub.completion(new_buyer=True, **{name: False})
        missing = hub.completion(new_buyer=True)
        del missing[name]
        for body in (refused, missing):
            response = hub.complete(started["purchase_id"], body)

            hub.problem(response, 422, "acceptance-required")
    assert hub.head() == head
    assert hub.container.services.gateway.charges() == []
    assert purchase(hub, started["purchase_id"])["status"] == "open"


def test_an_upgrade_needs_no_privacy_acceptance_but_the_others(hub):
    opened = hub.open_account()
    started = start_upgrade(hub, opened["account_id"])
    without_auto_renewal = hub.completion()
    del without_auto_renewal["accept_auto_renewal"]

    refused = hub.complete(started["purchase_id"], without_auto_renewal)
    completed = hub.complete(started["purchase_id"], hub.completion())

    hub.problem(refused, 422, "acceptance-required")
    assert hub.ok(completed)["status"] == "completed"


def test_a_completion_missing_required_details_is_422_invalid_request_and_charges_nothing(hub):
    started = hub.verified_new_buyer()
    without_account = hub.completion(new_buyer=True)
    del without_account["account"]
    without_postal_code = hub.completion(new_buyer=True)
    del without_postal_code["billing_address"]["postal_code"]
    head = hub.head()

    no_account = hub.complete(started["purchase_id"], without_account)
    no_postal_code = hub.complete(started["purchase_id"], without_postal_code)

    hub.problem(no_account, 422, "invalid-request")
    problem = hub.problem(no_postal_code, 422, "invalid-request")
    assert ["body", "billing_address", "postal_code"] in [e["loc"] for e in problem["errors"]]
    assert hub.head() == head
    assert hub.container.services.gateway.charges() == []


def test_a_declined_card_is_402_payment_declined_and_creates_nothing(hub):
    started = hub.verified_new_buyer()
    head = hub.head()

    response = hub.complete(started["purchase_id"], hub.completion("tok_declined", new_buyer=True))

    hub.problem(response, 402, "payment-declined")
    recorded = hub.events_after(head)
    assert {str(e.originator_id) for e in recorded} <= {started["purchase_id"]}
    shown = purchase(hub, started["purchase_id"])
    assert shown["status"] == "open"
    assert "subscription_id" not in shown and "organisation_id" not in shown
    assert "purchase_confirmation" not in hub.kinds(started["email"])


def test_after_a_declined_card_another_card_completes_the_purchase(hub):
    started = hub.verified_new_buyer()
    hub.problem(
        hub.complete(started["purchase_id"], hub.completion("tok_declined", new_buyer=True)),
        402,
        "payment-declined",
    )

    response = hub.complete(started["purchase_id"], hub.completion("tok_visa", new_buyer=True))

    done = hub.ok(response)
    assert done["status"] == "completed"
    assert hub.subscription(done["subscription_id"])["card"]["last4"] == "4242"


def test_a_declined_upgrade_leaves_the_organisation_free(hub):
    opened = hub.open_account()
    started = start_upgrade(hub, opened["account_id"])

    response = hub.complete(started["purchase_id"], hub.completion("tok_declined"))

    hub.problem(response, 402, "payment-declined")
    organisation = hub.organisation(opened["organisation_id"])
    assert organisation["licence"] == "free"
    assert organisation["subscription_id"] is None
    assert hub.get(f"/v1/organisations/{opened['organisation_id']}/subscriptions").json() == []


def test_a_token_the_processor_does_not_know_is_refused_and_the_purchase_stays_open(hub):
    started = hub.verified_new_buyer()

    response = hub.complete(started["purchase_id"], hub.completion("tok_unknown", new_buyer=True))

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert purchase(hub, started["purchase_id"])["status"] == "open"
    assert hub.container.services.gateway.charges() == []


def test_completing_a_completed_purchase_is_409_purchase_completed_and_charges_once(hub):
    done = hub.buy_new()
    head = hub.head()

    response = hub.complete(done["purchase_id"], hub.completion(new_buyer=True))

    hub.problem(response, 409, "purchase-completed")
    assert hub.head() == head
    assert len(hub.container.services.gateway.charges()) == 1


def test_an_unknown_purchase_or_account_is_404_not_found_for_every_route(hub):
    missing = str(uuid.uuid4())
    for account_id in (missing, "not-an-id"):
        hub.problem(start(hub, account_id=account_id), 404, "not-found")

    hub.problem(hub.get(f"/v1/purchases/{missing}"), 404, "not-found")
    hub.problem(hub.post(f"/v1/purchases/{missing}/verify", {"token": "x"}), 404, "not-found")
    hub.problem(hub.put(f"/v1/purchases/{missing}/datacenter", {"datacenter": "eu-1"}), 404, "not-found")
    hub.problem(hub.complete(missing, hub.completion()), 404, "not-found")
    hub.problem(hub.get("/v1/purchases/not-a-uuid"), 404, "not-found")


def test_the_team_plan_subscribes_with_the_team_plans_caps(hub):
    plans = {p["plan"]: p for p in hub.get("/v1/plans").json()}
    team = next(p for p in plans if p != PLAN)
    opened = hub.open_account()

    done = hub.upgrade(opened["account_id"], plan=team)

    subscription = hub.subscription(done["subscription_id"])
    assert subscription["plan"] == team
    assert subscription["caps"] == plans[team]["caps"]
    assert subscription["price"] == plan_price(hub, team, "USD")


def test_the_plans_list_names_each_plans_prices_and_caps(hub):
    response = hub.get("/v1/plans")

    assert response.status_code == 200
    plans = response.json()
    assert {p["plan"] for p in plans} >= {PLAN}
    for plan in plans:
        assert plan["name"]
        assert plan["prices"]
        for price in plan["prices"]:
            assert set(price) == {"amount", "currency"}
            whole, cents = price["amount"].split(".")
            assert whole.isdigit() and len(cents) == 2 and cents.isdigit()
            assert len(price["currency"]) == 3 and price["currency"].isupper()
        assert set(plan["caps"]) == {"responses", "seats"}
    research = next(p for p in plans if p["name"] == "Strategic Research")
    assert research["plan"] == PLAN
    assert research["caps"]["responses"] == 1000
