"""How each resource is shown: the same shape for its GET and for command answers."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from lifecycle.account import Account
from lifecycle.licence_request import LicenceRequest
from lifecycle.organisation import Organisation
from lifecycle.purchase import COMPLETED, Purchase
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
