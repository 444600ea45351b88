"""Typed errors for broken rules, in families the API maps to one status each."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused a command."""

    slug = "invalid-state"
    title = "The command is not allowed"

    def __init__(self, detail: str, **extras: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extras = extras


class NotFound(DomainError):
    slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    """The resource's state does not allow the command."""


class Rejected(DomainError):
    """The command's content breaks a rule."""

    slug = "invalid-request"
    title = "The request was refused"


class NotPermitted(DomainError):
    """The actor may not do this."""

    slug = "forbidden"
    title = "Not permitted"


class PaymentRefused(DomainError):
    slug = "payment-declined"
    title = "Payment declined"


# --- not found -------------------------------------------------------------


class UnknownPlan(Rejected):
    slug = "invalid-request"
    title = "Unknown plan"


class UnknownDatacenter(Rejected):
    slug = "invalid-request"
    title = "Unknown datacenter"


# --- accounts and organisations (R3) --------------------------------------


class NotBrandAdmin(NotPermitted):
    slug = "not-brand-admin"
    title = "Only a brand admin of the organisation may do this"


class OwnUserType(NotPermitted):
    slug = "own-user-type"
    title = "Nobody changes their own user type"


class NotYourOrganisation(NotPermitted):
    slug = "not-your-organisation"
    title = "An account may only act inside its own organisation"


class ContactOutsideOrganisation(Rejected):
    """A contract contact names an account that does not exist or belongs to another
    organisation (R41: contacts are the customer's own people)."""


# --- purchases (R11-R16, R28) ----------------------------------------------


class FedrampNotEligible(Rejected):
    slug = "fedramp-not-eligible"
    title = "Self-service licences cannot be bought in the FedRAMP environment"


class AlreadySubscribed(Conflict):
    slug = "already-subscribed"
    title = "The organisation already holds an active subscription or contract"


class VerificationFailed(Rejected):
    slug = "verification-failed"
    title = "The verification token does not match"


class PurchaseNotVerified(Conflict):
    slug = "purchase-not-verified"
    title = "The buyer's email address has not been verified"


class PurchaseCompleted(Conflict):
    slug = "purchase-completed"
    title = "The purchase is already completed"


class DatacenterFixed(Conflict):
    slug = "datacenter-fixed"
    title = "The organisation's datacenter is fixed"


class AcceptanceRequired(Rejected):
    slug = "acceptance-required"
    title = "Every required acceptance must be given"


class PaymentDeclined(PaymentRefused):
    slug = "payment-declined"
    title = "The card was declined"


class InvalidPaymentToken(Rejected):
    slug = "invalid-payment-token"
    title = "The payment processor does not know this token"


# --- subscriptions (R20-R31) -------------------------------------------------


class SubscriptionExpired(Conflict):
    slug = "subscription-expired"
    title = "The subscription has expired"


class CapExceeded(Rejected):
    slug = "cap-exceeded"
    title = "The plan's cap would be exceeded"


class InvalidState(Conflict):
    slug = "invalid-state"
    title = "The resource's state does not allow this command"


# --- enterprise contracts and renewals (R40-R46) ----------------------------------


class DuplicateContractNumber(Conflict):
    slug = "duplicate-contract-number"
    title = "The contract number is already in use"


class ContractEnded(Conflict):
    slug = "contract-ended"
    title = "The contract has ended"


class StageOutOfOrder(Conflict):
    slug = "stage-out-of-order"
    title = "The renewal's stage does not allow this command"


class StaleQuote(Conflict):
    slug = "stale-quote"
    title = "Only the latest quote can be confirmed"


class NoticePeriodPassed(Conflict):
    slug = "notice-period-passed"
    title = "The contract's notice deadline has passed"


class ScopeNotAligned(Conflict):
    slug = "scope-not-aligned"
    title = "The quote changes services the renewal's scope does not include"


class OperationalUpdatesRequired(Rejected):
    slug = "operational-updates-required"
    title = "Brand admins cannot unsubscribe from operational updates"
