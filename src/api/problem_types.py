"""Every problem type the API answers with: its status, its one title, what it means and
what to do about it. Answers take their title from here, and ``GET /problems/<slug>``
(the ``type`` of every problem answer) shows the page made from it."""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    meaning: str
    remedy: str

    @property
    def type(self) -> str:
        return f"/problems/{self.slug}"


def _types(*types: ProblemType) -> dict[str, ProblemType]:
    return {t.slug: t for t in types}


CATALOGUE = _types(
    # --- the request itself ------------------------------------------------------------
    ProblemType(
        "invalid-request",
        422,
        "The request is not valid",
        "A field is missing, of the wrong JSON type, outside its range (dates and instants "
        "from 1900-01-01 to 2999-12-31, positions below 2^63), or a rule about the "
        "request's content refuses it (an unknown plan, a contact without an email). "
        "`errors` lists each problem with its location when the body's shape is at fault.",
        "Correct what `errors` or `detail` names and send the request again. Nothing was recorded.",
    ),
    ProblemType(
        "raw-card-data-refused",
        422,
        "Raw card data refused",
        "The request holds what looks like a card number (13-19 digits passing the Luhn "
        "check, however separated) or a security-code key, in its body, path, query or a "
        "header. The service takes payment tokens only; nothing of the request was stored "
        "or logged, and its Idempotency-Key was not kept.",
        "Send the payment processor's token instead of card details. If the digits are not "
        "a card number, write them another way (the answer names where they were found).",
    ),
    ProblemType(
        "payload-too-large",
        413,
        "Payload too large",
        "The body is over 64 KiB.",
        "Send a smaller body; no command of this API needs more.",
    ),
    ProblemType(
        "unsupported-media-type",
        415,
        "Unsupported media type",
        "A non-empty body that is not JSON in UTF-8 (`application/json` or `application/*+json`).",
        "Send JSON with `Content-Type: application/json`.",
    ),
    ProblemType(
        "method-not-allowed",
        405,
        "Method not allowed",
        "The path exists, but not with this method.",
        "Use one of the methods in the `Allow` header.",
    ),
    ProblemType(
        "not-found",
        404,
        "Not found",
        "No resource has this id, or no route this path.",
        "Check the id (ids are UUIDs the service answered earlier) and the path.",
    ),
    ProblemType(
        "http-error",
        400,
        "The request could not be served",
        "An HTTP-level error that no other type names.",
        "Read `detail`; the request is likely malformed at the HTTP level.",
    ),
    # --- who asks ------------------------------------------------------------------------
    ProblemType(
        "unauthorized",
        401,
        "Unauthorized",
        "No bearer token, or one the service does not know.",
        "Send `Authorization: Bearer <secret>` with a token from `LIFECYCLE_API_TOKENS`.",
    ),
    ProblemType(
        "invalid-link",
        401,
        "The link is invalid or has expired",
        "The manage-subscriptions link of an email is altered, malformed, or older than its "
        "30 days.",
        "Use the link of a recent email; any email the service sends carries a fresh one.",
    ),
    ProblemType(
        "forbidden",
        403,
        "Forbidden",
        "The token lacks the route's scope (`views`, `commands`, `audit`, `ops`), or "
        "`X-Actor` names an unknown account.",
        "Use a token with the scope the route needs, or an `X-Actor` naming a known account.",
    ),
    ProblemType(
        "not-your-organisation",
        403,
        "An account may only act inside its own organisation",
        "`X-Actor` names a user of another organisation than the resource's.",
        "Act for a user of the resource's organisation, or without `X-Actor` on the "
        "service's own authority.",
    ),
    ProblemType(
        "not-your-profile",
        403,
        "A profile is read by its own account",
        "`X-Actor` names another user than the profile's account.",
        "Read a profile acting for its own account, or without `X-Actor`.",
    ),
    ProblemType(
        "not-brand-admin",
        403,
        "Only a brand admin of the organisation may do this",
        "Adding users and changing accounts of an organisation is for its brand admins (R3).",
        "Act for a brand admin of the organisation.",
    ),
    ProblemType(
        "own-user-type",
        403,
        "Nobody changes their own user type",
        "A user tried to change their own user type (R3).",
        "Another brand admin of the organisation changes it.",
    ),
    # --- the resource's state ---------------------------------------------------------------
    ProblemType(
        "invalid-state",
        409,
        "The resource's state does not allow this command",
        "The command does not fit what the resource is now (e.g. a licence request already "
        "answered).",
        "Read the resource, then send a command its state allows.",
    ),
    ProblemType(
        "version-conflict",
        412,
        "The resource has changed since that version",
        "`If-Match` named a version the resource has moved on from; nothing was recorded. "
        "`current_version` says where it is.",
        "Read the resource again, decide on its current state, and send the command with "
        "its new `ETag` (or without `If-Match` to apply to the latest version).",
    ),
    ProblemType(
        "resource-busy",
        503,
        "The resource is busy",
        "Other commands kept changing the resource for 5 s while this one retried; nothing "
        "was recorded.",
        "Retry after `Retry-After`, with the same Idempotency-Key.",
    ),
    ProblemType(
        "idempotency-key-reused",
        422,
        "Idempotency-Key reused with another body",
        "This key was first used, by this token and actor on this route, with another body.",
        "Use a new key for a new command; repeat a command with its first body.",
    ),
    ProblemType(
        "idempotency-key-in-use",
        409,
        "Idempotency-Key in use",
        "The first request with this key is still running.",
        "Retry after `Retry-After`; the repeat then gets the first answer.",
    ),
    # --- purchases ----------------------------------------------------------------------------
    ProblemType(
        "fedramp-not-eligible",
        422,
        "Self-service licences cannot be bought in the FedRAMP environment",
        "The organisation is a FedRAMP organisation (R14).",
        "FedRAMP organisations move to a custom plan, under an enterprise contract.",
    ),
    ProblemType(
        "already-subscribed",
        409,
        "The organisation already holds an active subscription or contract",
        "An organisation holds one licence at a time; an expired subscription does not count.",
        "Change the existing subscription or contract instead.",
    ),
    ProblemType(
        "verification-failed",
        422,
        "The verification token does not match",
        "The token sent does not match the one emailed to the buyer.",
        "Send the token from the latest `email_verification` message.",
    ),
    ProblemType(
        "purchase-not-verified",
        409,
        "The buyer's email address has not been verified",
        "A new buyer's purchase completes only after their email address is verified (R12).",
        "Verify with `POST /v1/purchases/{id}/verify`, then complete.",
    ),
    ProblemType(
        "purchase-completed",
        409,
        "The purchase is already completed",
        "A completed purchase cannot change.",
        "Read the purchase: it names its subscription, account and organisation.",
    ),
    ProblemType(
        "datacenter-fixed",
        409,
        "The organisation's datacenter is fixed",
        "The datacenter is fixed once payment succeeds, and an existing organisation keeps "
        "its own (R15).",
        "Leave the datacenter as it is.",
    ),
    ProblemType(
        "acceptance-required",
        422,
        "Every required acceptance must be given",
        "The terms of service and the auto-renewal policy (and, for a new buyer, the privacy "
        "statement) must be accepted with `true` (R11, R12).",
        "Send each acceptance as `true` once the buyer has accepted it.",
    ),
    ProblemType(
        "payment-declined",
        402,
        "The card was declined",
        "The payment processor declined the charge; the attempt is recorded, nothing else changed.",
        "Ask the buyer for another card (a new payment token) and try again.",
    ),
    ProblemType(
        "invalid-payment-token",
        422,
        "The payment processor does not know this token",
        "The payment token is not one the processor issued.",
        "Send a token from the payment processor (in the sandbox: `tok_visa`, "
        "`tok_mastercard`, `tok_declined`, `tok_fails_renewal`).",
    ),
    # --- subscriptions ------------------------------------------------------------------------
    ProblemType(
        "subscription-expired",
        409,
        "The subscription has expired",
        "An expired subscription cannot resume or change.",
        "The organisation buys again (`POST /v1/purchases`).",
    ),
    ProblemType(
        "cap-exceeded",
        422,
        "The plan's cap would be exceeded",
        "The usage would pass a cap of the plan (`cap`, `limit`, `usage` say which); nothing "
        "was counted.",
        "Submit a licence request for more, or count less.",
    ),
    # --- contracts and renewals ---------------------------------------------------------------
    ProblemType(
        "duplicate-contract-number",
        409,
        "The contract number is already in use",
        "Contract numbers are unique.",
        "Use another number.",
    ),
    ProblemType(
        "contract-ended",
        409,
        "The contract has ended",
        "An ended contract cannot change.",
        "Create a new contract.",
    ),
    ProblemType(
        "stage-out-of-order",
        409,
        "The renewal's stage does not allow this command",
        "Renewals move assessment, discussion, proposal, confirmed, invoiced, renewed (or "
        "opted out), in that order.",
        "Read the renewal's `stage` and send the command it allows next.",
    ),
    ProblemType(
        "stale-quote",
        409,
        "Only the latest quote can be confirmed",
        "A newer quote was issued after the one named.",
        "Confirm the latest quote, or issue a new one.",
    ),
    ProblemType(
        "notice-period-passed",
        409,
        "The contract's notice deadline has passed",
        "Opt-outs and changes of scope are accepted through the end of `notice_deadline`.",
        "The term renews; changes apply to the next renewal.",
    ),
    ProblemType(
        "scope-not-aligned",
        409,
        "The quote changes services the renewal's scope does not include",
        "A quote may only change what the aligned scope of the renewal names.",
        "Align the scope first (`POST /v1/renewals/{id}/align`), then quote.",
    ),
    # --- profiles -------------------------------------------------------------------------------
    ProblemType(
        "operational-updates-required",
        422,
        "Brand admins cannot unsubscribe from operational updates",
        "Operational updates stay on for brand admins (R52).",
        "Leave `operational_updates` on, or change the user's type first.",
    ),
    # --- operations -----------------------------------------------------------------------------
    ProblemType(
        "clock-not-manual",
        409,
        "The clock only moves by itself",
        "The clock can be advanced only when `LIFECYCLE_CLOCK=manual`.",
        "Run the service with the manual clock (tests, demos), or let time pass.",
    ),
    ProblemType(
        "clock-backwards",
        422,
        "The clock cannot go backwards",
        "The manual clock is already past the instant given.",
        "Advance to an instant at or after the clock's `now`.",
    ),
    ProblemType(
        "projection-behind",
        503,
        "The view has not yet caught up",
        "The view has not reached `min_position` within 5 s, or the position is past the "
        "log's head (`head` says where the log is).",
        "Retry after `Retry-After`; ask only for positions a command answered.",
    ),
    ProblemType(
        "store-unavailable",
        503,
        "The store is unavailable",
        "The database cannot be reached, or not before the request's deadline.",
        "Retry after `Retry-After`; a command retried with the same Idempotency-Key runs once.",
    ),
    ProblemType(
        "service-busy",
        503,
        "The service is busy",
        "This worker holds as many connections as it may.",
        "Retry after `Retry-After`, or reuse a connection.",
    ),
    ProblemType(
        "internal-error",
        500,
        "Internal error",
        "The service failed in a way no rule foresaw: a defect. It is logged under `request_id`.",
        "Report the `request_id` to the service's operators; a command retried with the same "
        "Idempotency-Key runs at most once.",
    ),
)


def page(problem_type: ProblemType) -> str:
    """The problem type's page: what it means and what to do, in plain HTML."""
    t = {name: html.escape(str(value)) for name, value in vars(problem_type).items()}
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{t["title"]}</title></head>
<body>
<h1>{t["title"]}</h1>
<p><code>type: {html.escape(problem_type.type)}</code> &middot; HTTP {t["status"]}</p>
<h2>What it means</h2><p>{t["meaning"]}</p>
<h2>What to do</h2><p>{t["remedy"]}</p>
<p><a href="/problems">Every problem type</a></p>
</body></html>
"""


def index() -> str:
    rows = "\n".join(
        f'<li><a href="{html.escape(t.type)}"><code>{t.slug}</code></a> ({t.status}): '
        f"{html.escape(t.title)}</li>"
        for t in sorted(CATALOGUE.values(), key=lambda t: (t.status, t.slug))
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Problem types</title></head>
<body><h1>Problem types</h1><ul>
{rows}
</ul></body></html>
"""


def markdown() -> str:
    """The catalogue as the API guide lists it (``docs/problems.md`` is this text; a test
    keeps the two equal)."""
    lines = [
        "# Problem types",
        "",
        "Every error answer is `application/problem+json` whose `type` is one of these; the",
        "service serves each type's page at that address (`GET /problems/<slug>`, no token",
        "needed), and `GET /problems` lists them. Each type has one title.",
        "",
    ]
    for t in sorted(CATALOGUE.values(), key=lambda t: (t.status, t.slug)):
        lines += [
            f"## `{t.slug}` ({t.status})",
            "",
            f"**{t.title}.** {t.meaning}",
            "",
            f"*What to do:* {t.remedy}",
            "",
        ]
    return "\n".join(lines)
