"""Personal values in the domain: marked by type, used like any text, and shown by the
audit line as they are stored (never as their text)."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import datetime, timezone
from uuid import uuid4

from lifecycle.account import Account
from lifecycle.change import Change
from lifecycle.contract_terms import Contact
from lifecycle.message import Message
from lifecycle.organisation import Organisation
from lifecycle.personal import ERASED, Personal, personal
from projections.audit_lines import audit_line, jsonable

AT = datetime(2027, 1, 31, 9, 0, tzinfo=timezone.utc)
CHANGE = Change(AT, "tests", None, "c-1", "c-1")
STORED = {"owner": str(uuid4()), "sealed": "bm9uY2V0YWdjaXBoZXJ0ZXh0"}


def test_a_personal_value_is_used_like_its_text() -> None:
    value = Personal("ada@example.com")
    assert value == "ada@example.com" and hash(value) == hash("ada@example.com")
    assert f"to {value}" == "to ada@example.com"
    assert json.dumps({"email": value}) == '{"email": "ada@example.com"}'
    assert value.split("@")[1] == "example.com"


def test_copies_of_a_personal_value_keep_its_text_and_stored_form() -> None:
    value = Personal("Ada", STORED)
    for copied in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert isinstance(copied, Personal)
        assert copied == "Ada" and copied.stored == STORED


def test_marking_reaches_every_text_inside_lists_and_dicts_but_not_keys_or_numbers() -> None:
    marked = personal({"name": "Ada", "cc": ["a@x.example"], "seats": 3, "note": None})
    assert isinstance(marked["name"], Personal)
    assert all(isinstance(item, Personal) for item in marked["cc"])
    assert marked["seats"] == 3 and not isinstance(marked["seats"], Personal)
    assert marked["note"] is None
    assert all(type(key) is str for key in marked)


def test_a_contacts_names_and_address_are_personal_however_it_is_made() -> None:
    account_id = uuid4()
    for contact in (
        Contact.of("Olive", "Owner", "olive@customer.example", account_id),
        Contact("Olive", "Owner", "olive@customer.example", account_id),
    ):
        assert all(
            isinstance(getattr(contact, name), Personal)
            for name in ("first_name", "last_name", "email")
        )
        assert contact.account_id == account_id
        assert contact == Contact("Olive", "Owner", "olive@customer.example", account_id)


def test_an_accounts_events_mark_its_details_but_not_its_user_type() -> None:
    account = Account.open(
        uuid4(),
        organisation_id=uuid4(),
        name="Ada",
        email="ada@example.com",
        username="ada",
        user_type="standard",
        datacenter="us-1",
        change=CHANGE,
    )
    account.change_details({"name": "Ada L", "user_type": "brand_admin"}, None, CHANGE)
    opened, changed = account.collect_events()
    assert all(isinstance(getattr(opened, f), Personal) for f in ("name", "email", "username"))
    assert not isinstance(opened.user_type, Personal)
    assert isinstance(changed.changes["name"], Personal)
    assert not isinstance(changed.changes["user_type"], Personal)
    assert account.name == "Ada L" and account.user_type == "brand_admin"


def test_a_message_is_personal_except_its_kind_and_what_it_is_about() -> None:
    about = uuid4()
    message = Message.compose(
        uuid4(),
        kind="licence_request",
        recipient="exec@vendor.example",
        subject="Licence request",
        body="Ada asks for seats",
        data={"name": "Ada", "seats": 10},
        about=about,
        change=CHANGE,
    )
    (composed,) = message.collect_events()
    shown = (composed.recipient, composed.subject, composed.body)
    assert all(isinstance(value, Personal) for value in shown)
    assert isinstance(composed.data["name"], Personal) and composed.data["seats"] == 10
    assert composed.kind == "licence_request" and composed.about == about


def test_an_organisation_records_the_erasure_of_its_personal_data_once() -> None:
    organisation = Organisation.register(
        uuid4(),
        brand_id="b-1",
        datacenter="us-1",
        fedramp=False,
        licence="free",
        trial_ends_at=None,
        change=CHANGE,
    )
    organisation.record_personal_data_erased(CHANGE)
    later = Change(AT.replace(hour=10), "tests", None, "c-2", "c-2")
    organisation.record_personal_data_erased(later)
    events = organisation.collect_events()
    assert [type(e).__name__ for e in events] == ["Registered", "PersonalDataErased"]
    assert organisation.personal_data_erased and organisation.personal_data_erased_at == AT


def test_the_audit_line_shows_a_personal_value_as_stored_and_the_history_as_text() -> None:
    assert jsonable(Personal("Ada", STORED), sealed=True) == STORED
    assert jsonable(Personal("Ada", STORED)) == "Ada"
    erased = Personal(ERASED, STORED)
    assert jsonable({"contact": [erased]}, sealed=True) == {"contact": [STORED]}

    account = Account.open(
        uuid4(),
        organisation_id=uuid4(),
        name="Ada",
        email="ada@example.com",
        username="ada",
        user_type="standard",
        datacenter="us-1",
        change=CHANGE,
    )
    (event,) = account.collect_events()
    # As the store reads it back: each personal value with its stored form.
    for field in ("name", "email", "username"):
        object.__setattr__(event, field, Personal(getattr(event, field), STORED))
    line = audit_line(event, 1)
    assert line["data"]["email"] == STORED and line["data"]["user_type"] == "standard"
    assert audit_line(event, 1, reveal=True)["data"]["email"] == "ada@example.com"
