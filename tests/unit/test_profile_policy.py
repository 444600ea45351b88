"""The read-side policy of the profile (R51-R56): one pure function per section."""

from __future__ import annotations

from typing import Any

from projections import profile_policy as policy

TEAM = {
    "success_manager": None,
    "account_executive": {"name": "Ava", "email": "ava@xm.example"},
    "intake_form_url": "https://xm.example/intake",
    "brand_admin_contact": {"name": "Bea", "email": "bea@customer.example"},
}


def account(user_type: str = "standard", **fields: Any) -> dict[str, Any]:
    doc = {
        "account_id": "a1", "organisation_id": "o1", "name": "Ada", "email": "Ada@Example.com",
        "username": "ada", "user_type": user_type, "datacenter": "us",
        "email_preferences": dict.fromkeys(
            ["personalised_learning", "news_and_updates", "customer_events", "operational_updates"], True
        ),
        "community": None, "certifications": [],
    }
    doc.update(fields)
    return doc


def organisation(licence: str = "enterprise", fedramp: bool = False) -> dict[str, Any]:
    return {"organisation_id": "o1", "licence": licence, "fedramp": fedramp, "account_team": TEAM}


def contract(primary: dict[str, Any] | None = None, billing: dict[str, Any] | None = None) -> dict[str, Any]:
    blank = {"email": "x@example.com", "account_id": None}
    return {"organisation_id": "o1", "primary_contact": primary or blank, "billing_contact": billing or blank}


def test_a_brand_admin_without_success_manager_sees_the_executive_and_the_intake_form() -> None:
    assert policy.account_team(account("brand_admin"), organisation()) == {
        "account_executive": TEAM["account_executive"],
        "intake_form_url": TEAM["intake_form_url"],
    }


def test_a_fedramp_standard_user_sees_no_brand_admin_contact() -> None:
    assert policy.account_team(account(), organisation(fedramp=True)) == {}


def test_operational_updates_are_shown_to_brand_admins_only() -> None:
    assert "operational_updates" in policy.email_preferences(account("brand_admin"), organisation())  # type: ignore[operator]
    assert "operational_updates" not in policy.email_preferences(account(), organisation())  # type: ignore[operator]


def test_a_contact_matches_by_email_ignoring_case() -> None:
    assert policy.may_see_contract(account(), organisation(), contract(billing={"email": "ada@example.com"}))


def test_a_contact_matches_by_account_id() -> None:
    assert policy.may_see_contract(account(), organisation(), contract(primary={"email": "z@z.z", "account_id": "a1"}))


def test_a_contract_of_another_organisation_is_never_visible() -> None:
    other = {**contract(), "organisation_id": "o2"}
    assert not policy.may_see_contract(account("brand_admin"), organisation(), other)


def test_free_and_trial_profiles_have_only_account_information_and_connected_accounts() -> None:
    for licence in ("free", "trial"):
        shown = policy.profile(account("brand_admin"), organisation(licence), {"x": 1}, [contract()])
        assert set(shown) == {"account_id", "account", "account_team", "account_deletion", "connected_accounts"}
