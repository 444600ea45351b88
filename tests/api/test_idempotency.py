"""Idempotency-Key: scoped to (token name, acting user, method, path); a repeat gets the first answer
and records nothing; another body is refused; a repeat during the first is 409."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from api import idempotency, representations
from api.idempotency import IdempotencyStore, _body_hash, _scope_hash
from infrastructure.database import StoreUnavailable


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
    assert store.claim(_scope_hash("test-commands", None, "POST", "/v1/accounts", "open-4"), _body_hash(body)) is None
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


def test_another_organisations_user_repeating_a_key_is_refused_not_answered(hub):
    owner = hub.subscriber()
    stranger = hub.open_account()
    usage = f"/v1/subscriptions/{owner['subscription_id']}/usage"
    hub.ok(hub.post(usage, {"responses": 5}, key="count-1", actor=owner["account_id"]))

    repeat = hub.post(usage, {"responses": 5}, key="count-1", actor=stranger["account_id"])

    hub.problem(repeat, 403, "not-your-organisation")
    assert "idempotent-replayed" not in repeat.headers
    assert hub.subscription(owner["subscription_id"])["usage"]["responses"] == 5


def test_another_organisations_user_repeating_a_purchase_key_gets_no_purchase_id(hub):
    owner = hub.open_account()
    stranger = hub.open_account()
    body = {"plan": "strategic_research", "account_id": owner["account_id"]}
    first = hub.ok(hub.post("/v1/purchases", body, key="buy-1", actor=owner["account_id"]), 201)

    repeat = hub.post("/v1/purchases", body, key="buy-1", actor=stranger["account_id"])

    hub.problem(repeat, 403, "not-your-organisation")
    assert first["purchase_id"] not in repeat.text


def test_the_same_user_repeating_a_key_gets_the_stored_answer(hub):
    owner = hub.subscriber()
    usage = f"/v1/subscriptions/{owner['subscription_id']}/usage"
    first = hub.ok(hub.post(usage, {"responses": 5}, key="count-2", actor=owner["account_id"]))
    head = hub.head()

    repeat = hub.post(usage, {"responses": 5}, key="count-2", actor=owner["account_id"].upper())

    assert hub.ok(repeat) == first
    assert repeat.headers["idempotent-replayed"] == "true"
    assert hub.head() == head


def test_a_key_used_by_a_user_is_another_command_for_a_colleague(hub):
    owner = hub.subscriber()
    colleague = hub.add_user(owner["organisation_id"])
    usage = f"/v1/subscriptions/{owner['subscription_id']}/usage"
    hub.ok(hub.post(usage, {"responses": 5}, key="count-3", actor=owner["account_id"]))

    theirs = hub.ok(hub.post(usage, {"responses": 5}, key="count-3", actor=colleague["account_id"]))

    assert theirs["usage"]["responses"] == 10


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


# --- the answer lost after the command committed ------------------------------------------------
#
# The command's events and the key's "committed" mark are one transaction; its answer is kept
# after it. These tests lose the answer between the two, as a process killed at that instant
# would, and check that a repeat never runs the command a second time.


def lose_the_next_answer(monkeypatch, *, process_dies=True):
    """Keeping the next answer fails as if the database went away right after the commit.
    With ``process_dies`` nothing else about the key is written, exactly as when the
    process is killed there; else the process remembers the key for later."""
    lost = []
    real_answer = IdempotencyStore.answer

    def failing_answer(self, *args, **kwargs):
        if not lost:
            lost.append(args)
            raise StoreUnavailable("the connection was lost after the commit")
        return real_answer(self, *args, **kwargs)

    monkeypatch.setattr(IdempotencyStore, "answer", failing_answer)
    if process_dies:
        monkeypatch.setattr(IdempotencyStore, "release_later", lambda self, scope_hash: None)
    return lost


def test_a_repeat_after_a_lost_answer_gets_the_recorded_position_and_counts_usage_once(hub, monkeypatch):
    done = hub.subscriber()
    path = f"/v1/subscriptions/{done['subscription_id']}/usage"
    lost = lose_the_next_answer(monkeypatch)

    first = hub.post(path, {"responses": 7}, key="usage-1")
    committed_at = hub.head()
    during = hub.post(path, {"responses": 7}, key="usage-1")
    monkeypatch.setattr(idempotency, "COMMITTED_GRACE", timedelta(0))
    repeat = hub.post(path, {"responses": 7}, key="usage-1")
    again = hub.post(path, {"responses": 7}, key="usage-1")

    assert len(lost) == 1
    hub.problem(first, 503, "store-unavailable")
    hub.problem(during, 409, "idempotency-key-in-use")
    recovered = hub.ok(repeat)
    assert recovered == {"position": committed_at, "recovered": True}
    assert repeat.headers["idempotent-replayed"] == "true"
    assert again.status_code == 200 and again.json() == recovered
    assert hub.head() == committed_at
    assert hub.subscription(done["subscription_id"])["usage"]["responses"] == 7


def test_a_repeated_creation_after_a_lost_answer_is_201_with_the_new_ids_and_creates_nothing(
    hub, monkeypatch
):
    lose_the_next_answer(monkeypatch)
    monkeypatch.setattr(idempotency, "COMMITTED_GRACE", timedelta(0))

    first = hub.post("/v1/accounts", account_body("lost"), key="open-lost")
    head = hub.head()
    repeat = hub.post("/v1/accounts", account_body("lost"), key="open-lost")

    hub.problem(first, 503, "store-unavailable")
    created = hub.ok(repeat, 201)
    assert created["position"] == head
    assert created["recovered"] is True
    assert hub.head() == head
    account = hub.account(created["account_id"])
    assert (account["username"], account["organisation_id"]) == ("lost", created["organisation_id"])
    assert hub.organisation(created["organisation_id"])["organisation_id"] == created["organisation_id"]


def test_a_failure_after_the_commit_leaves_the_command_applied_once_and_a_repeat_answers_at_once(
    hub, monkeypatch
):
    """A 5xx produced after the events committed frees nothing: the key is marked
    unanswered, and the repeat gets the recovered answer without waiting."""
    done = hub.subscriber()
    path = f"/v1/subscriptions/{done['subscription_id']}/usage"
    real_show = representations.subscription
    failures = []

    def failing_show(subscription):
        if not failures:
            failures.append(subscription.id)
            raise StoreUnavailable("the store went away while answering")
        return real_show(subscription)

    monkeypatch.setattr(representations, "subscription", failing_show)

    first = hub.post(path, {"responses": 2}, key="responses-2")
    head = hub.head()
    repeat = hub.post(path, {"responses": 2}, key="responses-2")

    hub.problem(first, 503, "store-unavailable")
    assert hub.ok(repeat) == {"position": head, "recovered": True}
    assert hub.head() == head
    assert hub.subscription(done["subscription_id"])["usage"]["responses"] == 2


def test_a_declined_payment_whose_answer_was_lost_is_replayed_as_402_without_a_second_attempt(
    hub, monkeypatch
):
    """A refusal is recorded together with its events, so its answer survives."""
    started = hub.verified_new_buyer()
    body = hub.completion("tok_declined", new_buyer=True)
    lose_the_next_answer(monkeypatch)

    first = hub.complete(started["purchase_id"], body, key="declined-lost")
    head = hub.head()
    repeat = hub.complete(started["purchase_id"], body, key="declined-lost")

    hub.problem(first, 503, "store-unavailable")
    refused = hub.problem(repeat, 402, "payment-declined")
    assert refused["reason"] == "card_declined"
    assert hub.head() == head
    assert hub.ok(hub.get(f"/v1/purchases/{started['purchase_id']}"))["declined_attempts"] == 1
    assert len(hub.container.services.gateway.charges()) == 1


def test_a_completed_purchase_whose_answer_was_lost_is_charged_once_and_names_what_it_created(
    hub, monkeypatch
):
    started = hub.verified_new_buyer()
    body = hub.completion(new_buyer=True)
    lose_the_next_answer(monkeypatch)
    monkeypatch.setattr(idempotency, "COMMITTED_GRACE", timedelta(0))

    first = hub.complete(started["purchase_id"], body, key="complete-lost")
    head = hub.head()
    repeat = hub.complete(started["purchase_id"], body, key="complete-lost")

    hub.problem(first, 503, "store-unavailable")
    recovered = hub.ok(repeat)
    assert recovered["position"] == head
    purchase = hub.ok(hub.get(f"/v1/purchases/{started['purchase_id']}"))
    assert purchase["status"] == "completed"
    assert {k: recovered[k] for k in ("subscription_id", "account_id", "organisation_id")} == {
        k: purchase[k] for k in ("subscription_id", "account_id", "organisation_id")
    }
    assert hub.head() == head
    assert len(hub.container.services.gateway.charges()) == 1


def test_an_answer_the_store_failed_to_keep_is_recovered_at_once_by_the_same_process(
    hub, monkeypatch
):
    """The process outlives the outage: it marks the key as unanswered at its next claim,
    so the repeat needs no grace period."""
    done = hub.subscriber()
    path = f"/v1/subscriptions/{done['subscription_id']}/usage"
    lose_the_next_answer(monkeypatch, process_dies=False)

    first = hub.post(path, {"responses": 3}, key="usage-outage")
    head = hub.head()
    repeat = hub.post(path, {"responses": 3}, key="usage-outage")

    hub.problem(first, 503, "store-unavailable")
    assert hub.ok(repeat) == {"position": head, "recovered": True}
    assert hub.head() == head
    assert hub.subscription(done["subscription_id"])["usage"]["responses"] == 3


def test_a_key_that_could_not_be_released_during_an_outage_is_free_for_the_retry(hub, monkeypatch):
    """A 5xx before anything was recorded frees the key; when the store is also down for
    that release, the key is freed at the next claim instead of being held as in use."""
    started = hub.verified_new_buyer()
    gateway = hub.container.services.gateway
    real_charge, real_release = gateway.charge, IdempotencyStore._release
    outage = []

    def unavailable_once(request, at):
        if not outage:
            outage.append(request)
            raise StoreUnavailable("the processor's ledger is unreachable")
        return real_charge(request, at)

    def release_during_the_outage(self, scope_hash):
        if len(outage) == 1:
            outage.append(scope_hash)
            raise StoreUnavailable("the store is unreachable")
        return real_release(self, scope_hash)

    gateway.charge = unavailable_once
    monkeypatch.setattr(IdempotencyStore, "_release", release_during_the_outage)
    body = hub.completion(new_buyer=True)

    first = hub.complete(started["purchase_id"], body, key="outage-release")
    repeat = hub.complete(started["purchase_id"], body, key="outage-release")

    hub.problem(first, 503, "store-unavailable")
    assert len(outage) == 2
    assert hub.ok(repeat)["status"] == "completed"
    assert len(gateway.charges()) == 1


def test_a_keys_table_made_before_the_committed_mark_gains_its_columns(container):
    database = container.services.database
    database.create(
        [
            """CREATE TABLE idempotency_keys (
                scope_hash TEXT PRIMARY KEY, body_hash TEXT NOT NULL, state TEXT NOT NULL,
                status INTEGER, headers TEXT, body TEXT, created_at TEXT NOT NULL)"""
        ]
    )
    with database.transaction() as tx:
        tx.execute(
            "INSERT INTO idempotency_keys (scope_hash, body_hash, state, status, headers, body,"
            " created_at) VALUES ('old', 'b', 'done', 201, '[]', '{}', '2027-01-31T09:00:00+00:00')"
        )

    store = IdempotencyStore(database)
    IdempotencyStore(database)  # a second process starting on the same table

    assert store.claim("old", "b")["status"] == 201
    assert store.claim("new", "b") is None
    with database.transaction(commit=False) as tx:
        rows = tx.all("SELECT scope_hash, position, committed_at, created FROM idempotency_keys")
    assert sorted(row["scope_hash"] for row in rows) == ["new", "old"]
    assert all(row["position"] is None for row in rows)
