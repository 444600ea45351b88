"""Subscriptions over HTTP (R17, R20-R30): the representation, payments, renewal on and
off, the card on file, usage caps, and the year they live through under the manual clock."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

PURCHASED_AT = datetime(2027, 1, 31, 9, 0, tzinfo=timezone.utc)
TERM_END = datetime(2028, 1, 31, 9, 0, tzinfo=timezone.utc)
"""The contract's example: bought at 2027-01-31T09:00Z, term 1 ends 2028-01-31T09:00Z."""
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def z(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@pytest.fixture
def hub(hub):
    assert hub.now() == PURCHASED_AT, "the test containers' manual clock starts at the purchase instant"
    return hub


def path(subscription_id: str, tail: str = "") -> str:
    return f"/v1/subscriptions/{subscription_id}{tail}"


def record_usage(hub, sid, **kw):
    actor = kw.pop("actor", None)
    return hub.post(path(sid, "/usage"), kw, actor=actor)


# --- the representation --------------------------------------------------------------------------


def test_a_new_subscription_shows_plan_status_term_price_card_caps_and_usage(hub):
    plans = {p["plan"]: p for p in hub.get("/v1/plans").json()}
    done = hub.subscriber("tok_visa", "strategic_research")

    shown = hub.subscription(done["subscription_id"])

    assert shown["subscription_id"] == done["subscription_id"]
    assert shown["organisation_id"] == done["organisation_id"]
    assert shown["plan"] == "strategic_research"
    assert shown["status"] == "active"
    assert shown["auto_renew"] is True
    assert shown["term"] == {"number": 1, "start": z(PURCHASED_AT), "end": z(TERM_END)}
    usd = next(p for p in plans["strategic_research"]["prices"] if p["currency"] == "USD")
    assert shown["price"] == usd
    assert shown["card"] == {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
    assert shown["caps"] == plans["strategic_research"]["caps"]
    assert shown["caps"]["responses"] == 1000
    assert shown["usage"] == {"responses": 0, "seats": 0}
    assert shown["cap_reached"] is False


def test_the_purchase_charge_is_the_first_payment_as_term_1(hub):
    done = hub.subscriber("tok_mastercard")
    price = hub.subscription(done["subscription_id"])["price"]

    payments = hub.payments(done["subscription_id"])

    assert len(payments) == 1
    paid = payments[0]
    assert paid["payment_id"]
    assert (paid["term_number"], paid["status"], paid["card_last4"]) == (1, "succeeded", "4444")
    assert paid["amount"] == price
    assert paid["attempted_at"] == z(PURCHASED_AT)


def test_an_unknown_subscription_is_404_not_found(hub):
    done = hub.subscriber()

    for missing in (str(uuid.uuid4()), done["purchase_id"], done["organisation_id"], "nope"):
        hub.problem(hub.get(path(missing)), 404, "not-found")
        hub.problem(hub.get(path(missing, "/payments")), 404, "not-found")
        hub.problem(hub.post(path(missing, "/cancel-renewal")), 404, "not-found")


def test_an_organisation_lists_its_subscriptions_newest_first(hub):
    opened = hub.open_account()
    first = hub.upgrade(opened["account_id"])
    hub.ok(hub.post(path(first["subscription_id"], "/cancel-renewal")))
    hub.advance(TERM_END)

    second = hub.upgrade(opened["account_id"])

    listed = hub.get(f"/v1/organisations/{opened['organisation_id']}/subscriptions").json()
    assert [s["subscription_id"] for s in listed] == [second["subscription_id"], first["subscription_id"]]
    assert [s["status"] for s in listed] == ["active", "expired"]
    assert hub.organisation(opened["organisation_id"])["subscription_id"] == second["subscription_id"]


# --- renewal on and off --------------------------------------------------------------------------------


def test_cancelling_renewal_makes_the_subscription_non_renewing(hub):
    done = hub.subscriber()

    response = hub.post(path(done["subscription_id"], "/cancel-renewal"), {"reason": "too expensive"})

    cancelled = hub.ok(response)
    assert cancelled["status"] == "non_renewing"
    assert cancelled["auto_renew"] is False
    assert cancelled["position"] == hub.head()
    assert hub.subscription(done["subscription_id"])["status"] == "non_renewing"


def test_resuming_renewal_makes_the_subscription_active_again(hub):
    done = hub.subscriber()
    hub.ok(hub.post(path(done["subscription_id"], "/cancel-renewal")))

    resumed = hub.ok(hub.post(path(done["subscription_id"], "/resume-renewal")))

    assert resumed["status"] == "active"
    assert resumed["auto_renew"] is True


def test_resuming_after_expiry_is_409_subscription_expired(hub):
    done = hub.subscriber()
    hub.ok(hub.post(path(done["subscription_id"], "/cancel-renewal")))
    hub.advance(TERM_END)
    head = hub.head()

    response = hub.post(path(done["subscription_id"], "/resume-renewal"))

    hub.problem(response, 409, "subscription-expired")
    assert hub.head() == head
    assert hub.subscription(done["subscription_id"])["status"] == "expired"


# --- the card on file --------------------------------------------------------------------------------


def test_replacing_the_card_shows_the_new_card(hub):
    done = hub.subscriber()

    response = hub.put(path(done["subscription_id"], "/card"), {"payment_token": "tok_mastercard"})

    replaced = hub.ok(response)
    assert replaced["card"] == {"brand": "mastercard", "last4": "4444", "exp_month": 12, "exp_year": 2030}
    assert replaced["status"] == "active"
    assert len(hub.payments(done["subscription_id"])) == 1


def test_removing_the_card_leaves_none_on_file(hub):
    done = hub.subscriber()

    removed = hub.ok(hub.delete(path(done["subscription_id"], "/card")))

    assert removed["card"] is None
    assert hub.subscription(done["subscription_id"])["card"] is None


def test_a_renewal_without_a_card_on_file_fails_and_the_subscription_is_past_due(hub):
    done = hub.subscriber()
    hub.ok(hub.delete(path(done["subscription_id"], "/card")))

    hub.advance(TERM_END)

    assert hub.subscription(done["subscription_id"])["status"] == "past_due"
    assert [p["status"] for p in hub.payments(done["subscription_id"])] == ["succeeded", "failed"]


# --- usage and caps ---------------------------------------------------------------------------------------


def test_usage_is_counted_against_the_term(hub):
    done = hub.subscriber()

    hub.ok(record_usage(hub, done["subscription_id"], responses=40))
    counted = hub.ok(record_usage(hub, done["subscription_id"], responses=2, seats=1))

    assert counted["usage"] == {"responses": 42, "seats": 1}
    assert counted["position"] == hub.head()


def test_reaching_a_cap_exactly_is_allowed_and_marks_the_cap_reached(hub):
    done = hub.subscriber()
    limit = hub.subscription(done["subscription_id"])["caps"]["responses"]

    counted = hub.ok(record_usage(hub, done["subscription_id"], responses=limit))

    assert counted["usage"]["responses"] == limit
    assert counted["cap_reached"] is True


def test_usage_past_the_responses_cap_is_422_cap_exceeded_and_counts_nothing(hub):
    done = hub.subscriber()
    limit = hub.subscription(done["subscription_id"])["caps"]["responses"]
    hub.ok(record_usage(hub, done["subscription_id"], responses=limit - 1))
    head = hub.head()

    response = record_usage(hub, done["subscription_id"], responses=2, seats=1)

    problem = hub.problem(response, 422, "cap-exceeded")
    assert (problem["cap"], problem["limit"], problem["usage"]) == ("responses", limit, limit - 1)
    assert hub.head() == head
    assert hub.subscription(done["subscription_id"])["usage"] == {"responses": limit - 1, "seats": 0}


def test_usage_past_the_seats_cap_is_422_cap_exceeded_naming_seats(hub):
    done = hub.subscriber()
    seats = hub.subscription(done["subscription_id"])["caps"]["seats"]

    response = record_usage(hub, done["subscription_id"], seats=seats + 1)

    problem = hub.problem(response, 422, "cap-exceeded")
    assert (problem["cap"], problem["limit"], problem["usage"]) == ("seats", seats, 0)


# --- acting users --------------------------------------------------------------------------------------------


def test_a_user_of_another_organisation_cannot_command_the_subscription(hub):
    done = hub.subscriber()
    outsider = hub.open_account()["account_id"]
    sid = done["subscription_id"]
    head = hub.head()

    for response in (
        hub.post(path(sid, "/cancel-renewal"), actor=outsider),
        hub.post(path(sid, "/resume-renewal"), actor=outsider),
        hub.put(path(sid, "/card"), {"payment_token": "tok_mastercard"}, actor=outsider),
        hub.delete(path(sid, "/card"), actor=outsider),
        record_usage(hub, sid, responses=1, actor=outsider),
    ):
        hub.problem(response, 403, "not-your-organisation")
    assert hub.head() == head


def test_a_user_of_the_organisation_commands_its_subscription(hub):
    done = hub.subscriber()
    member = hub.add_user(done["organisation_id"])["account_id"]

    counted = hub.ok(record_usage(hub, done["subscription_id"], responses=5, actor=member))
    cancelled = hub.ok(hub.post(path(done["subscription_id"], "/cancel-renewal"), actor=member))

    assert counted["usage"]["responses"] == 5
    assert cancelled["status"] == "non_renewing"


# --- a year under the manual clock ---------------------------------------------------------------------------


def test_the_renewal_reminder_goes_out_30_days_before_the_term_ends(hub):
    done = hub.subscriber()
    reminder_at = TERM_END - timedelta(days=30)

    hub.advance(reminder_at - SECOND)
    before = hub.kinds(done["email"])
    hub.advance(reminder_at)
    reminders = [m for m in hub.notifications(done["email"]) if m["kind"] == "renewal_reminder"]

    assert "renewal_reminder" not in before
    assert len(reminders) == 1
    assert reminders[0]["created_at"] == z(reminder_at)
    assert reminders[0]["data"]["subscription_id"] == done["subscription_id"]


def test_at_the_term_end_the_subscription_renews_charges_and_sends_a_receipt(hub):
    done = hub.subscriber()
    sid = done["subscription_id"]
    price = hub.subscription(sid)["price"]
    hub.ok(record_usage(hub, sid, responses=900))

    hub.advance(TERM_END - SECOND)
    still_first = hub.subscription(sid)["term"]["number"]
    hub.advance(TERM_END + DAY)

    assert still_first == 1
    shown = hub.subscription(sid)
    assert shown["status"] == "active"
    assert shown["usage"] == {"responses": 0, "seats": 0}
    assert shown["term"] == {
        "number": 2,
        "start": z(TERM_END),
        "end": z(datetime(2029, 1, 31, 9, 0, tzinfo=timezone.utc)),
    }
    payments = hub.payments(sid)
    assert [(p["term_number"], p["status"]) for p in payments] == [(1, "succeeded"), (2, "succeeded")]
    assert payments[1]["attempted_at"] == z(TERM_END)
    assert payments[1]["amount"] == price
    receipts = [m for m in hub.notifications(done["email"]) if m["kind"] == "renewal_receipt"]
    assert len(receipts) == 1
    assert receipts[0]["data"]["subscription_id"] == sid


def test_a_cancelled_subscription_runs_to_the_term_end_then_expires_and_the_organisation_is_free(hub):
    done = hub.subscriber()
    hub.ok(hub.post(path(done["subscription_id"], "/cancel-renewal")))

    hub.advance(TERM_END - SECOND)
    before_end = (hub.subscription(done["subscription_id"])["status"], hub.organisation(done["organisation_id"])["licence"])
    hub.advance(TERM_END)

    assert before_end == ("non_renewing", "self_service")

    shown = hub.subscription(done["subscription_id"])
    assert shown["status"] == "expired"
    assert shown["auto_renew"] is False
    organisation = hub.organisation(done["organisation_id"])
    assert organisation["licence"] == "free"
    assert organisation["subscription_id"] is None
    assert len(hub.payments(done["subscription_id"])) == 1
    kinds = hub.kinds(done["email"])
    assert "downgrade_notice" in kinds
    assert "renewal_receipt" not in kinds


def test_a_failing_renewal_is_past_due_then_retried_after_1_3_and_7_days_then_expires_to_free(hub):
    done = hub.subscriber("tok_fails_renewal")
    sid = done["subscription_id"]

    hub.advance(TERM_END)
    after_first = hub.subscription(sid)
    licence_after_first = hub.organisation(done["organisation_id"])["licence"]
    kinds_after_first = hub.kinds(done["email"])
    hub.advance(TERM_END + 6 * DAY)
    after_three_attempts = hub.subscription(sid)["status"]
    hub.advance(TERM_END + 7 * DAY)

    assert (after_first["status"], after_first["term"]["number"]) == ("past_due", 1)
    assert licence_after_first == "self_service"
    assert kinds_after_first.count("payment_failed") == 1
    assert after_three_attempts == "past_due"
    attempts = [p for p in hub.payments(sid) if p["term_number"] == 2]
    assert [p["status"] for p in attempts] == ["failed"] * 4
    assert {p["card_last4"] for p in attempts} == {"0341"}
    assert [p["attempted_at"] for p in attempts] == [
        z(TERM_END),
        z(TERM_END + DAY),
        z(TERM_END + 3 * DAY),
        z(TERM_END + 7 * DAY),
    ]
    assert hub.subscription(sid)["status"] == "expired"
    assert hub.organisation(done["organisation_id"])["licence"] == "free"
    kinds = hub.kinds(done["email"])
    assert kinds.count("payment_failed") == 4
    assert kinds[-1] == "downgrade_notice"


def test_a_new_card_during_past_due_is_charged_at_once_and_renews(hub):
    done = hub.subscriber("tok_fails_renewal")
    sid = done["subscription_id"]
    hub.advance(TERM_END + 2 * DAY)

    response = hub.put(path(sid, "/card"), {"payment_token": "tok_visa"})

    renewed = hub.ok(response)
    assert renewed["status"] == "active"
    assert renewed["term"]["number"] == 2
    assert renewed["card"]["last4"] == "4242"
    payments = hub.payments(sid)
    assert [(p["term_number"], p["status"]) for p in payments] == [
        (1, "succeeded"),
        (2, "failed"),
        (2, "failed"),
        (2, "succeeded"),
    ]
    assert payments[-1]["card_last4"] == "4242"
    assert payments[-1]["attempted_at"] == z(TERM_END + 2 * DAY)
    assert hub.organisation(done["organisation_id"])["licence"] == "self_service"


def test_an_expired_organisation_may_buy_again(hub):
    done = hub.subscriber()
    hub.ok(hub.post(path(done["subscription_id"], "/cancel-renewal")))
    hub.advance(TERM_END)

    again = hub.ok(hub.post("/v1/purchases", {"plan": "strategic_research", "account_id": done["account_id"]}), 201)
    completed = hub.ok(hub.complete(again["purchase_id"], hub.completion()))

    assert again["status"] == "open"
    assert completed["subscription_id"] != done["subscription_id"]
    assert hub.organisation(done["organisation_id"])["licence"] == "self_service"
    assert hub.subscription(completed["subscription_id"])["term"]["start"] == z(TERM_END)
