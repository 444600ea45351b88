"""Versions over HTTP: ETag on every resource, If-Match for optimistic concurrency, and
concurrent requests that neither lose an update nor pass a rule."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor


def concurrently(count, call):
    """Run ``call(i)`` for i in range(count) on as many threads, released together."""
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait(timeout=10)
        return call(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def usage(hub, subscription_id, responses=0, seats=0, **kw):
    return hub.post(
        f"/v1/subscriptions/{subscription_id}/usage", {"responses": responses, "seats": seats}, **kw
    )


# --- ETag ----------------------------------------------------------------------------------


def test_every_resource_carries_its_version_as_a_quoted_etag(hub):
    done = hub.subscriber()
    request = hub.ok(
        hub.post(
            f"/v1/subscriptions/{done['subscription_id']}/licence-requests",
            {
                "name": "Lee",
                "email": "lee@example.com",
                "username": "lee",
                "kind": "add_seats",
                "description": "two more seats",
            },
        ),
        201,
    )
    purchase = hub.start_new_buyer()
    paths = [
        f"/v1/subscriptions/{done['subscription_id']}",
        f"/v1/organisations/{done['organisation_id']}",
        f"/v1/accounts/{done['account_id']}",
        f"/v1/purchases/{purchase['purchase_id']}",
        f"/v1/licence-requests/{request['licence_request_id']}",
    ]

    for path in paths:
        response = hub.get(path)
        body = hub.ok(response)
        assert isinstance(body["version"], int) and body["version"] >= 1, path
        assert response.headers["etag"] == f'"{body["version"]}"', path


def test_a_command_answers_with_the_new_etag_and_its_log_position(hub):
    done = hub.subscriber()
    before = hub.subscription(done["subscription_id"])["version"]

    response = hub.post(f"/v1/subscriptions/{done['subscription_id']}/cancel-renewal")

    body = hub.ok(response)
    assert body["version"] == before + 1
    assert response.headers["etag"] == f'"{before + 1}"'
    assert body["position"] == hub.head()
    assert hub.get(f"/v1/subscriptions/{done['subscription_id']}").headers["etag"] == f'"{before + 1}"'


def test_if_match_with_the_current_version_applies_the_command(hub):
    done = hub.subscriber()
    etag = hub.get(f"/v1/subscriptions/{done['subscription_id']}").headers["etag"]

    response = usage(hub, done["subscription_id"], responses=3, if_match=etag)

    assert hub.ok(response)["usage"]["responses"] == 3


def test_if_match_with_a_stale_version_is_412_version_conflict_and_records_nothing(hub):
    done = hub.subscriber()
    stale = hub.get(f"/v1/subscriptions/{done['subscription_id']}").headers["etag"]
    hub.ok(usage(hub, done["subscription_id"], responses=1))
    head = hub.head()

    response = usage(hub, done["subscription_id"], responses=5, if_match=stale)

    hub.problem(response, 412, "version-conflict")
    assert hub.head() == head
    assert hub.subscription(done["subscription_id"])["usage"]["responses"] == 1


def test_a_stale_if_match_on_an_account_or_a_purchase_is_412_and_changes_nothing(hub):
    opened = hub.open_account()
    account = f"/v1/accounts/{opened['account_id']}"
    stale_account = hub.get(account).headers["etag"]
    hub.ok(hub.patch(account, {"name": "First Rename"}))
    started = hub.start_new_buyer()
    purchase = f"/v1/purchases/{started['purchase_id']}"
    stale_purchase = hub.get(purchase).headers["etag"]
    hub.ok(hub.put(f"{purchase}/datacenter", {"datacenter": "eu-1"}))
    head = hub.head()

    renamed = hub.patch(account, {"name": "Second Rename"}, if_match=stale_account)
    moved = hub.put(f"{purchase}/datacenter", {"datacenter": "jp-1"}, if_match=stale_purchase)

    hub.problem(renamed, 412, "version-conflict")
    hub.problem(moved, 412, "version-conflict")
    assert hub.head() == head
    assert hub.account(opened["account_id"])["name"] == "First Rename"
    assert hub.ok(hub.get(purchase))["datacenter"] == "eu-1"


# --- concurrent requests ---------------------------------------------------------------------


def test_concurrent_commands_with_the_same_if_match_let_exactly_one_through(hub):
    done = hub.subscriber()
    sid = done["subscription_id"]
    etag = hub.get(f"/v1/subscriptions/{sid}").headers["etag"]

    responses = concurrently(5, lambda i: usage(hub, sid, responses=10, if_match=etag))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 412, 412, 412, 412], [r.text for r in responses]
    for response in responses:
        if response.status_code == 412:
            hub.problem(response, 412, "version-conflict")
    assert hub.subscription(sid)["usage"]["responses"] == 10


def test_concurrent_usage_without_if_match_loses_no_increment(hub):
    done = hub.subscriber()
    sid = done["subscription_id"]
    version = hub.subscription(sid)["version"]

    responses = concurrently(5, lambda i: usage(hub, sid, responses=i + 1))

    assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
    after = hub.subscription(sid)
    assert after["usage"]["responses"] == 1 + 2 + 3 + 4 + 5
    assert after["version"] == version + 5


def test_forty_concurrent_commands_without_if_match_all_apply_in_each_of_three_rounds(hub):
    done = hub.subscriber()
    sid = done["subscription_id"]
    tokens = ("tok_visa", "tok_mastercard")

    def command(i):
        if i % 4 == 3:  # a quarter of them replace the card, the rest count usage
            return hub.put(f"/v1/subscriptions/{sid}/card", {"payment_token": tokens[i % 2]})
        return usage(hub, sid, responses=1 + i % 2)

    statuses = []
    for _ in range(3):
        statuses += [r.status_code for r in concurrently(40, command)]

    counted = [i for i in range(40) if i % 4 != 3] * 3
    assert statuses.count(412) == 0
    assert set(statuses) == {200}, sorted(set(statuses))
    assert hub.subscription(sid)["usage"]["responses"] == sum(1 + i % 2 for i in counted)


def test_concurrent_usage_never_passes_the_cap(hub):
    done = hub.subscriber()
    sid = done["subscription_id"]
    limit = hub.subscription(sid)["caps"]["responses"]
    hub.ok(usage(hub, sid, responses=limit - 3))

    responses = concurrently(6, lambda i: usage(hub, sid, responses=1))

    assert sorted(r.status_code for r in responses) == [200, 200, 200, 422, 422, 422]
    for response in responses:
        if response.status_code == 422:
            hub.problem(response, 422, "cap-exceeded")
    after = hub.subscription(sid)
    assert after["usage"]["responses"] == limit
    assert after["cap_reached"] is True


def test_concurrent_repeats_of_one_idempotency_key_create_one_account(hub):
    body = {"email": "once@example.com", "name": "Once", "username": "once", "kind": "free"}
    head = hub.head()

    responses = concurrently(5, lambda i: hub.post("/v1/accounts", body, key="only-once"))

    created = [r for r in responses if r.status_code == 201]
    assert created, [r.text for r in responses]
    assert all(r.json() == created[0].json() for r in created)
    for response in responses:
        if response.status_code != 201:
            hub.problem(response, 409, "idempotency-key-in-use")
    opened = [e for e in hub.events_after(head) if type(e).__qualname__ == "Account.Opened"]
    assert [str(e.originator_id) for e in opened] == [created[0].json()["account_id"]]


def test_concurrent_completions_of_one_purchase_charge_once_and_subscribe_once(hub):
    opened = hub.open_account()
    started = hub.ok(
        hub.post("/v1/purchases", {"plan": "strategic_research", "account_id": opened["account_id"]}),
        201,
    )
    body = hub.completion()

    responses = concurrently(4, lambda i: hub.complete(started["purchase_id"], body))

    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409], [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            # A loser that read the purchase before the winner saved finds the
            # organisation already subscribed; one that read it after, the purchase done.
            assert response.json()["type"] in ("/problems/purchase-completed", "/problems/already-subscribed")
    completed = next(r.json() for r in responses if r.status_code == 200)
    listed = hub.get(f"/v1/organisations/{opened['organisation_id']}/subscriptions").json()
    assert [s["subscription_id"] for s in listed] == [completed["subscription_id"]]
    assert len(hub.container.services.gateway.charges()) == 1
