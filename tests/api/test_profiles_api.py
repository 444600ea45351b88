"""The hub's profile over HTTP (R50-R56), on SQLite and PostgreSQL: which sections each
kind of viewer sees, email preferences from the profile and from an email's
manage-subscriptions link, and the contract views."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from uuid import UUID

import pytest

if TYPE_CHECKING:
    from conftest import Hub

_numbers = itertools.count(7001)

SUCCESS_MANAGER = {"name": "Sam Success", "email": "sam@xm.example"}
EXECUTIVE = {"name": "Ava Exec", "email": "ava@xm.example"}
BRAND_CONTACT = {"name": "Bea Brand", "email": "bea@customer.example"}
INTAKE = "https://xm.example/intake"
OWNER = {"first_name": "Olive", "last_name": "Owner", "email": "olive@customer.example"}
BILLER = {"first_name": "Bill", "last_name": "Payer", "email": "bill@customer.example"}
ALL_SECTIONS = {
    "account_id", "account", "account_team", "account_deletion", "email_preferences",
    "billing_details", "contracts", "connected_accounts",
}
FREE_SECTIONS = {"account_id", "account", "account_team", "account_deletion", "connected_accounts"}


def profile(hub: Hub, account_id: str, path: str = "") -> Any:
    response = hub.get(f"/v1/profiles/{account_id}{path}", params={"min_position": hub.head()})
    assert response.status_code == 200, response.text
    return response.json()


def contract(hub: Hub, organisation_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "organisation_id": organisation_id,
        "number": next(_numbers),
        "start_date": "2027-01-01",
        "term_months": 12,
        "licences": ["cx", "ex"],
        "notice_days": 90,
        "price": {"amount": "12000.00", "currency": "USD"},
        "primary_contact": dict(OWNER),
        "billing_contact": dict(BILLER),
    }
    body.update(overrides)
    return hub.ok(hub.post("/v1/contracts", body), 201)


def team(hub: Hub, organisation_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success_manager": SUCCESS_MANAGER,
        "account_executive": EXECUTIVE,
        "brand_admin_contact": BRAND_CONTACT,
    }
    body.update(overrides)
    return hub.ok(hub.put(f"/v1/organisations/{organisation_id}/account-team", body))


def paid_organisation(hub: Hub) -> dict[str, Any]:
    """A self-service organisation: its brand admin and a standard user."""
    opened = hub.open_account()
    hub.upgrade(opened["account_id"])
    user = hub.add_user(opened["organisation_id"])
    return {"admin": opened["account_id"], "user": user["account_id"], **opened}


def enterprise_organisation(hub: Hub, **fields: Any) -> dict[str, Any]:
    opened = hub.open_account(**fields)
    user = hub.add_user(opened["organisation_id"])
    return {"admin": opened["account_id"], "user": user["account_id"], "user_email": user["email"], **opened}


# --- R50, R56: sections by licence ----------------------------------------------------------


def test_a_paid_brand_admin_sees_every_section(hub: Hub) -> None:
    org = paid_organisation(hub)
    shown = profile(hub, org["admin"])
    assert set(shown) == ALL_SECTIONS
    assert shown["account"] == {
        "name": "Ada Admin",
        "email": org["email"],
        "username": org["email"].split("@")[0],
        "organisation_id": org["organisation_id"],
        "user_type": "brand_admin",
        "datacenter": shown["account"]["datacenter"],
    }
    assert shown["account_deletion"]["method"] == "account_team"


def test_a_free_users_profile_shows_only_account_information_and_connected_accounts(hub: Hub) -> None:
    opened = hub.open_account("free")
    assert set(profile(hub, opened["account_id"])) == FREE_SECTIONS


def test_a_trial_users_profile_shows_only_account_information_and_connected_accounts(hub: Hub) -> None:
    opened = hub.open_account("trial")
    shown = profile(hub, opened["account_id"])
    assert set(shown) == FREE_SECTIONS
    assert shown["account_deletion"]["method"] == "self_service"


def test_an_unknown_profile_is_404(hub: Hub) -> None:
    response = hub.get("/v1/profiles/00000000-0000-0000-0000-000000000001")
    hub.problem(response, 404, "not-found")


# --- R51: the account team by viewer ---------------------------------------------------------


def test_a_brand_admin_sees_the_success_manager_and_the_account_executive(hub: Hub) -> None:
    org = paid_organisation(hub)
    team(hub, org["organisation_id"])
    assert profile(hub, org["admin"])["account_team"] == {
        "success_manager": SUCCESS_MANAGER,
        "account_executive": EXECUTIVE,
    }


def test_a_brand_admin_without_a_success_manager_sees_the_intake_form(hub: Hub) -> None:
    org = paid_organisation(hub)
    team(hub, org["organisation_id"], success_manager=None, intake_form_url=INTAKE)
    assert profile(hub, org["admin"])["account_team"] == {
        "account_executive": EXECUTIVE,
        "intake_form_url": INTAKE,
    }


def test_a_standard_user_sees_the_brand_admin_contact(hub: Hub) -> None:
    org = paid_organisation(hub)
    team(hub, org["organisation_id"])
    shown = profile(hub, org["user"])
    assert shown["account_team"] == {"brand_admin": BRAND_CONTACT}
    assert shown["account_deletion"]["method"] == "brand_admin"


def test_a_fedramp_standard_user_does_not_see_the_brand_admin_contact(hub: Hub) -> None:
    org = enterprise_organisation(hub, fedramp=True)
    contract(hub, org["organisation_id"])
    team(hub, org["organisation_id"])
    assert profile(hub, org["user"])["account_team"] == {}


def test_an_account_team_without_success_manager_or_intake_form_is_refused(hub: Hub) -> None:
    org = paid_organisation(hub)
    response = hub.put(
        f"/v1/organisations/{org['organisation_id']}/account-team",
        {"success_manager": None, "account_executive": EXECUTIVE},
    )
    hub.problem(response, 422, "invalid-request")


def test_licence_requests_go_to_the_account_executive_once_there_is_one(hub: Hub) -> None:
    opened = hub.open_account()
    done = hub.upgrade(opened["account_id"])
    team(hub, opened["organisation_id"])
    body = {
        "name": "Ada", "email": opened["email"], "cc": [], "username": "ada",
        "kind": "add_seats", "description": "ten more seats",
    }
    response = hub.post(f"/v1/subscriptions/{done['subscription_id']}/licence-requests", body)
    assert response.status_code == 201, response.text
    request = hub.ok(hub.get(f"/v1/licence-requests/{response.json()['licence_request_id']}"))
    assert request["routed_to"] == EXECUTIVE["email"]


# --- R52: email preferences -----------------------------------------------------------------


def test_a_brand_admin_sees_four_email_categories_and_a_standard_user_three(hub: Hub) -> None:
    org = paid_organisation(hub)
    assert profile(hub, org["admin"])["email_preferences"] == {
        "personalised_learning": True,
        "news_and_updates": True,
        "customer_events": True,
        "operational_updates": True,
    }
    assert profile(hub, org["user"])["email_preferences"] == {
        "personalised_learning": True,
        "news_and_updates": True,
        "customer_events": True,
    }


def test_a_change_through_the_profile_shows_in_the_profile(hub: Hub) -> None:
    org = paid_organisation(hub)
    body = {"personalised_learning": False, "news_and_updates": True, "customer_events": False}
    hub.ok(hub.put(f"/v1/accounts/{org['user']}/email-preferences", body))
    assert profile(hub, org["user"])["email_preferences"] == body


def test_a_brand_admin_cannot_unsubscribe_from_operational_updates(hub: Hub) -> None:
    org = paid_organisation(hub)
    body = {
        "personalised_learning": True, "news_and_updates": True,
        "customer_events": True, "operational_updates": False,
    }
    response = hub.put(f"/v1/accounts/{org['admin']}/email-preferences", body)
    hub.problem(response, 422, "operational-updates-required")


def test_a_change_through_an_emails_link_shows_in_the_profile(hub: Hub) -> None:
    opened = hub.open_account()
    hub.upgrade(opened["account_id"])
    tokens = [
        m["data"]["preferences_token"]
        for m in hub.notifications(recipient=opened["email"])
        if "preferences_token" in m["data"]
    ]
    assert tokens
    link = f"/v1/email-preferences/{tokens[-1]}"
    assert hub.ok(hub.get(link, token=None))["email_preferences"]["news_and_updates"] is True
    body = {"personalised_learning": True, "news_and_updates": False, "customer_events": True}
    hub.ok(hub.put(link, body, token=None))
    assert profile(hub, opened["account_id"])["email_preferences"] == {
        **body,
        "operational_updates": True,
    }


def test_a_tampered_link_is_401_invalid_link(hub: Hub) -> None:
    response = hub.get("/v1/email-preferences/eyJhIjoiMSJ9.bad-signature", token=None)
    hub.problem(response, 401, "invalid-link")


@pytest.mark.parametrize(
    "token", ["a.%C3%A9", "%C3%A9.abc", "a.%ED%A0%80", "%F0%9F%92%A5.%F0%9F%92%A5", "a.", ".a"]
)
def test_a_link_with_characters_no_signature_holds_is_401_invalid_link(
    hub: Hub, token: str
) -> None:
    body = {"personalised_learning": True, "news_and_updates": True, "customer_events": True}

    read = hub.get(f"/v1/email-preferences/{token}", token=None)
    changed = hub.put(f"/v1/email-preferences/{token}", body, token=None)

    hub.problem(read, 401, "invalid-link")
    hub.problem(changed, 401, "invalid-link")


def test_an_expired_link_is_401_invalid_link(hub: Hub) -> None:
    opened = hub.open_account()
    token = hub.container.services.links.issue(
        UUID(opened["account_id"]), hub.now() - timedelta(days=31)
    )
    body = {"personalised_learning": False, "news_and_updates": False, "customer_events": False}
    hub.problem(hub.put(f"/v1/email-preferences/{token}", body, token=None), 401, "invalid-link")


# --- R53: billing details ---------------------------------------------------------------


def test_only_brand_admins_see_billing_details(hub: Hub) -> None:
    org = paid_organisation(hub)
    billing = profile(hub, org["admin"])["billing_details"]
    assert billing["billing_address"]["city"] == "San Francisco"
    assert billing["card"]["last4"]
    assert "billing_details" not in profile(hub, org["user"])


def test_a_standard_user_cannot_read_the_brand_admins_profile(hub: Hub) -> None:
    org = paid_organisation(hub)
    head = {"min_position": hub.head()}

    for path in ("", "/contracts"):
        refused = hub.get(f"/v1/profiles/{org['admin']}{path}", actor=org["user"], params=head)

        body = hub.problem(refused, 403, "not-your-profile")
        assert "billing" not in refused.text and "San Francisco" not in refused.text, body


def test_a_user_reads_their_own_profile_when_named_as_the_actor(hub: Hub) -> None:
    org = paid_organisation(hub)

    own = hub.get(f"/v1/profiles/{org['admin']}", actor=org["admin"], params={"min_position": hub.head()})

    assert hub.ok(own)["billing_details"]["billing_address"]["city"] == "San Francisco"


# --- R54: contracts ---------------------------------------------------------------------


def test_a_brand_admin_sees_every_contract_of_the_organisation(hub: Hub) -> None:
    org = enterprise_organisation(hub)
    first = contract(hub, org["organisation_id"])
    second = contract(hub, org["organisation_id"], start_date="2027-02-01")
    shown = profile(hub, org["admin"])["contracts"]
    assert [c["contract_id"] for c in shown] == [first["contract_id"], second["contract_id"]]
    assert shown[0] == {
        "contract_id": first["contract_id"], "number": first["number"],
        "start_date": "2027-01-01", "end_date": "2027-12-31",
        "licences": ["cx", "ex"], "term_months": 12,
    }


def test_a_contact_by_account_id_sees_only_their_contract(hub: Hub) -> None:
    org = enterprise_organisation(hub)
    mine = contract(hub, org["organisation_id"], primary_contact={**OWNER, "account_id": org["user"]})
    contract(hub, org["organisation_id"])
    listed = profile(hub, org["user"], "/contracts")
    assert [c["contract_id"] for c in listed] == [mine["contract_id"]]
    assert [c["contract_id"] for c in profile(hub, org["user"])["contracts"]] == [mine["contract_id"]]


def test_a_billing_contact_by_email_sees_the_contract(hub: Hub) -> None:
    org = enterprise_organisation(hub)
    mine = contract(hub, org["organisation_id"], billing_contact={**BILLER, "email": org["user_email"]})
    shown = profile(hub, org["user"], f"/contracts/{mine['contract_id']}")
    assert shown["billing_contact"]["email"] == org["user_email"]
    assert shown["billing_contact"]["last_updated"] is None
    assert shown["primary_contact"]["first_name"] == "Olive"
    assert "renewal" in shown


def test_a_user_who_is_no_contact_sees_no_contracts_and_404_for_one(hub: Hub) -> None:
    org = enterprise_organisation(hub)
    other = contract(hub, org["organisation_id"])
    assert "contracts" not in profile(hub, org["user"])
    assert profile(hub, org["user"], "/contracts") == []
    response = hub.get(
        f"/v1/profiles/{org['user']}/contracts/{other['contract_id']}",
        params={"min_position": hub.head()},
    )
    hub.problem(response, 404, "not-found")


# --- R55: connected accounts ------------------------------------------------------------


def test_connected_accounts_show_the_community_account_and_certifications(hub: Hub) -> None:
    org = paid_organisation(hub)
    community = {"username": "ada_c", "rank": "Expert", "created_on": "2025-03-01", "topics": 12}
    hub.ok(hub.put(f"/v1/accounts/{org['user']}/community-account", community))
    certification = {
        "name": "CX Core", "status": "completed", "completed_on": "2026-10-01",
        "certificate_url": "https://learn.example/cert/1",
    }
    hub.ok(hub.post(f"/v1/accounts/{org['user']}/certifications", certification), 201)
    hub.ok(
        hub.post(f"/v1/accounts/{org['user']}/certifications", {"name": "EX Pro", "status": "in_progress"}),
        201,
    )
    shown = profile(hub, org["user"])["connected_accounts"]
    assert shown["community"] == community
    assert shown["certifications"] == [
        certification,
        {"name": "EX Pro", "status": "in_progress", "completed_on": None, "certificate_url": None},
    ]


def test_fedramp_users_do_not_see_connected_accounts(hub: Hub) -> None:
    org = enterprise_organisation(hub, fedramp=True)
    contract(hub, org["organisation_id"])
    assert "connected_accounts" not in profile(hub, org["admin"])
    assert "connected_accounts" not in profile(hub, org["user"])


# --- reads wait for their projection -------------------------------------------------------


def test_a_profile_read_beyond_the_head_is_503_projection_behind(
    make_container: Any, make_hub: Any
) -> None:
    hub = make_hub(make_container(read_wait_seconds=0.1))
    opened = hub.open_account()
    response = hub.get(
        f"/v1/profiles/{opened['account_id']}", params={"min_position": hub.head() + 100}
    )
    hub.problem(response, 503, "projection-behind")
    assert "Retry-After" in response.headers


# --- R62: operators' view of the projections ---------------------------------------------


def test_ops_lists_every_projection_and_rebuilds_one_with_202(hub: Hub) -> None:
    hub.open_account()
    shown = hub.get("/v1/ops/projections", token="ops")
    assert shown.status_code == 200, shown.text
    names = {row["name"] for row in shown.json()}
    assert {"profiles", "contracts", "notifications", "audit_chain", "due_work"} <= names
    started = hub.post("/v1/ops/projections/profiles/rebuild", token="ops")
    assert started.status_code == 202, started.text
    assert started.json()["name"] == "profiles"
    hub.container.rebuilder("profiles").join(30)
    rows = {row["name"]: row for row in hub.get("/v1/ops/projections", token="ops").json()}
    assert (rows["profiles"]["status"], rows["profiles"]["generation"]) == ("live", 2)


def test_rebuilding_an_unknown_projection_is_404(hub: Hub) -> None:
    hub.problem(hub.post("/v1/ops/projections/nonesuch/rebuild", token="ops"), 404, "not-found")
