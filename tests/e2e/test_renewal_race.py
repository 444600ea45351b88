"""Races: two ``lifecycle serve`` processes share one PostgreSQL database, with 1,000
subscriptions due for renewal at the same instant. Both are told to advance the clock
past that instant at once, while a burst of cancellations goes to both.

What must hold: exactly one approved charge per renewed term; none for a subscription
whose cancellation was acknowledged before the renewal instant; no renewal, charge or
expiry recorded twice; each subscription in exactly one consistent final state.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import psycopg
import pytest

from commands.accounts import open_account
from commands.context import Caller
from commands.purchases import complete_purchase, start_purchase
from commands.time_driven import perform
from in_process import notifications, service_on, short_topic
from lifecycle.subscription import Subscription
from lifecycle_server import COMMANDS_SECRET, OPS_SECRET, Client, LifecycleServer

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

SUBSCRIPTIONS = 1_000
CANCELLED_BEFORE = 100
"""Cancellations acknowledged before either server is asked to advance the clock."""
CANCELLED_RACING = 200
"""Cancellations sent to both servers while they renew."""
RENEWAL_AT = datetime(2028, 1, 31, 9, 0, tzinfo=timezone.utc)
"""Where the terms bought at the manual clock's start (2027-01-31T09:00Z) end."""
SERVERS_START = RENEWAL_AT - timedelta(minutes=1)
ADVANCE_TO = "2028-01-31T10:00:00Z"
BILLING_ADDRESS = {"line1": "1 Market Street", "city": "San Francisco", "postal_code": "94105", "country": "US"}


def rfc3339(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def buy(container: Any, number: int) -> UUID:
    """A free account upgraded to a yearly plan, through the handlers the routes call."""
    services = container.services
    opened = open_account(
        services, Caller.of("seed"), email=f"race{number}@example.com", name="Race Buyer",
        username=f"race{number}", kind="free",
    )
    started = start_purchase(
        services, Caller.of("seed"), plan="strategic_research", account_id=opened.value.account.id
    )
    done = complete_purchase(
        services, Caller.of("seed"), started.value.id, payment_token="tok_visa",
        billing_address=BILLING_ADDRESS, accept_terms=True, accept_auto_renewal=True,
    )
    return done.value.subscription.id


def cancel_everywhere(
    servers: list[Client], subscription_ids: list[UUID], workers: int
) -> dict[UUID, int]:
    """Cancel each subscription's renewal, alternating between the servers. A command
    refused because the other server's writes kept changing the subscription is sent
    again as a new command (a new key: the refusal is the first key's kept answer).
    Returns each final status."""

    def cancel(index_and_id: tuple[int, UUID]) -> tuple[UUID, int]:
        index, subscription_id = index_and_id
        client = servers[index % len(servers)]
        for attempt in range(20):
            answer = client.http.post(
                f"/v1/subscriptions/{subscription_id}/cancel-renewal",
                json={"reason": "race"},
                headers={"Idempotency-Key": f"cancel-{subscription_id}-{attempt}"},
            )
            if answer.status_code not in (409, 412) or "version-conflict" not in answer.text:
                return subscription_id, answer.status_code
            time.sleep(0.05)
        return subscription_id, answer.status_code

    with ThreadPoolExecutor(workers) as pool:
        return dict(pool.map(cancel, enumerate(subscription_ids)))


def cancel_at_the_frontier(
    database_url: str, servers: list[Client], in_due_order: list[UUID], racing_at: list[int]
) -> dict[UUID, int]:
    """Cancel ``in_due_order[i]`` for each ``i`` of ``racing_at``, each once the sandbox
    ledger shows the renewal charge of the subscription one (or, every other time, two)
    places before it in due order; alternating between the servers."""
    statuses: dict[UUID, int] = {}
    with psycopg.connect(database_url, autocommit=True) as ledger:
        for number, index in enumerate(racing_at):
            waited_for = in_due_order[index - 1 - number % 2]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and ledger.execute(
                "SELECT 1 FROM sandbox_charges WHERE idempotency_key = %s",
                (f"{waited_for}:2:1",),
            ).fetchone() is None:
                time.sleep(0.005)
            statuses.update(cancel_everywhere([servers[number % 2]], [in_due_order[index]], 1))
    return statuses


def test_two_servers_racing_to_renew_1000_subscriptions_charge_each_renewed_term_once(
    postgres_url: str,
    serve: Callable[..., LifecycleServer],
    report: Callable[[str, dict[str, Any]], None],
) -> None:
    timings: dict[str, float] = {}

    # 1,000 subscriptions bought at the same instant, so due at the same instant; their
    # renewal reminders (30 days before) sent, so that only the renewals remain due.
    started = time.monotonic()
    with service_on(postgres_url) as container, ThreadPoolExecutor(6) as pool:
        services = container.services
        subscription_ids = list(pool.map(lambda n: buy(container, n), range(SUBSCRIPTIONS)))
        timings["create_seconds"] = round(time.monotonic() - started, 1)
        container.due_work.catch_up()
        reminders = container.due_work.due(RENEWAL_AT - timedelta(days=1), 2 * SUBSCRIPTIONS)
        assert {(item.kind, item.due_at) for item in reminders} == {
            ("renewal_reminder", RENEWAL_AT - timedelta(days=30))
        }
        services.clock.set(RENEWAL_AT - timedelta(days=30))  # type: ignore[attr-defined]
        list(pool.map(lambda item: perform(services, item), reminders))
        services.clock.set(SERVERS_START)  # type: ignore[attr-defined]
        container.due_work.catch_up()
        due = container.due_work.due(RENEWAL_AT, 2 * SUBSCRIPTIONS)
    timings["prepare_seconds"] = round(time.monotonic() - started, 1)
    assert len(subscription_ids) == len(set(subscription_ids)) == SUBSCRIPTIONS
    assert sorted(item.aggregate_id for item in due) == sorted(subscription_ids)
    assert {(item.kind, item.due_at) for item in due} == {("renewal", RENEWAL_AT)}

    # Two processes on the database, their manual clocks a minute before the renewals.
    first = serve(postgres_url, name="first", clock_start=rfc3339(SERVERS_START), log_level="WARNING")
    second = serve(postgres_url, name="second", clock_start=rfc3339(SERVERS_START), log_level="WARNING")
    commands = [Client(s.base_url, COMMANDS_SECRET, timeout=120) for s in (first, second)]
    ops = [Client(s.base_url, OPS_SECRET, timeout=300) for s in (first, second)]

    # Both servers renew in due order (instant, then item key: the subscription id). A
    # racing cancellation goes to every fourth subscription of that order, sent when the
    # renewal just before it (or the one before that) has been charged: at the moment
    # the servers reach it. The early cancellations come from the end of the order.
    in_due_order = sorted(subscription_ids, key=str)
    racing_at = [4 * k + 1 for k in range(CANCELLED_RACING)]
    racing = [in_due_order[i] for i in racing_at]
    before = in_due_order[-CANCELLED_BEFORE:]
    untouched = sorted(set(subscription_ids) - set(racing) - set(before), key=str)
    cancelled_before = cancel_everywhere(commands, before, workers=4)
    assert set(cancelled_before.values()) == {200}, Counter(cancelled_before.values())

    # The race: both servers advance past the renewal instant while cancellations arrive.
    go = threading.Barrier(3)
    advanced: dict[int, Any] = {}

    def advance(index: int) -> None:
        go.wait()
        began = time.monotonic()
        answer = ops[index].http.post("/v1/ops/clock/advance", json={"to": ADVANCE_TO})
        advanced[index] = (answer.status_code, answer.json(), round(time.monotonic() - began, 1))

    race_started = time.monotonic()
    threads = [threading.Thread(target=advance, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    go.wait()
    cancelled_racing = cancel_at_the_frontier(postgres_url, commands, in_due_order, racing_at)
    for thread in threads:
        thread.join(timeout=300)
    timings["race_seconds"] = round(time.monotonic() - race_started, 1)
    assert [advanced[i][0] for i in (0, 1)] == [200, 200], advanced
    assert set(cancelled_racing.values()) == {200}, Counter(cancelled_racing.values())

    # --- what was recorded --------------------------------------------------------------
    with service_on(postgres_url, SERVERS_START) as reader:
        ledger = reader.services.gateway.charges()
        per_subscription: dict[UUID, Counter[str]] = {s: Counter() for s in subscription_ids}
        versions: Counter[tuple[UUID, int]] = Counter()
        for notification in notifications(reader):
            versions[(notification.originator_id, notification.originator_version)] += 1
            if notification.originator_id in per_subscription:
                per_subscription[notification.originator_id][short_topic(notification.topic)] += 1
        final = {
            s: reader.services.load(Subscription, s, "subscription") for s in subscription_ids
        }

    renewal_charges: Counter[tuple[str, str]] = Counter()
    for charge in ledger:
        owner, term, _attempt = str(charge["idempotency_key"]).split(":")
        if term != "1" and charge["approved"]:
            renewal_charges[(owner, term)] += 1

    def outcome(subscription_id: UUID) -> tuple[Any, ...]:
        seen = per_subscription[subscription_id]
        subscription = final[subscription_id]
        return (
            subscription.status,
            subscription.term,
            renewal_charges[(str(subscription_id), "2")],
            seen["Subscription.RenewalChargeBegun"],
            seen["Subscription.Renewed"],
            seen["Subscription.Expired"],
            seen["Subscription.RenewalCancelled"],
            len(subscription.payments),
        )

    renewed = ("active", 2, 1, 1, 1, 0, 0, 2)
    cancelled_in_time = ("expired", 1, 0, 0, 0, 1, 1, 1)
    cancelled_after_the_charge_began = ("non_renewing", 2, 1, 1, 1, 0, 1, 2)
    outcomes = {s: outcome(s) for s in subscription_ids}

    duplicate_events = sum(n - 1 for n in versions.values())
    assert duplicate_events == 0
    assert {s: outcomes[s] for s in untouched} == {s: renewed for s in untouched}
    assert {s: outcomes[s] for s in before} == {s: cancelled_in_time for s in before}
    racing_outcomes = Counter(outcomes[s] for s in racing)
    assert set(racing_outcomes) <= {cancelled_in_time, cancelled_after_the_charge_began}, racing_outcomes
    assert set(renewal_charges) <= {(str(s), "2") for s in subscription_ids}
    duplicate_charges = sum(n - 1 for n in renewal_charges.values())
    assert duplicate_charges == 0
    charged = sum(renewal_charges.values())
    cancelled_in_time_charged = sum(
        renewal_charges[(str(s), "2")] for s in [*before, *racing] if outcomes[s][0] == "expired"
    )
    assert charged == len(untouched) + racing_outcomes[cancelled_after_the_charge_began]

    for server in (first, second):
        assert server.running, server.output()
        assert server.errors() == []

    report(
        "renewal_race",
        {
            "servers": 2,
            "subscriptions_due_at_one_instant": SUBSCRIPTIONS,
            "cancelled_before_the_instant": len(before),
            "cancelled_racing": len(racing),
            "racing_cancellations_in_time": racing_outcomes[cancelled_in_time],
            "racing_cancellations_after_the_charge_began": racing_outcomes[
                cancelled_after_the_charge_began
            ],
            "renewal_charges_approved": charged,
            "terms_renewed": charged,
            "charges_for_terms_cancelled_in_time": cancelled_in_time_charged,
            "duplicate_charges": duplicate_charges,
            "duplicate_events": duplicate_events,
            "advance_seconds": {str(i): advanced[i][2] for i in (0, 1)},
            **timings,
        },
    )
