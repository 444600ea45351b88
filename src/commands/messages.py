"""Outgoing messages: composed here, recorded as ``Message`` events in the same
transaction as the change that caused them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from commands.links import LinkSigner
from lifecycle.account import Account
from lifecycle.change import Change
from lifecycle.message import Message
from lifecycle.money import Money
from lifecycle.subscription import Subscription

MESSAGE_NAMESPACE = uuid.UUID("6b1d4f0e-3a51-4d8e-9f55-2f0c7a8f1e21")


def _money(m: Money) -> str:
    return f"{m.amount:.2f} {m.currency}"


def _day(instant: datetime) -> str:
    return instant.date().isoformat()


class Outbox:
    """Composes each kind of message. Ids derive from the command and the message,
    so a retried command composes the same message rather than a second one."""

    def __init__(self, links: LinkSigner) -> None:
        self._links = links

    def _compose(
        self,
        kind: str,
        recipient: str,
        subject: str,
        body: str,
        data: dict[str, Any],
        about: UUID | None,
        change: Change,
        account: Account | None = None,
    ) -> Message:
        data = dict(data)
        if account is not None:
            data["preferences_token"] = self._links.issue(account.id, change.at)
            data["account_id"] = str(account.id)
        message_id = uuid.uuid5(
            MESSAGE_NAMESPACE, f"{change.command_id}/{kind}/{recipient}/{about}"
        )
        return Message.compose(
            message_id,
            kind=kind,
            recipient=recipient,
            subject=subject,
            body=body,
            data=data,
            about=about,
            change=change,
        )

    def email_verification(self, email: str, purchase_id: UUID, token: str, change: Change) -> Message:
        return self._compose(
            "email_verification",
            email,
            "Verify your email address to continue your purchase",
            "Enter this code to verify your email address and continue your purchase: "
            f"{token}",
            {"token": token, "purchase_id": str(purchase_id)},
            purchase_id,
            change,
        )

    def purchase_confirmation(
        self, buyer: Account, subscription: Subscription, brand_id: str, change: Change
    ) -> Message:
        return self._compose(
            "purchase_confirmation",
            buyer.email,
            "Your purchase is complete",
            f"Thank you. Your {subscription.plan} licence for organisation {brand_id} is active "
            f"until {_day(subscription.term_end)}; {_money(subscription.price)} was charged to "
            f"your card. It renews automatically each year.",
            {
                "subscription_id": str(subscription.id),
                "plan": subscription.plan,
                "amount": subscription.price.as_dict(),
                "term_end": subscription.term_end.isoformat(),
            },
            subscription.id,
            change,
            buyer,
        )

    def renewal_reminder(
        self, buyer: Account, subscription: Subscription, change: Change
    ) -> Message:
        card = subscription.card
        card_text = f"the {card.brand} card ending {card.last4}" if card else "no card on file"
        expiring = subscription.card_expires_before_renewal()
        return self._compose(
            "renewal_reminder",
            buyer.email,
            "Your subscription renews in 30 days",
            f"Your {subscription.plan} licence renews on {_day(subscription.term_end)} for "
            f"{_money(subscription.renewal_price)}, charged to {card_text}."
            + (" That card expires before then: please add a new card." if expiring else ""),
            {
                "subscription_id": str(subscription.id),
                "renewal_at": subscription.term_end.isoformat(),
                "amount": subscription.renewal_price.as_dict(),
                "card": card.shown() if card else None,
                "card_expiring": expiring,
            },
            subscription.id,
            change,
            buyer,
        )

    def card_expiring(self, buyer: Account, subscription: Subscription, change: Change) -> Message:
        card = subscription.card
        assert card is not None
        return self._compose(
            "card_expiring",
            buyer.email,
            "Your card expires before your next renewal",
            f"The {card.brand} card ending {card.last4} expires {card.exp_month:02d}/"
            f"{card.exp_year}, before your renewal on {_day(subscription.term_end)}. "
            "Please add a new card.",
            {"subscription_id": str(subscription.id), "card": card.shown()},
            subscription.id,
            change,
            buyer,
        )

    def renewal_receipt(self, buyer: Account, subscription: Subscription, change: Change) -> Message:
        payment = subscription.payments[-1]
        return self._compose(
            "renewal_receipt",
            buyer.email,
            "Your subscription has renewed",
            f"Your {subscription.plan} licence renewed for term {subscription.term}, until "
            f"{_day(subscription.term_end)}. {_money(subscription.price)} was charged.",
            {
                "subscription_id": str(subscription.id),
                "term_number": subscription.term,
                "payment_id": payment["payment_id"],
                "amount": subscription.price.as_dict(),
            },
            subscription.id,
            change,
            buyer,
        )

    def payment_failed(self, buyer: Account, subscription: Subscription, change: Change) -> Message:
        payment = subscription.payments[-1]
        retry = subscription.next_retry_at
        return self._compose(
            "payment_failed",
            buyer.email,
            "We could not charge your card",
            "The renewal charge for your licence failed. "
            + (
                f"We will try again on {_day(retry)}; you can add a new card at any time."
                if retry
                else "That was the last attempt."
            ),
            {
                "subscription_id": str(subscription.id),
                "attempt": payment["attempt"],
                "next_retry_at": retry.isoformat() if retry else None,
            },
            subscription.id,
            change,
            buyer,
        )

    def downgrade_notice(self, buyer: Account, subscription: Subscription, change: Change) -> Message:
        return self._compose(
            "downgrade_notice",
            buyer.email,
            "Your organisation is now on the free plan",
            "Your self-service licence has ended and your organisation is now on the free plan. "
            "Your surveys and response data are kept.",
            {"subscription_id": str(subscription.id), "organisation_id": str(subscription.organisation_id)},
            subscription.id,
            change,
            buyer,
        )

    def licence_request(
        self, recipient: str, request_id: UUID, fields: dict[str, Any], change: Change
    ) -> Message:
        return self._compose(
            "licence_request",
            recipient,
            f"Licence request: {fields['kind']}",
            f"{fields['name']} ({fields['email']}) asks for a change to subscription "
            f"{fields['subscription_id']}: {fields['kind']}. {fields['description']}",
            {"licence_request_id": str(request_id), **fields},
            request_id,
            change,
        )
