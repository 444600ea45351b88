"""R3: name, email, username and user type are changed only by a brand admin of the
same organisation; nobody changes their own user type; no actor = the trusted service."""

from __future__ import annotations

import pytest
from given import account, at, brand_admin, change, names

from lifecycle.account import BRAND_ADMIN, STANDARD
from lifecycle.errors import NotBrandAdmin, NotYourOrganisation, OwnUserType, Rejected

WHEN = at(2025, 6, 1, 12)


def test_brand_admin_of_the_same_organisation_changes_a_members_name_email_and_username() -> None:
    member = account()
    admin = brand_admin(member.organisation_id)
    details = {"name": "Ada King", "email": "ada.king@example.com", "username": "aking"}

    member.change_details(details, admin, change(WHEN))

    [changed] = member.collect_events()
    assert names([changed]) == ["DetailsChanged"]
    assert changed.changes == details


def test_brand_admin_of_the_same_organisation_changes_a_members_user_type() -> None:
    member = account()
    admin = brand_admin(member.organisation_id)

    member.change_details({"user_type": BRAND_ADMIN}, admin, change(WHEN))

    [changed] = member.collect_events()
    assert changed.changes == {"user_type": BRAND_ADMIN}
    assert member.user_type == BRAND_ADMIN


def test_standard_member_may_not_change_another_members_name() -> None:
    member = account()
    colleague = account(member.organisation_id, name="Alan Turing")

    with pytest.raises(NotBrandAdmin):
        member.change_details({"name": "Ada King"}, colleague, change(WHEN))


def test_standard_member_may_not_change_their_own_email() -> None:
    member = account()

    with pytest.raises(NotBrandAdmin):
        member.change_details({"email": "me@example.com"}, member, change(WHEN))


def test_brand_admin_of_another_organisation_may_not_change_a_members_username() -> None:
    member = account()
    outsider = brand_admin()

    with pytest.raises(NotYourOrganisation):
        member.change_details({"username": "hijacked"}, outsider, change(WHEN))


def test_refused_detail_change_records_nothing_and_changes_nothing() -> None:
    member = account()
    outsider = brand_admin()

    with pytest.raises(NotYourOrganisation):
        member.change_details({"name": "Someone Else"}, outsider, change(WHEN))

    assert member.collect_events() == []
    assert member.name == "Ada Lovelace"


def test_brand_admin_may_not_change_their_own_user_type() -> None:
    admin = brand_admin()

    with pytest.raises(OwnUserType):
        admin.change_details({"user_type": STANDARD}, admin, change(WHEN))


def test_brand_admin_changes_their_own_name() -> None:
    admin = brand_admin()

    admin.change_details({"name": "Rear Admiral Hopper"}, admin, change(WHEN))

    [changed] = admin.collect_events()
    assert changed.changes == {"name": "Rear Admiral Hopper"}


def test_trusted_service_without_an_actor_changes_a_members_user_type() -> None:
    member = account()

    member.change_details({"user_type": BRAND_ADMIN}, None, change(WHEN))

    assert names(member.collect_events()) == ["DetailsChanged"]
    assert member.user_type == BRAND_ADMIN


def test_unknown_user_type_is_rejected() -> None:
    member = account()

    with pytest.raises(Rejected):
        member.change_details({"user_type": "superuser"}, None, change(WHEN))


def test_fields_other_than_name_email_username_and_user_type_are_rejected() -> None:
    member = account()

    with pytest.raises(Rejected):
        member.change_details({"organisation_id": "elsewhere"}, None, change(WHEN))


def test_changing_details_to_their_current_values_records_nothing() -> None:
    member = account()

    member.change_details({"name": member.name, "email": member.email}, None, change(WHEN))

    assert member.collect_events() == []


def test_only_the_details_that_differ_are_recorded() -> None:
    member = account()

    member.change_details({"name": member.name, "username": "ada2"}, None, change(WHEN))

    [changed] = member.collect_events()
    assert changed.changes == {"username": "ada2"}
