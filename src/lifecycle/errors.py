"""Typed errors for broken rules, in families; each names the problem type (``slug``)
the API answers it with."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused a command."""

    slug = "invalid-state"

    def __init__(self, detail: str, **extras: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extras = extras


class NotFound(DomainError):
    slug = "not-found"


class Conflict(DomainError):
    """The resource's state does not allow the command."""


class Rejected(DomainError):
    """The command's content breaks a rule."""

    slug = "invalid-request"


class NotPermitted(DomainError):
    """The actor may not do this."""

    slug = "forbidden"


class PaymentRefused(DomainError):
    slug = "payment-declined"


# --- not found -------------------------------------------------------------


class UnknownPlan(Rejected):
    slug = "invalid-request"


class UnknownDatacenter(Rejected):
    slug = "invalid-request"


# --- accounts and organisations (R3) --------------------------------------


class NotBrandAdmin(NotPermitted):
    slug = "not-brand-admin"


class OwnUserType(NotPermitted):
    slug = "own-user-type"


class NotYourOrganisation(NotPermitted):
    slug = "not-your-organisation"


class ContactOutsideOrganisation(Rejected):
    """A contract contact names an account that does not exist or belongs to another
    organisation (R41: contacts are the customer's own people)."""


# --- purchases (R11-R16, R28) ----------------------------------------------


class FedrampNotEligible(Rejected):
    slug = "fedramp-not-eligible"


class AlreadySubscribed(Conflict):
    slug = "already-subscribed"


class VerificationFailed(Rejected):
    slug = "verification-failed"


class PurchaseNotVerified(Conflict):
    slug = "purchase-not-verified"


class PurchaseCompleted(Conflict):
    slug = "purchase-completed"


class DatacenterFixed(Conflict):
    slug = "datacenter-fixed"


class AcceptanceRequired(Rejected):
    slug = "acceptance-required"


class PaymentDeclined(PaymentRefused):
    slug = "payment-declined"


class InvalidPaymentToken(Rejected):
    slug = "invalid-payment-token"


# --- subscriptions (R20-R31) -------------------------------------------------


class SubscriptionExpired(Conflict):
    slug = "subscription-expired"


class CapExceeded(Rejected):
    slug = "cap-exceeded"


class InvalidState(Conflict):
    slug = "invalid-state"


# --- enterprise contracts and renewals (R40-R46) ----------------------------------


class DuplicateContractNumber(Conflict):
    slug = "duplicate-contract-number"


class ContractEnded(Conflict):
    slug = "contract-ended"


class StageOutOfOrder(Conflict):
    slug = "stage-out-of-order"


class StaleQuote(Conflict):
    slug = "stale-quote"


class NoticePeriodPassed(Conflict):
    slug = "notice-period-passed"


class ScopeNotAligned(Conflict):
    slug = "scope-not-aligned"


class OperationalUpdatesRequired(Rejected):
    slug = "operational-updates-required"
