"""Response shapes, for the OpenAPI document other teams code against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


Instant = Annotated[
    str,
    Field(
        json_schema_extra={"format": "date-time"},
        description="an RFC 3339 instant in UTC, e.g. 2027-01-31T09:00:00Z",
    ),
]
"""An instant as every answer writes it (``api.representations.instant``)."""
Day = Annotated[
    str, Field(json_schema_extra={"format": "date"}, description="a UTC day, YYYY-MM-DD")
]
"""A date as every answer writes it (``date.isoformat()``)."""
Amount = Annotated[
    str,
    Field(
        pattern=r"^[0-9]+\.[0-9]{2}$",
        description="a decimal string with two places (never a float), e.g. 1500.00",
    ),
]
"""A money amount as ``lifecycle.money.Money.as_dict`` writes it."""


class Money(Out):
    amount: Amount
    currency: str


class InvalidField(Out):
    """One error of an ``invalid-request`` problem: where (``loc``) and what (``msg``)."""

    loc: list[str | int]
    msg: str
    type: str | None = None


class Problem(Out):
    """An RFC 9457 problem (``application/problem+json``). ``type`` is
    ``/problems/<slug>``; some types add members (``cap-exceeded``: ``cap``, ``limit``,
    ``usage``; ``projection-behind``: ``head``)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[InvalidField] | None = None
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
    trial_ends_at: Instant | None
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
    start: Instant
    end: Instant


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
    next_retry_at: Instant | None
    expired_at: Instant | None
    version: int


class Payment(Out):
    payment_id: str
    term_number: int
    attempt: int
    amount: Money
    status: Literal["succeeded", "failed"]
    attempted_at: Instant
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
    created_at: Instant


class FailedDueItem(Out):
    """A due item whose work failed: held back until ``retry_at`` while the rest of
    the queue runs."""

    key: str
    kind: str
    aggregate_id: str
    due_at: Instant
    attempts: int
    error: str
    failed_at: Instant
    retry_at: Instant


class ClockAdvanced(Out):
    now: Instant
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
    last_updated: Instant | None
    """When the contact last changed; ``null``: unchanged since the last renewal."""


class ContractTerm(Out):
    term_number: int
    start_date: Day
    end_date: Day
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
    start_date: Day
    end_date: Day
    term_months: int
    licences: list[str]
    notice_days: int
    price: Money
    primary_contact: DatedContact
    billing_contact: DatedContact
    original_start_date: Day
    ended_on: Day | None
    terms: list[ContractTerm]
    version: int


class Quote(Out):
    quote_id: str
    licences: list[str]
    term_months: int
    price: Money
    issued_at: Instant


class Invoice(Out):
    invoice_id: str
    amount: Money
    issued_on: Day
    due_on: Day
    recipient: ContactOut
    term_number: int


class ScopeChangeOut(Out):
    """A change of scope agreed for the renewal (the request's ``ScopeChange``)."""

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
    changes: list[ScopeChangeOut]
    end_date: Day
    opens_on: Day
    contact_by: Day
    notice_deadline: Day
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
    start_date: Day
    end_date: Day
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
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@dataclass(frozen=True)
class RouteFacts:
    """What decides the problem answers an operation can give, read from the operation
    itself (``api.openapi_document``)."""

    writes: bool
    """POST, PUT, PATCH or DELETE: the request guard reads a body (413, 415)."""
    public: bool
    """Served without a bearer token (``api.auth.is_public``): no 401 ``unauthorized``,
    no 403 ``forbidden``, no idempotency key kept."""
    signed_link: bool
    """Authorised by an email's signed link in the path instead (401 ``invalid-link``)."""
    takes_id: bool
    """Names a resource by id, in its path or in its body (404)."""
    if_match: bool
    """Takes ``If-Match`` (412)."""
    acting_user: bool
    """Takes ``X-Actor`` (403 for what the acting user may not do)."""


@dataclass(frozen=True)
class ProblemAnswer:
    """A problem status, what it means, and which operations can answer it."""

    status: int
    description: str
    given: Callable[[RouteFacts], bool]
    headers: dict[str, Any] = field(default_factory=dict)


RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "`Bearer`: the scheme to authenticate with",
        "required": True,
        "schema": {"type": "string"},
    }
}
ETAG = {
    "ETag": {
        "description": 'the resource\'s version, quoted (`"3"`): send it back in `If-Match`',
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    }
}
ALLOW = {
    "Allow": {
        "description": "every method the path serves",
        "required": True,
        "schema": {"type": "string"},
    }
}

PROBLEMS: tuple[ProblemAnswer, ...] = (
    ProblemAnswer(
        401,
        "no or an unknown bearer token (`unauthorized`)",
        lambda route: not route.public,
        WWW_AUTHENTICATE,
    ),
    ProblemAnswer(401, "a bad or expired link (`invalid-link`)", lambda route: route.signed_link),
    ProblemAnswer(
        403,
        "the token lacks the route's scope (`forbidden`), or the acting user may not do "
        "this (`not-your-organisation`, `not-your-profile`, `not-brand-admin`, `own-user-type`)",
        lambda route: not route.public and route.acting_user,
    ),
    ProblemAnswer(
        403, "the token lacks the route's scope (`forbidden`)", lambda route: not route.public
    ),
    ProblemAnswer(404, "an unknown id (`not-found`)", lambda route: route.takes_id),
    ProblemAnswer(
        409,
        "the resource's state does not allow the command, or the first request with this "
        "`Idempotency-Key` is still running (`idempotency-key-in-use`)",
        lambda route: route.writes and not route.public,
    ),
    ProblemAnswer(
        412,
        "`If-Match` names an older version (`version-conflict`)",
        lambda route: route.if_match,
    ),
    ProblemAnswer(
        413, "the body is over 64 KiB (`payload-too-large`)", lambda route: route.writes
    ),
    ProblemAnswer(
        415,
        "a non-empty body that is not JSON (`unsupported-media-type`)",
        lambda route: route.writes,
    ),
    ProblemAnswer(
        422,
        "the request is not valid (`invalid-request`, with `errors`), carries raw card "
        "data (`raw-card-data-refused`), or a rule refuses it",
        lambda route: True,
    ),
    ProblemAnswer(
        503,
        "a view has not reached `min_position` in time (`projection-behind`), the store "
        "cannot be reached before the request's deadline (`store-unavailable`), other "
        "commands kept changing the resource (`resource-busy`), or the worker is at its "
        "connection limit (`service-busy`)",
        lambda route: True,
        RETRY_AFTER,
    ),
)
"""The problem answers by status: an operation documents a status when the first entry
of that status whose ``given`` holds for it does. Statuses outside this table (402 on
completing a purchase) are declared by their route (``problem_response``)."""

METHOD_NOT_ALLOWED = {
    "description": "a method the path does not serve (`method-not-allowed`)",
    "headers": ALLOW,
    "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
}
"""Not an answer of any operation (it answers the methods a path has none for): kept
in ``components.responses`` for clients to refer to."""


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI response answered with an RFC 9457 problem."""
    return {"description": description, "content": {PROBLEM_JSON: {"schema": dict(PROBLEM_REF)}}}
