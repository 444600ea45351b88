"""Idempotency-Key: scoped to (token name, method, path); a repeat gets the first answer
and records nothing; another body is refused; a repeat during the first is 409."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

from api.idempotency import IdempotencyStore, _body_hash, _scope_hash
from commands.database import StoreUnavailable


def account_body(username: str = "ida", **overrides):
    body = {"email": f"{username}@example.com", "name": "Ida", "username": username, "kind": "free"}
    body.update(overrides)
    return body


def test_a_repeat_gets_the_first_response_and_records_nothing_new(hub):
    first = hub.post("/v1/accounts", account_body(), key="open-1")
    head = hub.head()

    repeat = hub.post("/v1/accounts", account_body(), key="open-1")

    assert first.status_code == repeat.status_code == 201
    assert repeat.json() == first.json()
    assert hub.head() == head


def test_the_body_is_compared_as_parsed_json(hub):
    body = account_body()
    first = hub.post("/v1/accounts", body, key="open-2")
    head = hub.head()
    reordered = "{\n  " + ",\n  ".join(f'"{k}" : {json.dumps(v)}' for k, v in reversed(body.items())) + "\n}"

    repeat = hub.client.post(
        "/v1/accounts",
        content=reordered.encode(),
        headers={**hub.headers(key="open-2"), "Content-Type": "application/json"},
    )

    assert repeat.status_code == 201
    assert repeat.json() == first.json()
    assert hub.head() == head


def test_a_repeat_with_another_body_is_422_idempotency_key_reused_and_records_nothing(hub):
    first = hub.ok(hub.post("/v1/accounts", account_body(), key="open-3"), 201)
    head = hub.head()

    response = hub.post("/v1/accounts", account_body(name="Someone Else"), key="open-3")

    hub.problem(response, 422, "idempotency-key-reused")
    assert hub.head() == head
    assert hub.account(first["account_id"])["name"] == "Ida"


def test_a_repeat_while_the_first_still_runs_is_409_idempotency_key_in_use(hub):
    body = account_body()
    store = IdempotencyStore(hub.container.services.database)
    assert store.claim(_scope_hash("test-commands", "POST", "/v1/accounts", "open-4"), _body_hash(body)) is None
    head = hub.head()

    response = hub.post("/v1/accounts", body, key="open-4")

    hub.problem(response, 409, "idempotency-key-in-use")
    assert hub.head() == head


def test_a_repeat_during_a_running_completion_is_409_and_charges_once(hub):
    """The first completion is held inside the payment processor while it is repeated."""
    started = hub.verified_new_buyer()
    gateway = hub.container.services.gateway
    charging, release = threading.Event(), threading.Event()
    real_charge = gateway.charge

    def slow_charge(request, at):
        charging.set()
        assert release.wait(10)
        return real_charge(request, at)

    gateway.charge = slow_charge
    body = hub.completion(new_buyer=True)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(hub.complete, started["purchase_id"], body, key="complete-1")
        assert charging.wait(10)

        during = hub.complete(started["purchase_id"], body, key="complete-1")

        release.set()
        completed = first.result(timeout=20)
    after = hub.complete(started["purchase_id"], body, key="complete-1")

    hub.problem(during, 409, "idempotency-key-in-use")
    assert completed.status_code == 200, completed.text
    assert after.status_code == 200
    assert after.json() == completed.json()
    assert len(gateway.charges()) == 1


def test_keys_are_scoped_to_the_token(hub):
    as_commands = hub.ok(hub.post("/v1/accounts", account_body("a1"), key="shared", token="commands"), 201)
    as_ops = hub.ok(hub.post("/v1/accounts", account_body("a1"), key="shared", token="ops"), 201)

    assert as_ops["account_id"] != as_commands["account_id"]
    assert as_ops["organisation_id"] != as_commands["organisation_id"]
    assert hub.account(as_ops["account_id"])["username"] == "a1"


def test_keys_are_scoped_to_the_path(hub):
    opened = hub.ok(hub.post("/v1/accounts", account_body("owner"), key="same-key"), 201)
    member = {"email": "m@example.com", "name": "Mo", "username": "mo", "user_type": "standard"}

    added = hub.post(f"/v1/organisations/{opened['organisation_id']}/users", member, key="same-key")

    created = hub.ok(added, 201)
    assert created["account_id"] != opened["account_id"]
    assert hub.account(created["account_id"])["username"] == "mo"
    assert hub.account(opened["account_id"])["username"] == "owner"


def test_the_same_key_on_two_organisations_adds_a_user_to_each(hub):
    first_org = hub.open_account()["organisation_id"]
    second_org = hub.open_account()["organisation_id"]
    member = {"email": "m@example.com", "name": "Mo", "username": "mo", "user_type": "standard"}

    first = hub.ok(hub.post(f"/v1/organisations/{first_org}/users", member, key="add-mo"), 201)
    second = hub.ok(hub.post(f"/v1/organisations/{second_org}/users", member, key="add-mo"), 201)

    assert first["account_id"] != second["account_id"]
    assert hub.account(first["account_id"])["organisation_id"] == first_org
    assert hub.account(second["account_id"])["organisation_id"] == second_org


def test_the_same_key_completes_two_purchases_into_two_organisations(hub):
    first = hub.verified_new_buyer()
    second = hub.verified_new_buyer()
    body = hub.completion(new_buyer=True)

    one = hub.ok(hub.complete(first["purchase_id"], body, key="complete"))
    two = hub.ok(hub.complete(second["purchase_id"], body, key="complete"))

    assert one["organisation_id"] != two["organisation_id"]
    assert one["subscription_id"] != two["subscription_id"]
    assert hub.account(two["account_id"])["email"] == second["email"]


def test_keys_are_scoped_to_the_method(hub):
    done = hub.subscriber()
    path = f"/v1/subscriptions/{done['subscription_id']}/card"

    replaced = hub.ok(hub.put(path, {"payment_token": "tok_mastercard"}, key="card"))
    removed = hub.ok(hub.delete(path, key="card"))

    assert replaced["card"]["last4"] == "4444"
    assert removed["card"] is None
    assert hub.subscription(done["subscription_id"])["card"] is None


def test_a_replay_answers_as_first_even_after_the_resource_moved_on(hub):
    done = hub.subscriber()
    path = f"/v1/subscriptions/{done['subscription_id']}"
    first = hub.put(f"{path}/card", {"payment_token": "tok_mastercard"}, key="card-2")
    hub.ok(hub.post(f"{path}/cancel-renewal"))
    head = hub.head()

    repeat = hub.put(f"{path}/card", {"payment_token": "tok_mastercard"}, key="card-2")

    assert repeat.status_code == first.status_code == 200
    assert repeat.json() == first.json()
    assert repeat.headers["etag"] == first.headers["etag"]
    assert hub.head() == head
    assert hub.subscription(done["subscription_id"])["status"] == "non_renewing"


def test_a_declined_payment_answer_is_kept_and_replayed_without_a_second_attempt(hub):
    started = hub.verified_new_buyer()
    body = hub.completion("tok_declined", new_buyer=True)
    first = hub.complete(started["purchase_id"], body, key="declined")
    head = hub.head()

    repeat = hub.complete(started["purchase_id"], body, key="declined")

    hub.problem(first, 402, "payment-declined")
    assert repeat.status_code == 402
    assert repeat.json() == first.json()
    assert hub.head() == head
    assert hub.ok(hub.get(f"/v1/purchases/{started['purchase_id']}"))["declined_attempts"] == 1
    assert len(hub.container.services.gateway.charges()) == 1


def test_a_5xx_answer_is_not_kept_so_a_repeat_runs_again(hub):
    started = hub.verified_new_buyer()
    gateway = hub.container.services.gateway
    real_charge = gateway.charge
    failures = []

    def unavailable_once(request, at):
        if not failures:
            failures.append(request)
            raise StoreUnavailable("the processor's ledger is unreachable")
        return real_charge(request, at)

    gateway.charge = unavailable_once
    body = hub.completion(new_buyer=True)

    first = hub.complete(started["purchase_id"], body, key="flaky")
    repeat = hub.complete(started["purchase_id"], body, key="flaky")

    assert 500 <= first.status_code < 600, first.text
    assert hub.ok(repeat)["status"] == "completed"
    assert len(failures) == 1


def test_a_raw_card_data_refusal_is_not_kept(hub):
    head = hub.head()
    refused = hub.post("/v1/accounts", account_body(name="4242 4242 4242 4242"), key="card-then-clean")

    clean = hub.post("/v1/accounts", account_body(), key="card-then-clean")

    hub.problem(refused, 422, "raw-card-data-refused")
    assert hub.head() > head
    assert hub.ok(clean, 201)["user_type"] == "brand_admin"


def test_without_a_key_or_with_a_blank_one_each_request_runs(hub):
    for key in (None, "   "):
        first = hub.ok(hub.post("/v1/accounts", account_body(), key=key), 201)
        second = hub.ok(hub.post("/v1/accounts", account_body(), key=key), 201)

        assert first["account_id"] != second["account_id"]
        assert first["organisation_id"] != second["organisation_id"]
        assert second["position"] > first["position"]


def test_a_repeated_patch_with_the_same_key_records_one_change(hub):
    opened = hub.open_account()
    path = f"/v1/accounts/{opened['account_id']}"
    first = hub.patch(path, {"name": "Once Renamed"}, key="rename")
    hub.ok(hub.patch(path, {"name": "Renamed Again"}))
    head = hub.head()

    repeat = hub.patch(path, {"name": "Once Renamed"}, key="rename")

    assert repeat.status_code == first.status_code == 200
    assert repeat.json() == first.json()
    assert hub.head() == head
    assert hub.account(opened["account_id"])["name"] == "Renamed Again"
