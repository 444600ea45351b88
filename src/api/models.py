"""Response shapes, for the OpenAPI document other teams code against."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Money(Out):
    amount: str
    currency: str


class Problem(Out):
    """An RFC 9457 problem (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None
    """With ``invalid-request``: one entry per error, ``{loc, msg}``."""


class Positioned(Out):
    position: int | None = None


class AccountCreated(Out):
    account_id: str
    organisation_id: str
    brand_id: str
    user_type: Literal["brand_admin", "standard"]
    position: int


class UserAdded(Out):
    account_id: str
    user_type: Literal["brand_admin", "standard"]
    position: int


class Account(Positioned):
    account_id: str
    organisation_id: str
    name: str
    email: str
    username: str
    user_type: Literal["brand_admin", "standard"]
    datacenter: str
    version: int


class Organisation(Positioned):
    organisation_id: str
    brand_id: str
    licence: Literal["free", "trial", "self_service", "enterprise"]
    datacenter: str
    fedramp: bool
    subscription_id: str | None
    contract_ids: list[str]
    trial_ends_at: str | None
    version: int


class PurchaseStarted(Out):
    purchase_id: str
    status: Literal["awaiting_verification", "open"]
    recommended_datacenter: str
    datacenter: str
    position: int


class Purchase(Positioned):
    purchase_id: str
    status: Literal["awaiting_verification", "open", "completed"]
    plan: str
    price: Money
    email: str
    datacenter: str
    recommended_datacenter: str
    declined_attempts: int
    version: int
    account_id: str | None = None
    organisation_id: str | None = None
    subscription_id: str | None = None
    brand_id: str | None = None


class Term(Out):
    number: int
    start: str
    end: str


class Card(Out):
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class Usage(Out):
    responses: int | None
    seats: int | None


class Subscription(Positioned):
    subscription_id: str
    organisation_id: str
    plan: str
    status: Literal["active", "non_renewing", "past_due", "expired"]
    auto_renew: bool
    term: Term
    price: Money
    renewal_price: Money
    card: Card | None
    caps: Usage
    usage: Usage
    cap_reached: bool
    next_retry_at: str | None
    expired_at: str | None
    version: int


class Payment(Out):
    payment_id: str
    term_number: int
    attempt: int
    amount: Money
    status: Literal["succeeded", "failed"]
    attempted_at: str
    card_last4: str | None


class LicenceRequestCreated(Out):
    licence_request_id: str
    status: str
    position: int


class LicenceRequest(Positioned):
    licence_request_id: str
    subscription_id: str
    organisation_id: str
    status: Literal["submitted", "fulfilled", "declined"]
    name: str
    email: str
    cc: list[str]
    username: str
    kind: str
    description: str
    routed_to: str
    version: int
    resolution: dict[str, Any] | None = None


class Plan(Out):
    plan: str
    name: str
    prices: list[Money]
    caps: Usage


class Datacenter(Out):
    datacenter: str
    recommended: bool


class Notification(Out):
    kind: str
    recipient: str
    subject: str
    body: str
    data: dict[str, Any]
    created_at: str


class FailedDueItem(Out):
    """A due item whose work failed: held back until ``retry_at`` while the rest of
    the queue runs."""

    key: str
    kind: str
    aggregate_id: str
    due_at: str
    attempts: int
    error: str
    failed_at: str
    retry_at: str


class ClockAdvanced(Out):
    now: str
    position: int
    failed: list[FailedDueItem]
    """The items whose work failed during this advance (each held back for a retry)."""


class ProjectionStatus(Out):
    name: str
    position: int
    head: int
    lag: int
    status: Literal["live", "rebuilding", "failed"]
    error: str | None = None
    failed_position: int | None = None
    generation: int | None = None


class Health(Out):
    status: str
    store: str
    projections: dict[str, Any]


# --- enterprise contracts and renewals ----------------------------------------------------


class ContactOut(Out):
    first_name: str
    last_name: str
    email: str
    account_id: str | None


class DatedContact(ContactOut):
    last_updated: str | None
    """When the contact last changed; ``null``: unchanged since the last renewal."""


class ContractTerm(Out):
    term_number: int
    start_date: str
    end_date: str
    term_months: int
    licences: list[str]
    price: Money
    renewal_id: str | None


class Contract(Positioned):
    contract_id: str
    organisation_id: str
    number: int
    status: Literal["active", "ended"]
    term_number: int
    start_date: str
    end_date: str
    term_months: int
    licences: list[str]
    notice_days: int
    price: Money
    primary_contact: DatedContact
    billing_contact: DatedContact
    original_start_date: str
    ended_on: str | None
    terms: list[ContractTerm]
    version: int


class Quote(Out):
    quote_id: str
    licences: list[str]
    term_months: int
    price: Money
    issued_at: str


class Invoice(Out):
    invoice_id: str
    amount: Money
    issued_on: str
    due_on: str
    recipient: ContactOut
    term_number: int


class ScopeChange(Out):
    kind: str
    detail: str


class Renewal(Positioned):
    renewal_id: str
    contract_id: str
    organisation_id: str
    contract_number: int
    term_number: int
    stage: Literal[
        "assessment", "discussion", "proposal", "confirmed", "invoiced", "renewed", "opted_out"
    ]
    owner_role: Literal["renewals_manager", "account_executive"]
    changes: list[ScopeChange]
    end_date: str
    opens_on: str
    contact_by: str
    notice_deadline: str
    overdue: bool
    escalated: bool
    quotes: list[Quote]
    version: int
    confirmed_quote_id: str | None = None
    invoice: Invoice | None = None
    opt_out_reason: str | None = None


class QuoteIssued(Renewal):
    quote_id: str


# --- the hub's profile and its commands -------------------------------------------------


class EmailPreferences(Positioned):
    account_id: str
    email_preferences: dict[str, bool]
    """``personalised_learning``, ``news_and_updates``, ``customer_events``, and
    ``operational_updates`` for brand admins only."""
    version: int


class AccountTeam(Positioned):
    organisation_id: str
    account_executive: dict[str, Any] | None = None
    success_manager: dict[str, Any] | None = None
    intake_form_url: str | None = None
    brand_admin_contact: dict[str, Any] | None = None
    version: int


class CommunityAccount(Positioned):
    account_id: str
    community: dict[str, Any] | None
    version: int


class CertificationRecorded(Out):
    account_id: str
    certifications: list[dict[str, Any]]
    position: int


class ContractSummary(Out):
    contract_id: str
    number: int
    start_date: str
    end_date: str
    licences: list[str]
    term_months: int


class ProfileContract(ContractSummary):
    status: Literal["active", "ended"]
    primary_contact: dict[str, Any]
    billing_contact: dict[str, Any]
    renewal: dict[str, Any] | None


class Profile(Out):
    """Sections the viewer may not see are absent (R50-R56)."""

    account_id: str
    account: dict[str, Any]
    account_team: dict[str, Any]
    account_deletion: dict[str, Any]
    email_preferences: dict[str, bool] | None = None
    billing_details: dict[str, Any] | None = None
    contracts: list[ContractSummary] | None = None
    connected_accounts: dict[str, Any] | None = None


class RebuildStarted(ProjectionStatus):
    started: bool
    """``false`` when a rebuild of this projection was already running."""


# --- problems ------------------------------------------------------------------------------

PROBLEM_JSON = "application/problem+json"

_PROBLEM_SCHEMA = Problem.model_json_schema()

PROBLEM_STATUSES: dict[int, str] = {
    401: "no or an unknown bearer token (`unauthorized`); on the email-preferences link, "
    "a bad or expired link (`invalid-link`)",
    403: "the token lacks the route's scope (`forbidden`), or the acting user may not do "
    "this (`not-your-organisation`, `not-your-profile`, `not-brand-admin`, `own-user-type`)",
    404: "an unknown id (`not-found`)",
    409: "the resource's state does not allow the command",
    412: "`If-Match` names an older version (`version-conflict`)",
    413: "the body is over 64 KiB (`payload-too-large`)",
    415: "a non-empty body that is not JSON (`unsupported-media-type`)",
    422: "the request is not valid (`invalid-request`, with `errors`), carries raw card "
    "data (`raw-card-data-refused`), or a rule refuses it",
    503: "a view has not reached `min_position` in time (`projection-behind`), the store "
    "cannot be reached before the request's deadline (`store-unavailable`), other commands "
    "kept changing the resource (`resource-busy`), or the worker is at its connection limit "
    "(`service-busy`); see `Retry-After`",
}


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI response answered with an RFC 9457 problem."""
    return {"description": description, "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}}}


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: problem_response(description) for status, description in PROBLEM_STATUSES.items()
}
