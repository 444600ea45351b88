"""Accounts and organisations over HTTP (R1-R3): opening, adding users, changing details
and who may change them."""

from __future__ import annotations

import uuid


def test_opening_a_free_account_makes_its_user_brand_admin_of_a_new_organisation(hub):
    response = hub.post(
        "/v1/accounts", {"email": "ada@example.com", "name": "Ada", "username": "ada", "kind": "free"}
    )

    opened = hub.ok(response, 201)
    assert opened["user_type"] == "brand_admin"
    assert opened["position"] == hub.head()
    organisation = hub.organisation(opened["organisation_id"])
    assert organisation["organisation_id"] == opened["organisation_id"]
    assert organisation["brand_id"] == opened["brand_id"]
    assert organisation["licence"] == "free"
    assert organisation["subscription_id"] is None
    assert organisation["contract_ids"] == []
    account = hub.account(opened["account_id"])
    assert account["organisation_id"] == opened["organisation_id"]
    assert (account["email"], account["name"], account["username"]) == ("ada@example.com", "Ada", "ada")
    assert account["user_type"] == "brand_admin"


def test_opening_a_trial_account_gives_the_organisation_a_trial_licence(hub):
    opened = hub.open_account("trial", trial_days=14)

    assert hub.organisation(opened["organisation_id"])["licence"] == "trial"


def test_each_account_opened_gets_its_own_organisation_and_brand(hub):
    first = hub.open_account()
    second = hub.open_account()

    assert first["organisation_id"] != second["organisation_id"]
    assert first["brand_id"] != second["brand_id"]


def test_an_organisation_is_in_the_datacenter_and_fedramp_state_it_was_opened_with(hub):
    chosen = hub.organisation(hub.open_account(datacenter="eu-1", fedramp=True)["organisation_id"])
    default = hub.organisation(hub.open_account()["organisation_id"])
    recommended_without_ip = hub.start_new_buyer()["recommended_datacenter"]

    assert (chosen["datacenter"], chosen["fedramp"]) == ("eu-1", True)
    assert (default["datacenter"], default["fedramp"]) == (recommended_without_ip, False)


def test_an_account_of_another_kind_or_in_an_unknown_datacenter_is_422_and_records_nothing(hub):
    head = hub.head()
    bodies = [
        {"email": "x@example.com", "name": "X", "username": "x", "kind": "enterprise"},
        {"email": "x@example.com", "name": "X", "username": "x", "kind": "self_service"},
        {"email": "x@example.com", "name": "X", "username": "x", "kind": "free", "datacenter": "mars-1"},
    ]

    for body in bodies:
        hub.problem(hub.post("/v1/accounts", body), 422, "invalid-request")
    assert hub.head() == head


def test_adding_a_user_creates_an_account_in_that_organisation(hub):
    opened = hub.open_account()

    added = hub.add_user(opened["organisation_id"], "standard")

    assert added["user_type"] == "standard"
    assert added["position"] == hub.head()
    account = hub.account(added["account_id"])
    assert account["organisation_id"] == opened["organisation_id"]
    assert account["email"] == added["email"]


def test_a_brand_admin_may_add_users_to_their_organisation(hub):
    opened = hub.open_account()

    added = hub.add_user(opened["organisation_id"], "brand_admin", actor=opened["account_id"])

    assert hub.account(added["account_id"])["user_type"] == "brand_admin"


def test_a_standard_user_adding_a_user_is_403_not_brand_admin(hub):
    opened = hub.open_account()
    member = hub.add_user(opened["organisation_id"], "standard")
    head = hub.head()

    response = hub.post(
        f"/v1/organisations/{opened['organisation_id']}/users",
        {"email": "n@example.com", "name": "N", "username": "n", "user_type": "standard"},
        actor=member["account_id"],
    )

    hub.problem(response, 403, "not-brand-admin")
    assert hub.head() == head


def test_adding_a_user_to_another_organisation_is_403_not_your_organisation(hub):
    mine = hub.open_account()
    theirs = hub.open_account()
    head = hub.head()

    response = hub.post(
        f"/v1/organisations/{theirs['organisation_id']}/users",
        {"email": "n@example.com", "name": "N", "username": "n", "user_type": "standard"},
        actor=mine["account_id"],
    )

    hub.problem(response, 403, "not-your-organisation")
    assert hub.head() == head


def test_user_details_that_break_the_schema_are_422_invalid_request_naming_the_field(hub):
    opened = hub.open_account()
    head = hub.head()

    added = hub.post(
        f"/v1/organisations/{opened['organisation_id']}/users",
        {"email": "n@example.com", "name": "N", "username": "n", "user_type": "owner"},
    )
    changed = hub.patch(f"/v1/accounts/{opened['account_id']}", {"email": "no-at-sign"})

    added_problem = hub.problem(added, 422, "invalid-request")
    changed_problem = hub.problem(changed, 422, "invalid-request")
    assert ["body", "user_type"] in [e["loc"] for e in added_problem["errors"]]
    assert ["body", "email"] in [e["loc"] for e in changed_problem["errors"]]
    assert hub.head() == head


# --- changing details (R3) -------------------------------------------------------------------


def test_the_calling_service_may_change_any_detail(hub):
    opened = hub.open_account()
    member = hub.add_user(opened["organisation_id"])
    changes = {"name": "Bo Changed", "email": "bo.changed@example.com", "username": "bochanged", "user_type": "brand_admin"}

    response = hub.patch(f"/v1/accounts/{member['account_id']}", changes)

    changed = hub.ok(response)
    assert {k: changed[k] for k in changes} == changes
    assert changed["position"] == hub.head()
    assert {k: hub.account(member["account_id"])[k] for k in changes} == changes


def test_a_brand_admin_changes_the_details_of_a_user_of_their_organisation(hub):
    opened = hub.open_account()
    member = hub.add_user(opened["organisation_id"])

    response = hub.patch(
        f"/v1/accounts/{member['account_id']}",
        {"email": "new.address@example.com", "user_type": "brand_admin"},
        actor=opened["account_id"],
    )

    changed = hub.ok(response)
    assert changed["email"] == "new.address@example.com"
    assert changed["user_type"] == "brand_admin"


def test_a_brand_admin_changes_their_own_name(hub):
    opened = hub.open_account()

    response = hub.patch(
        f"/v1/accounts/{opened['account_id']}", {"name": "Ada Renamed"}, actor=opened["account_id"]
    )

    assert hub.ok(response)["name"] == "Ada Renamed"


def test_a_standard_user_changing_another_users_details_is_403_not_brand_admin(hub):
    opened = hub.open_account()
    member = hub.add_user(opened["organisation_id"])
    head = hub.head()

    response = hub.patch(
        f"/v1/accounts/{opened['account_id']}", {"name": "Hijacked"}, actor=member["account_id"]
    )

    hub.problem(response, 403, "not-brand-admin")
    assert hub.head() == head
    assert hub.account(opened["account_id"])["name"] != "Hijacked"


def test_a_standard_user_changing_their_own_details_is_403_not_brand_admin(hub):
    opened = hub.open_account()
    member = hub.add_user(opened["organisation_id"])
    head = hub.head()

    for changes in ({"name": "Me"}, {"email": "me@example.com"}, {"username": "me"}, {"user_type": "brand_admin"}):
        response = hub.patch(f"/v1/accounts/{member['account_id']}", changes, actor=member["account_id"])

        hub.problem(response, 403, "not-brand-admin")
    assert hub.head() == head
    assert hub.account(member["account_id"])["user_type"] == "standard"


def test_nobody_changes_their_own_user_type_403_own_user_type(hub):
    opened = hub.open_account()
    head = hub.head()

    response = hub.patch(
        f"/v1/accounts/{opened['account_id']}", {"user_type": "standard"}, actor=opened["account_id"]
    )

    hub.problem(response, 403, "own-user-type")
    assert hub.head() == head
    assert hub.account(opened["account_id"])["user_type"] == "brand_admin"


def test_a_brand_admin_of_another_organisation_changing_details_is_403_and_changes_nothing(hub):
    theirs = hub.open_account()
    outsider = hub.open_account()
    head = hub.head()

    response = hub.patch(
        f"/v1/accounts/{theirs['account_id']}", {"name": "Outsider Was Here"}, actor=outsider["account_id"]
    )

    assert response.status_code == 403, response.text
    assert response.json()["type"] in ("/problems/not-your-organisation", "/problems/not-brand-admin")
    assert hub.head() == head
    assert hub.account(theirs["account_id"])["name"] != "Outsider Was Here"


def test_unknown_accounts_and_organisations_are_404_not_found(hub):
    opened = hub.open_account()
    member = {"email": "n@example.com", "name": "N", "username": "n", "user_type": "standard"}
    missing = [str(uuid.uuid4()), "not-an-id"]

    for unknown in missing:
        hub.problem(hub.get(f"/v1/organisations/{unknown}"), 404, "not-found")
        hub.problem(hub.get(f"/v1/organisations/{unknown}/subscriptions"), 404, "not-found")
        hub.problem(hub.get(f"/v1/accounts/{unknown}"), 404, "not-found")
        hub.problem(hub.patch(f"/v1/accounts/{unknown}", {"name": "Nobody"}), 404, "not-found")
        hub.problem(hub.post(f"/v1/organisations/{unknown}/users", member), 404, "not-found")
    hub.problem(hub.get(f"/v1/organisations/{opened['account_id']}"), 404, "not-found")
    hub.problem(hub.get(f"/v1/accounts/{opened['organisation_id']}"), 404, "not-found")


def test_a_free_organisation_lists_no_subscriptions(hub):
    opened = hub.open_account()

    response = hub.get(f"/v1/organisations/{opened['organisation_id']}/subscriptions")

    assert response.status_code == 200
    assert response.json() == []
