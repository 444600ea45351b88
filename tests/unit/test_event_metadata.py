"""R60: every change is an event recording when, the calling service, the acting user,
the command id and the correlation id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from given import (
    ALL_ACCEPTED,
    APPROVED,
    DECLINED,
    NEW_PRICE,
    PRICE,
    TOKEN_DIGEST,
    account,
    at,
    card,
    licence_request,
    new_buyer_purchase,
    non_renewing,
    past_due,
    self_service_organisation,
    subscription,
    trial,
    verified_purchase,
)

from lifecycle.account import Account
from lifecycle.catalogue import Caps
from lifecycle.change import Change
from lifecycle.licence_request import LicenceRequest
from lifecycle.organisation import Organisation
from lifecycle.purchase import Purchase
from lifecycle.subscription import Subscription

SERVICE = "survey-hub"
ACTOR = "user:5b0c2f4e-0000-4000-8000-000000000001"
COMMAND_ID = "command-r60"
CORRELATION_ID = "correlation-r60"
MIDTERM = at(2025, 9, 1, 8, 30)

Stamp = Callable[[datetime], Change]
Case = Callable[[Stamp], tuple[list[Any], datetime]]


def stamp(when: datetime) -> Change:
    return Change(when, SERVICE, ACTOR, COMMAND_ID, CORRELATION_ID)


def _subscription_started(c: Stamp) -> tuple[list[Any], datetime]:
    sub = Subscription.start(
        uuid4(),
        organisation_id=uuid4(),
        buyer_account_id=uuid4(),
        plan="strategic_research",
        price=PRICE,
        caps=Caps(1000, 1),
        card=card(),
        billing_address={},
        payment={},
        change=c(MIDTERM),
    )
    return sub.collect_events(), MIDTERM


def _on_subscription(command: Callable[[Subscription, Stamp], datetime]) -> Case:
    def case(c: Stamp) -> tuple[list[Any], datetime]:
        sub = subscription()
        when = command(sub, c)
        return sub.collect_events(), when

    return case


def _cancel(sub: Subscription, c: Stamp) -> datetime:
    sub.cancel_renewal("budget", c(MIDTERM))
    return MIDTERM


def _usage(sub: Subscription, c: Stamp) -> datetime:
    sub.record_usage(responses=3, seats=1, change=c(MIDTERM))
    return MIDTERM


def _replace_card(sub: Subscription, c: Stamp) -> datetime:
    sub.replace_card(card(token="tok_mc_4444"), c(MIDTERM))
    return MIDTERM


def _remove_card(sub: Subscription, c: Stamp) -> datetime:
    sub.remove_card(c(MIDTERM))
    return MIDTERM


def _licence_change(sub: Subscription, c: Stamp) -> datetime:
    sub.apply_licence_change(
        licence_request_id=uuid4(),
        caps={"seats": 2},
        plan=None,
        next_price=NEW_PRICE,
        change=c(MIDTERM),
    )
    return MIDTERM


def _reminder(sub: Subscription, c: Stamp) -> datetime:
    sub.record_reminder_sent(c(sub.reminder_at))
    return sub.reminder_at


def _begin_charge(sub: Subscription, c: Stamp) -> datetime:
    when = sub.term_end
    sub.begin_renewal_charge(c(when))
    return when


def _charge_outcome(approved: bool) -> Callable[[Subscription, Stamp], datetime]:
    def command(sub: Subscription, c: Stamp) -> datetime:
        when = sub.term_end
        request = sub.begin_renewal_charge(c(when))
        assert request is not None
        sub.record_renewal_charge(request, APPROVED if approved else DECLINED, c(when))
        return when

    return command


def _resume(c: Stamp) -> tuple[list[Any], datetime]:
    sub = non_renewing()
    sub.resume_renewal(c(MIDTERM))
    return sub.collect_events(), MIDTERM


def _expire(c: Stamp) -> tuple[list[Any], datetime]:
    sub = non_renewing()
    sub.expire_at_term_end(c(sub.term_end))
    return sub.collect_events(), sub.term_end


def _cancel_past_due(c: Stamp) -> tuple[list[Any], datetime]:
    sub = past_due()
    when = sub.term_end + timedelta(hours=3)
    sub.cancel_renewal(None, c(when))
    return sub.collect_events(), when


def _last_retry_fails(c: Stamp) -> tuple[list[Any], datetime]:
    sub = past_due()
    when = sub.first_failure_at + timedelta(days=7)
    for _ in range(3):
        request = sub.begin_renewal_charge(c(when))
        assert request is not None
        sub.record_renewal_charge(request, DECLINED, c(when))
    return sub.collect_events(), when


def _account_opened(c: Stamp) -> tuple[list[Any], datetime]:
    acc = Account.open(
        uuid4(),
        organisation_id=uuid4(),
        name="Ada",
        email="ada@example.com",
        username="ada",
        user_type="standard",
        datacenter="us-1",
        change=c(MIDTERM),
    )
    return acc.collect_events(), MIDTERM


def _details_changed(c: Stamp) -> tuple[list[Any], datetime]:
    acc = account()
    acc.change_details({"name": "Ada King"}, None, c(MIDTERM))
    return acc.collect_events(), MIDTERM


def _organisation_registered(c: Stamp) -> tuple[list[Any], datetime]:
    org = Organisation.register(
        uuid4(),
        brand_id="b",
        datacenter="us-1",
        fedramp=False,
        licence="free",
        trial_ends_at=None,
        change=c(MIDTERM),
    )
    return org.collect_events(), MIDTERM


def _self_service_granted(c: Stamp) -> tuple[list[Any], datetime]:
    org = trial(at(2025, 12, 1))
    org.grant_self_service(uuid4(), c(MIDTERM))
    return org.collect_events(), MIDTERM


def _downgraded(c: Stamp) -> tuple[list[Any], datetime]:
    subscription_id = uuid4()
    org = self_service_organisation(subscription_id)
    org.follow_subscription_expiry(subscription_id, c(MIDTERM))
    return org.collect_events(), MIDTERM


def _trial_ended(c: Stamp) -> tuple[list[Any], datetime]:
    org = trial(MIDTERM)
    org.end_trial(c(MIDTERM))
    return org.collect_events(), MIDTERM


def _purchase_started(c: Stamp) -> tuple[list[Any], datetime]:
    purchase = Purchase.start(
        uuid4(),
        plan="strategic_research",
        price=PRICE,
        account_id=None,
        organisation_id=None,
        email="buyer@example.com",
        recommended_datacenter="eu-1",
        datacenter="eu-1",
        verification_digest=TOKEN_DIGEST,
        change=c(MIDTERM),
    )
    return purchase.collect_events(), MIDTERM


def _purchase_verified(c: Stamp) -> tuple[list[Any], datetime]:
    purchase = new_buyer_purchase()
    purchase.verify(TOKEN_DIGEST, c(MIDTERM))
    return purchase.collect_events(), MIDTERM


def _datacenter_chosen(c: Stamp) -> tuple[list[Any], datetime]:
    purchase = new_buyer_purchase(datacenter="eu-1")
    purchase.choose_datacenter("uk-1", c(MIDTERM))
    return purchase.collect_events(), MIDTERM


def _payment_declined(c: Stamp) -> tuple[list[Any], datetime]:
    purchase = verified_purchase()
    request = purchase.charge_for_completion(card_token="tok", **ALL_ACCEPTED)
    purchase.record_declined(request, DECLINED, card(), c(MIDTERM))
    return purchase.collect_events(), MIDTERM


def _purchase_completed(c: Stamp) -> tuple[list[Any], datetime]:
    purchase = verified_purchase()
    purchase.complete(
        subscription_id=uuid4(),
        account_id=uuid4(),
        organisation_id=uuid4(),
        brand_id="b",
        change=c(MIDTERM),
    )
    return purchase.collect_events(), MIDTERM


def _licence_request_submitted(c: Stamp) -> tuple[list[Any], datetime]:
    request = LicenceRequest.submit(
        uuid4(),
        subscription_id=uuid4(),
        organisation_id=uuid4(),
        name="Ada",
        email="ada@example.com",
        cc=[],
        username="ada",
        kind="other",
        description="d",
        routed_to="team@example.com",
        change=c(MIDTERM),
    )
    return request.collect_events(), MIDTERM


def _licence_request_fulfilled(c: Stamp) -> tuple[list[Any], datetime]:
    request = licence_request()
    request.fulfil(caps={"seats": 2}, plan=None, price=None, change=c(MIDTERM))
    return request.collect_events(), MIDTERM


def _licence_request_declined(c: Stamp) -> tuple[list[Any], datetime]:
    request = licence_request()
    request.decline("no", c(MIDTERM))
    return request.collect_events(), MIDTERM


CASES: dict[str, Case] = {
    "subscription started": _subscription_started,
    "renewal cancelled": _on_subscription(_cancel),
    "renewal resumed": _resume,
    "usage recorded": _on_subscription(_usage),
    "card replaced": _on_subscription(_replace_card),
    "card removed": _on_subscription(_remove_card),
    "licence changed": _on_subscription(_licence_change),
    "renewal reminder sent": _on_subscription(_reminder),
    "renewal charge begun": _on_subscription(_begin_charge),
    "renewed": _on_subscription(_charge_outcome(approved=True)),
    "renewal charge failed": _on_subscription(_charge_outcome(approved=False)),
    "expired at term end": _expire,
    "cancelled and expired while past due": _cancel_past_due,
    "last retry failed and expired": _last_retry_fails,
    "account opened": _account_opened,
    "account details changed": _details_changed,
    "organisation registered": _organisation_registered,
    "self-service licence granted": _self_service_granted,
    "downgraded to free": _downgraded,
    "trial ended": _trial_ended,
    "purchase started": _purchase_started,
    "purchase email verified": _purchase_verified,
    "purchase datacenter chosen": _datacenter_chosen,
    "purchase payment declined": _payment_declined,
    "purchase completed": _purchase_completed,
    "licence request submitted": _licence_request_submitted,
    "licence request fulfilled": _licence_request_fulfilled,
    "licence request declined": _licence_request_declined,
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_event_carries_service_actor_command_and_correlation_ids(case: Case) -> None:
    events, _ = case(stamp)

    assert events, "the command recorded no event"
    assert all(
        e.meta
        == {
            "service": SERVICE,
            "actor": ACTOR,
            "command_id": COMMAND_ID,
            "correlation_id": CORRELATION_ID,
        }
        for e in events
    )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_event_is_timestamped_at_the_changes_instant(case: Case) -> None:
    events, when = case(stamp)

    assert events, "the command recorded no event"
    assert [e.timestamp for e in events] == [when] * len(events)


def test_event_of_a_trusted_service_records_no_actor() -> None:
    sub = subscription()

    sub.cancel_renewal(None, Change(MIDTERM, "billing", None, "c-1", "r-1"))

    [cancelled] = sub.collect_events()
    assert cancelled.meta["actor"] is None
