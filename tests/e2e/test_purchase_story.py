"""The whole story over real HTTP against ``lifecycle serve`` running as its own process
on PostgreSQL, under the manual clock: a new buyer buys, renews once, cancels and is
downgraded to free."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from lifecycle_server import CLOCK_START, COMMANDS_SECRET, OPS_SECRET, Client, LifecycleServer

BUYER = "story.buyer@example.com"
BILLING_ADDRESS = {
    "line1": "1 Market Street",
    "city": "San Francisco",
    "postal_code": "94105",
    "country": "US",
}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rfc3339(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")



def messages(ops: Client, after: int) -> list[dict[str, Any]]:
    """The buyer's messages, once the notifications view has reached ``after``."""
    return ops.call(  # type: ignore[no-any-return]
        "GET", "/v1/ops/notifications", params={"recipient": BUYER, "min_position": after}
    )


def of_kind(sent: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in sent if m["kind"] == kind]


@pytest.mark.e2e
def test_a_new_buyer_renews_once_cancels_and_is_downgraded_to_free_by_the_served_process(
    postgres_url: str, serve: Callable[..., LifecycleServer]
) -> None:
    server = serve(postgres_url)
    app = Client(server.base_url, COMMANDS_SECRET)
    ops = Client(server.base_url, OPS_SECRET)

    # A new buyer starts, verifies the emailed code and pays.
    started = app.call(
        "POST", "/v1/purchases", 201, json={"plan": "strategic_research", "email": BUYER}
    )
    assert started["status"] == "awaiting_verification"
    purchase = started["purchase_id"]
    verification = of_kind(messages(ops, started["position"]), "email_verification")
    assert len(verification) == 1
    verified = app.call(
        "POST",
        f"/v1/purchases/{purchase}/verify",
        json={"token": verification[0]["data"]["token"]},
    )
    assert verified["status"] == "open"
    completed = app.call(
        "POST",
        f"/v1/purchases/{purchase}/complete",
        json={
            "payment_token": "tok_visa",
            "billing_address": BILLING_ADDRESS,
            "accept_terms": True,
            "accept_auto_renewal": True,
            "accept_privacy": True,
            "account": {"name": "Story Buyer", "username": "storybuyer"},
        },
    )
    assert completed["status"] == "completed"
    subscription_id = completed["subscription_id"]
    organisation_id = completed["organisation_id"]
    account_id = completed["account_id"]

    first = app.call("GET", f"/v1/subscriptions/{subscription_id}")
    assert (first["status"], first["term"]["number"]) == ("active", 1)
    assert instant(first["term"]["start"]) == instant(CLOCK_START)
    first_end = instant(first["term"]["end"])
    assert first_end == instant(CLOCK_START).replace(year=instant(CLOCK_START).year + 1)
    organisation = app.call("GET", f"/v1/organisations/{organisation_id}")
    assert organisation["licence"] == "self_service"
    assert organisation["brand_id"] == completed["brand_id"]

    # Past the end of the first term: renewed for a second term, charged once more.
    advanced = ops.call(
        "POST", "/v1/ops/clock/advance", json={"to": rfc3339(first_end + timedelta(hours=1))}
    )
    assert instant(advanced["now"]) == first_end + timedelta(hours=1)
    second = app.call("GET", f"/v1/subscriptions/{subscription_id}")
    assert (second["status"], second["term"]["number"]) == ("active", 2)
    assert instant(second["term"]["start"]) == first_end
    second_end = instant(second["term"]["end"])
    payments = app.call("GET", f"/v1/subscriptions/{subscription_id}/payments")
    assert [(p["term_number"], p["status"]) for p in payments] == [
        (1, "succeeded"),
        (2, "succeeded"),
    ]
    sent = messages(ops, advanced["position"])
    receipts = of_kind(sent, "renewal_receipt")
    assert [r["data"]["term_number"] for r in receipts] == [2]
    reminders = of_kind(sent, "renewal_reminder")
    assert [instant(r["data"]["renewal_at"]) for r in reminders] == [first_end]
    assert instant(reminders[0]["created_at"]) == first_end - timedelta(days=30)

    # Renewal cancelled: access to the end of the second term, then expiry and free.
    cancelled = app.call(
        "POST", f"/v1/subscriptions/{subscription_id}/cancel-renewal", json={"reason": "budget"}
    )
    assert (cancelled["status"], cancelled["auto_renew"]) == ("non_renewing", False)
    advanced = ops.call(
        "POST", "/v1/ops/clock/advance", json={"to": rfc3339(second_end + timedelta(hours=1))}
    )
    expired = app.call("GET", f"/v1/subscriptions/{subscription_id}")
    assert (expired["status"], expired["term"]["number"]) == ("expired", 2)
    assert instant(expired["expired_at"]) == second_end
    payments = app.call("GET", f"/v1/subscriptions/{subscription_id}/payments")
    assert [p["term_number"] for p in payments] == [1, 2]
    downgraded = app.call("GET", f"/v1/organisations/{organisation_id}")
    assert (downgraded["organisation_id"], downgraded["brand_id"]) == (
        organisation_id,
        completed["brand_id"],
    )
    assert (downgraded["licence"], downgraded["subscription_id"]) == ("free", None)
    buyer = app.call("GET", f"/v1/accounts/{account_id}")
    assert (buyer["organisation_id"], buyer["email"]) == (organisation_id, BUYER)
    sent = messages(ops, advanced["position"])
    notices = of_kind(sent, "downgrade_notice")
    assert [n["data"]["subscription_id"] for n in notices] == [subscription_id]
    # The cancelled renewal was neither reminded nor receipted.
    assert [instant(r["data"]["renewal_at"]) for r in of_kind(sent, "renewal_reminder")] == [
        first_end
    ]
    assert len(of_kind(sent, "renewal_receipt")) == 1

    # SIGTERM: the server runs its shutdown (the container is closed) and ends, by itself,
    # without an error, with exit status 0.
    assert server.terminate() == 0, server.output()
    output = server.output()
    assert "Application shutdown complete" in output
    assert server.errors() == [], output
