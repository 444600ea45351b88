"""Use cases of a running subscription (R17, R22, R24, R25, R30)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from commands.actors import check_acts_in
from commands.context import Caller
from commands.messages import Outbox
from commands.outcome import Outcome
from commands.services import Services, check_version, retrying
from lifecycle.account import Account
from lifecycle.change import Change
from lifecycle.message import Message
from lifecycle.organisation import FREE, Organisation
from lifecycle.payment import ChargeOutcome
from lifecycle.subscription import EXPIRED, PAST_DUE, Subscription


def _command(
    services: Services,
    caller: Caller,
    subscription_id: UUID,
    if_match: int | None,
    decide: Callable[[Subscription, Change], None],
) -> Outcome[Subscription]:
    """Load, check who acts and which version, decide, save; again on a concurrent write."""

    def attempt() -> Outcome[Subscription]:
        subscription = services.load(Subscription, subscription_id, "subscription")
        check_version(subscription, if_match)
        check_acts_in(services, caller, subscription.organisation_id)
        change = caller.change(services.clock.now())
        was_expired = subscription.status == EXPIRED
        decide(subscription, change)
        follow_up = follow_expiry(services, subscription, change, was_expired)
        return Outcome(subscription, services.save(subscription, *follow_up))

    return retrying(attempt, if_match)


def follow_expiry(
    services: Services, subscription: Subscription, change: Change, was_expired: bool
) -> list[Organisation | Message]:
    """When a subscription has just expired its organisation is downgraded to free (R23);
    one that holds an active contract stays enterprise, and nobody is told of a downgrade."""
    if was_expired or subscription.status != EXPIRED:
        return []
    organisation = services.load(Organisation, subscription.organisation_id, "organisation")
    organisation.follow_subscription_expiry(subscription.id, change)
    if organisation.licence != FREE:
        return [organisation]
    buyer = services.load(Account, subscription.buyer_account_id, "account")
    return [organisation, Outbox(services.links).downgrade_notice(buyer, subscription, change)]


def cancel_renewal(
    services: Services,
    caller: Caller,
    subscription_id: UUID,
    reason: str | None = None,
    if_match: int | None = None,
) -> Outcome[Subscription]:
    return _command(
        services, caller, subscription_id, if_match, lambda s, c: s.cancel_renewal(reason, c)
    )


def resume_renewal(
    services: Services, caller: Caller, subscription_id: UUID, if_match: int | None = None
) -> Outcome[Subscription]:
    return _command(services, caller, subscription_id, if_match, lambda s, c: s.resume_renewal(c))


def remove_card(
    services: Services, caller: Caller, subscription_id: UUID, if_match: int | None = None
) -> Outcome[Subscription]:
    return _command(services, caller, subscription_id, if_match, lambda s, c: s.remove_card(c))


def record_usage(
    services: Services,
    caller: Caller,
    subscription_id: UUID,
    responses: int = 0,
    seats: int = 0,
    if_match: int | None = None,
) -> Outcome[Subscription]:
    return _command(
        services,
        caller,
        subscription_id,
        if_match,
        lambda s, c: s.record_usage(responses, seats, c),
    )


def replace_card(
    services: Services,
    caller: Caller,
    subscription_id: UUID,
    payment_token: str,
    if_match: int | None = None,
) -> Outcome[Subscription]:
    """A new card; during ``past_due`` the charge is retried with it at once (R24)."""
    card = services.gateway.card_for(payment_token)
    replaced = _command(
        services, caller, subscription_id, if_match, lambda s, c: s.replace_card(card, c)
    )
    if replaced.value.status != PAST_DUE:
        return replaced
    return take_renewal_charge(services, caller, subscription_id, retry_now=True) or replaced


def take_renewal_charge(
    services: Services, caller: Caller, subscription_id: UUID, *, retry_now: bool = False
) -> Outcome[Subscription] | None:
    """Renew (or retry) when due: record the intent, charge once, record the outcome.

    Returns ``None`` when no charge was due. The charge's idempotency key makes a
    repeated run take the same charge, never a second one (R21).
    """

    def begin() -> tuple[Subscription, Change] | None:
        subscription = services.load(Subscription, subscription_id, "subscription")
        change = caller.change(services.clock.now())
        if subscription.begin_renewal_charge(change, retry_now=retry_now) is None:
            return None
        services.save(subscription)
        return subscription, change

    begun = retrying(begin)
    if begun is None:
        return None
    subscription, change = begun
    request = subscription.begin_renewal_charge(change)
    assert request is not None
    if request.token is None:
        outcome = ChargeOutcome(approved=False, charge_id=None, reason="no_card_on_file")
    else:
        outcome = services.gateway.charge(request, change.at)

    def record() -> Outcome[Subscription]:
        current = services.load(Subscription, subscription_id, "subscription")
        if current.pending_charge is None:
            return Outcome(current, services.head())
        current.record_renewal_charge(request, outcome, change)
        buyer = services.load(Account, current.buyer_account_id, "account")
        outbox = Outbox(services.links)
        message = (
            outbox.renewal_receipt(buyer, current, change)
            if outcome.approved
            else outbox.payment_failed(buyer, current, change)
        )
        follow_up = follow_expiry(services, current, change, was_expired=False)
        return Outcome(current, services.save(current, message, *follow_up))

    return retrying(record)
