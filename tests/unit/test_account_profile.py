"""R52, R55, R51 on the aggregates: email preferences, connected accounts, account team."""

from __future__ import annotations

import pytest
from given import account, at, brand_admin, change, names, organisation

from lifecycle.errors import OperationalUpdatesRequired, Rejected

WHEN = at(2027, 2, 1, 12)


def test_changing_one_email_category_records_only_that_change() -> None:
    member = account()
    member.collect_events()
    member.change_email_preferences({"news_and_updates": False, "customer_events": True}, change(WHEN))
    [changed] = member.collect_events()
    assert names([changed]) == ["EmailPreferencesChanged"]
    assert changed.preferences == {"news_and_updates": False}
    assert member.email_preferences["news_and_updates"] is False


def test_operational_updates_cannot_be_unsubscribed() -> None:
    with pytest.raises(OperationalUpdatesRequired):
        brand_admin().change_email_preferences({"operational_updates": False}, change(WHEN))


def test_a_completed_certification_needs_its_completion_date() -> None:
    with pytest.raises(Rejected):
        account().record_certification("CX", "completed", None, None, change(WHEN))


def test_a_later_record_of_a_certification_replaces_the_earlier_one() -> None:
    member = account()
    member.record_certification("CX", "in_progress", None, None, change(WHEN))
    member.record_certification("CX", "completed", "2027-02-01", "https://c.example/1", change(WHEN))
    assert [c["status"] for c in member.certifications] == ["completed"]


def test_the_account_team_names_the_account_executive_for_routing() -> None:
    org = organisation()
    org.set_account_team(
        success_manager=None,
        account_executive={"name": "Ava", "email": "ava@xm.example"},
        intake_form_url="https://xm.example/intake",
        brand_admin_contact=None,
        change=change(WHEN),
    )
    assert org.account_executive_email == "ava@xm.example"
