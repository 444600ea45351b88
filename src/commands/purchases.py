"""Use cases of the self-service purchase (R10-R16, R28)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from uuid import UUID

from commands.accounts import command_uuid, new_brand_id
from commands.actors import check_acts_in
from commands.context import Caller
from commands.messages import Outbox
from commands.outcome import Outcome
from commands.services import Services, check_version, retrying
from lifecycle.account import BRAND_ADMIN, Account
from lifecycle.datacenters import check_datacenter, recommend_datacenter
from lifecycle.errors import PaymentDeclined, Rejected
from lifecycle.organisation import FREE, Organisation
from lifecycle.payment import payment_record
from lifecycle.purchase import COMPLETED, Purchase
from lifecycle.subscription import Subscription


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_purchase(
    services: Services,
    caller: Caller,
    *,
    plan: str,
    currency: str = "USD",
    account_id: UUID | None = None,
    email: str | None = None,
    ip: str | None = None,
) -> Outcome[Purchase]:
    """Start buying a plan: an upgrade of a free or trial account, or a new buyer (R11, R12)."""
    chosen = services.catalogue.get(plan)
    price = chosen.price_in(currency)
    recommended = recommend_datacenter(ip, services.address_ranges)
    change = caller.change(services.clock.now())
    purchase_id = command_uuid(caller, "purchase")
    outbox = Outbox(services.links)
    if (account_id is None) == (email is None):
        raise Rejected("give either account_id (an upgrade) or email (a new buyer)")
    if account_id is not None:
        account = services.load(Account, account_id, "account")
        check_acts_in(services, caller, account.organisation_id)
        organisation = services.load(Organisation, account.organisation_id, "organisation")
        organisation.check_may_buy_self_service()
        purchase = Purchase.start(
            purchase_id,
            plan=chosen.plan_id,
            price=price,
            account_id=account.id,
            organisation_id=organisation.id,
            email=account.email,
            recommended_datacenter=recommended,
            datacenter=organisation.datacenter,
            verification_digest=None,
            change=change,
        )
        return Outcome(purchase, services.save(purchase))
    assert email is not None
    token = secrets.token_urlsafe(16)
    purchase = Purchase.start(
        purchase_id,
        plan=chosen.plan_id,
        price=price,
        account_id=None,
        organisation_id=None,
        email=email,
        recommended_datacenter=recommended,
        datacenter=recommended,
        verification_digest=token_digest(token),
        change=change,
    )
    message = outbox.email_verification(email, purchase.id, token, change)
    return Outcome(purchase, services.save(purchase, message))


def verify_purchase(
    services: Services, caller: Caller, purchase_id: UUID, token: str, if_match: int | None = None
) -> Outcome[Purchase]:
    def attempt() -> Outcome[Purchase]:
        purchase = services.load(Purchase, purchase_id, "purchase")
        check_version(purchase, if_match)
        purchase.verify(token_digest(token), caller.change(services.clock.now()))
        return Outcome(purchase, services.save(purchase))

    return retrying(attempt, if_match)


def choose_datacenter(
    services: Services,
    caller: Caller,
    purchase_id: UUID,
    datacenter: str,
    if_match: int | None = None,
) -> Outcome[Purchase]:
    check_datacenter(datacenter)

    def attempt() -> Outcome[Purchase]:
        purchase = services.load(Purchase, purchase_id, "purchase")
        check_version(purchase, if_match)
        purchase.choose_datacenter(datacenter, caller.change(services.clock.now()))
        return Outcome(purchase, services.save(purchase))

    return retrying(attempt, if_match)


@dataclass(frozen=True)
class NewBuyer:
    name: str
    username: str


@dataclass(frozen=True)
class CompletedPurchase:
    purchase: Purchase
    subscription: Subscription
    organisation: Organisation
    account: Account


def complete_purchase(
    services: Services,
    caller: Caller,
    purchase_id: UUID,
    *,
    payment_token: str,
    billing_address: dict[str, str],
    accept_terms: bool,
    accept_auto_renewal: bool,
    accept_privacy: bool = False,
    new_buyer: NewBuyer | None = None,
    if_match: int | None = None,
) -> Outcome[CompletedPurchase]:
    """Charge the card; only when it is approved create the licence (and, for a new
    buyer, the organisation and account) and confirm (R11, R12, R16)."""
    return retrying(
        lambda: _complete(
            services,
            caller,
            purchase_id,
            payment_token=payment_token,
            billing_address=billing_address,
            accept_terms=accept_terms,
            accept_auto_renewal=accept_auto_renewal,
            accept_privacy=accept_privacy,
            new_buyer=new_buyer,
            if_match=if_match,
        ),
        if_match,
    )


def _complete(
    services: Services,
    caller: Caller,
    purchase_id: UUID,
    *,
    payment_token: str,
    billing_address: dict[str, str],
    accept_terms: bool,
    accept_auto_renewal: bool,
    accept_privacy: bool,
    new_buyer: NewBuyer | None,
    if_match: int | None,
) -> Outcome[CompletedPurchase]:
    purchase = services.load(Purchase, purchase_id, "purchase")
    check_version(purchase, if_match)
    organisation: Organisation | None = None
    if not purchase.is_new_buyer:
        assert purchase.organisation_id is not None
        check_acts_in(services, caller, purchase.organisation_id)
        organisation = services.load(Organisation, purchase.organisation_id, "organisation")
        if purchase.status != COMPLETED:
            # Read the purchase again after its organisation: a completion of this very
            # purchase saved in between shows as completed, not as another subscription.
            purchase = services.load(Purchase, purchase_id, "purchase")
            check_version(purchase, if_match)
        if purchase.status != COMPLETED:
            organisation.check_may_buy_self_service()
    elif new_buyer is None and purchase.status != COMPLETED:
        raise Rejected("a new buyer gives account settings: account.name and account.username")
    request = purchase.charge_for_completion(
        card_token=payment_token,
        accept_terms=accept_terms,
        accept_auto_renewal=accept_auto_renewal,
        accept_privacy=accept_privacy,
    )
    card = services.gateway.card_for(payment_token)
    now = services.clock.now()
    change = caller.change(now)
    outcome = services.gateway.charge(request, now)
    if not outcome.approved:
        purchase.record_declined(request, outcome, card, change)
        declined = PaymentDeclined(
            "the card was declined; the purchase stays open for another attempt",
            reason=outcome.reason,
        )
        services.save(purchase, refusal=declined)
        raise declined

    plan = services.catalogue.get(purchase.plan)
    if organisation is None:
        organisation_id = command_uuid(caller, "organisation")
        organisation = Organisation.register(
            organisation_id,
            brand_id=new_brand_id(organisation_id),
            datacenter=purchase.datacenter,
            fedramp=False,
            licence=FREE,
            trial_ends_at=None,
            change=change,
        )
        assert new_buyer is not None
        account = Account.open(
            command_uuid(caller, "account"),
            organisation_id=organisation.id,
            name=new_buyer.name,
            email=purchase.email,
            username=new_buyer.username,
            user_type=BRAND_ADMIN,
            datacenter=organisation.datacenter,
            change=change,
        )
    else:
        assert purchase.account_id is not None
        account = services.load(Account, purchase.account_id, "account")
    subscription = Subscription.start(
        command_uuid(caller, "subscription"),
        organisation_id=organisation.id,
        buyer_account_id=account.id,
        plan=plan.plan_id,
        price=purchase.price,
        caps=plan.caps,
        card=card,
        billing_address=billing_address,
        payment=payment_record(request, outcome, card.last4, now),
        change=change,
    )
    organisation.grant_self_service(subscription.id, change)
    purchase.complete(
        subscription_id=subscription.id,
        account_id=account.id,
        organisation_id=organisation.id,
        brand_id=organisation.brand_id,
        change=change,
    )
    confirmation = Outbox(services.links).purchase_confirmation(
        account, subscription, organisation.brand_id, change
    )
    position = services.save(purchase, organisation, account, subscription, confirmation)
    return Outcome(CompletedPurchase(purchase, subscription, organisation, account), position)
