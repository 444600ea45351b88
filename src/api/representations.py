"""How each resource is shown: the same shape for its GET and for command answers."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from lifecycle.account import Account
from lifecycle.contract import PRIMARY, BILLING, Contract
from lifecycle.contract_terms import Contact
from lifecycle.licence_request import LicenceRequest
from lifecycle.organisation import Organisation
from lifecycle.purchase import COMPLETED, Purchase
from lifecycle.renewal import Renewal
from lifecycle.subscription import Subscription


def instant(value: datetime) -> str:
    """RFC 3339 in UTC with a Z."""
    text = value.astimezone(timezone.utc).isoformat()
    return text.replace("+00:00", "Z")


def organisation(org: Organisation) -> dict[str, Any]:
    return {
        "organisation_id": str(org.id),
        "brand_id": org.brand_id,
        "licence": org.licence,
        "datacenter": org.datacenter,
        "fedramp": org.fedramp,
        "subscription_id": str(org.subscription_id) if org.subscription_id else None,
        "contract_ids": [str(c) for c in org.contract_ids],
        "trial_ends_at": instant(org.trial_ends_at) if org.trial_ends_at else None,
        "version": org.version,
    }


def account(acc: Account) -> dict[str, Any]:
    return {
        "account_id": str(acc.id),
        "organisation_id": str(acc.organisation_id),
        "name": acc.name,
        "email": acc.email,
        "username": acc.username,
        "user_type": acc.user_type,
        "datacenter": acc.datacenter,
        "version": acc.version,
    }


def purchase(p: Purchase) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "purchase_id": str(p.id),
        "status": p.status,
        "plan": p.plan,
        "price": p.price.as_dict(),
        "email": p.email,
        "datacenter": p.datacenter,
        "recommended_datacenter": p.recommended_datacenter,
        "declined_attempts": p.declined_attempts,
        "version": p.version,
    }
    if p.account_id is not None:
        shown["account_id"] = str(p.account_id)
    if p.organisation_id is not None:
        shown["organisation_id"] = str(p.organisation_id)
    if p.status == COMPLETED:
        shown["subscription_id"] = str(p.subscription_id)
        shown["brand_id"] = p.brand_id
    return shown


def subscription(s: Subscription) -> dict[str, Any]:
    return {
        "subscription_id": str(s.id),
        "organisation_id": str(s.organisation_id),
        "plan": s.plan,
        "status": s.status,
        "auto_renew": s.auto_renew,
        "term": {"number": s.term, "start": instant(s.term_start), "end": instant(s.term_end)},
        "price": s.price.as_dict(),
        "renewal_price": s.renewal_price.as_dict(),
        "card": s.card.shown() if s.card else None,
        "caps": dict(s.caps),
        "usage": dict(s.usage),
        "cap_reached": s.cap_reached,
        "next_retry_at": instant(s.next_retry_at) if s.next_retry_at else None,
        "expired_at": instant(s.expired_at) if s.expired_at else None,
        "version": s.version,
    }


def payments(s: Subscription) -> list[dict[str, Any]]:
    return [
        {
            "payment_id": p["payment_id"],
            "term_number": p["term_number"],
            "attempt": p["attempt"],
            "amount": p["amount"],
            "status": p["status"],
            "attempted_at": instant(datetime.fromisoformat(p["attempted_at"])),
            "card_last4": p["card_last4"],
        }
        for p in s.payments
    ]


def licence_request(r: LicenceRequest) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "licence_request_id": str(r.id),
        "subscription_id": str(r.subscription_id),
        "organisation_id": str(r.organisation_id),
        "status": r.status,
        "name": r.name,
        "email": r.email,
        "cc": list(r.cc),
        "username": r.username,
        "kind": r.kind,
        "description": r.description,
        "routed_to": r.routed_to,
        "version": r.version,
    }
    if r.resolution is not None:
        resolution = dict(r.resolution)
        if resolution.get("price") is not None:
            resolution["price"] = resolution["price"].as_dict()
        shown["resolution"] = resolution
    return shown


# --- enterprise contracts and renewals ------------------------------------------------------


def contact(c: Contact, last_updated: datetime | None = None, *, dated: bool = True) -> dict[str, Any]:
    shown = c.as_dict()
    if dated:
        shown["last_updated"] = instant(last_updated) if last_updated else None
    return shown


def _term(term: dict[str, Any]) -> dict[str, Any]:
    return {
        "term_number": term["term_number"],
        "start_date": term["start_date"].isoformat(),
        "end_date": term["end_date"].isoformat(),
        "term_months": term["term_months"],
        "licences": list(term["licences"]),
        "price": term["price"].as_dict(),
        "renewal_id": str(term["renewal_id"]) if term["renewal_id"] else None,
    }


def contract(c: Contract) -> dict[str, Any]:
    """The contract as its current term shows it, with the history of every term."""
    return {
        "contract_id": str(c.id),
        "organisation_id": str(c.organisation_id),
        "number": c.number,
        "status": c.status,
        "term_number": c.term_number,
        "start_date": c.start_date.isoformat(),
        "end_date": c.end_date.isoformat(),
        "term_months": c.term_months,
        "licences": c.licences,
        "notice_days": c.notice_days,
        "price": c.price.as_dict(),
        "primary_contact": contact(c.primary_contact, c.last_updated(PRIMARY)),
        "billing_contact": contact(c.billing_contact, c.last_updated(BILLING)),
        "original_start_date": c.original_start_date.isoformat(),
        "ended_on": c.ended_on.isoformat() if c.ended_on else None,
        "terms": [_term(term) for term in c.terms],
        "version": c.version,
    }


def _quote(quote: dict[str, Any]) -> dict[str, Any]:
    return {
        "quote_id": str(quote["quote_id"]),
        "licences": list(quote["licences"]),
        "term_months": quote["term_months"],
        "price": quote["price"].as_dict(),
        "issued_at": instant(quote["issued_at"]),
    }


def invoice(inv: dict[str, Any]) -> dict[str, Any]:
    return {
        "invoice_id": str(inv["invoice_id"]),
        "amount": inv["amount"].as_dict(),
        "issued_on": inv["issued_on"].isoformat(),
        "due_on": inv["due_on"].isoformat(),
        "recipient": contact(inv["recipient"], dated=False),
        "term_number": inv["term_number"],
        "licences": list(inv["licences"]),
        "term_months": inv["term_months"],
    }


def renewal(r: Renewal, now: datetime) -> dict[str, Any]:
    """``overdue`` is as of ``now``: not contacted after ``contact_by``, or undecided
    after the end date."""
    shown: dict[str, Any] = {
        "renewal_id": str(r.id),
        "contract_id": str(r.contract_id),
        "organisation_id": str(r.organisation_id),
        "contract_number": r.contract_number,
        "term_number": r.term_number,
        "stage": r.stage,
        "owner_role": r.owner_role,
        "changes": [dict(item) for item in r.changes],
        "end_date": r.end_date.isoformat(),
        "opens_on": r.opens_on.isoformat(),
        "contact_by": r.contact_by.isoformat(),
        "notice_deadline": r.notice_deadline.isoformat(),
        "overdue": r.is_overdue(now),
        "escalated": r.escalated,
        "quotes": [_quote(q) for q in r.quotes],
        "version": r.version,
    }
    if r.confirmed_quote_id is not None:
        shown["confirmed_quote_id"] = str(r.confirmed_quote_id)
    if r.invoice is not None:
        shown["invoice"] = invoice(r.invoice)
    if r.opt_out_reason is not None:
        shown["opt_out_reason"] = r.opt_out_reason
    return shown
