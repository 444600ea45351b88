"""Who sees which part of the hub's profile (R51-R56): read-side policy, applied when
a profile is read, to rows that hold everything. Each section is one small pure
function of the viewer (their account and organisation documents); ``None`` means the
section is absent for that viewer.
"""

from __future__ import annotations

from typing import Any

from uuid import UUID

from lifecycle.account import BRAND_ADMIN, OPERATIONAL_UPDATES, PREFERENCE_CATEGORIES
from lifecycle.errors import NotPermitted
from lifecycle.organisation import FREE, TRIAL

Doc = dict[str, Any]


class NotYourProfile(NotPermitted):
    slug = "not-your-profile"


def check_viewer(profile_account_id: UUID, actor_id: UUID | None) -> None:
    """The viewer of a profile is its account: a calling service acting for another
    user (even a brand admin of the same organisation) may not read it. A service
    acting on its own authority may."""
    if actor_id is not None and actor_id != profile_account_id:
        raise NotYourProfile(
            f"user {actor_id} may not read the profile of account {profile_account_id}"
        )


def is_brand_admin(account: Doc) -> bool:
    return account["user_type"] == BRAND_ADMIN


def is_free_or_trial(organisation: Doc) -> bool:
    """R56: free and trial users see account information and connected accounts only."""
    return organisation["licence"] in (FREE, TRIAL)


def account_information(account: Doc) -> Doc:
    """R50."""
    return {
        key: account[key]
        for key in ("name", "email", "username", "organisation_id", "user_type", "datacenter")
    }


def account_team(account: Doc, organisation: Doc) -> Doc:
    """R51: brand admins see the XM Success Manager and the Account Executive, or the
    Account Executive and the intake form when there is no success manager; standard
    users see the brand-admin contact, except under FedRAMP."""
    team = organisation.get("account_team") or {}
    if is_brand_admin(account):
        shown: Doc = {"account_executive": team.get("account_executive")}
        if team.get("success_manager"):
            shown["success_manager"] = team["success_manager"]
        else:
            shown["intake_form_url"] = team.get("intake_form_url")
        return shown
    if organisation["fedramp"]:
        return {}
    return {"brand_admin": team.get("brand_admin_contact")}


def account_deletion(account: Doc, organisation: Doc) -> Doc:
    """R50: how this kind of account is deleted."""
    if is_free_or_trial(organisation):
        return {
            "method": "self_service",
            "instructions": "Delete your account and its data from your profile settings;"
            " this cannot be undone.",
        }
    if is_brand_admin(account):
        return {
            "method": "account_team",
            "instructions": "A brand admin account is deleted by your Account Executive or"
            " account services; another brand admin must remain in the organisation.",
        }
    return {
        "method": "brand_admin",
        "instructions": "Ask a brand admin of your organisation to delete your account.",
    }


def email_preferences(account: Doc, organisation: Doc) -> Doc | None:
    """R52, R56: four categories; operational updates for brand admins only."""
    if is_free_or_trial(organisation):
        return None
    shown = {
        category: bool(account["email_preferences"].get(category, True))
        for category in PREFERENCE_CATEGORIES
        if category != OPERATIONAL_UPDATES
    }
    if is_brand_admin(account):
        shown[OPERATIONAL_UPDATES] = True
    return shown


def billing_details(account: Doc, organisation: Doc, billing: Doc | None) -> Doc | None:
    """R53, R56: brand admins only; ``{}`` when the organisation has no subscription."""
    if is_free_or_trial(organisation) or not is_brand_admin(account):
        return None
    if billing is None:
        return {}
    return {
        "subscription_id": billing["subscription_id"],
        "billing_address": billing["billing_address"],
        "card": billing["card"],
    }


def may_see_contract(account: Doc, organisation: Doc, contract: Doc) -> bool:
    """R54: brand admins, and the contract's primary or billing contact (by account id,
    or by email)."""
    if is_free_or_trial(organisation) or contract["organisation_id"] != account["organisation_id"]:
        return False
    if is_brand_admin(account):
        return True
    email = account["email"].strip().lower()
    for role in ("primary_contact", "billing_contact"):
        contact = contract[role]
        if contact.get("account_id") == account["account_id"]:
            return True
        if contact.get("email", "").strip().lower() == email:
            return True
    return False


def visible_contracts(account: Doc, organisation: Doc, contracts: list[Doc]) -> list[Doc]:
    return [c for c in contracts if may_see_contract(account, organisation, c)]


def contracts_section(account: Doc, organisation: Doc, contracts: list[Doc]) -> list[Doc] | None:
    """Absent for free and trial users, and for users who are no contract's contact."""
    if is_free_or_trial(organisation):
        return None
    visible = visible_contracts(account, organisation, contracts)
    if not visible and not is_brand_admin(account):
        return None
    return [contract_summary(c) for c in visible]


def contract_summary(contract: Doc) -> Doc:
    return {
        key: contract[key]
        for key in ("contract_id", "number", "start_date", "end_date", "licences", "term_months")
    }


def connected_accounts(account: Doc, organisation: Doc) -> Doc | None:
    """R55: the community account and training certifications; not under FedRAMP."""
    if organisation["fedramp"]:
        return None
    return {
        "community": account.get("community"),
        "certifications": list(account.get("certifications") or []),
    }


def profile(account: Doc, organisation: Doc, billing: Doc | None, contracts: list[Doc]) -> Doc:
    """The whole profile as this viewer sees it; sections they may not see are absent."""
    shown: Doc = {
        "account_id": account["account_id"],
        "account": account_information(account),
        "account_team": account_team(account, organisation),
        "account_deletion": account_deletion(account, organisation),
    }
    optional = {
        "email_preferences": email_preferences(account, organisation),
        "billing_details": billing_details(account, organisation, billing),
        "contracts": contracts_section(account, organisation, contracts),
        "connected_accounts": connected_accounts(account, organisation),
    }
    shown.update({key: value for key, value in optional.items() if value is not None})
    return shown
