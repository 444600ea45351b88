"""Personal data at rest, on SQLite and PostgreSQL: personal values sealed per
organisation in every stored event, erasure (crypto-shredding) that leaves the domain
working, the views showing the marker and the audit chain verifying; and the optional
whole-event cipher."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder, Mapper

from api.bootstrap import Container
from api.cli import main
from commands.accounts import open_account
from commands.context import Caller
from commands.contracts import create_contract
from commands.licence_requests import submit_licence_request
from commands.personal_data.erasure import erase_personal_data
from commands.profiles import set_account_team
from commands.purchases import NewBuyer, complete_purchase, start_purchase, verify_purchase
from commands.services import Services
from commands.time_driven import advance_clock
from infrastructure.personal_data.sealing import StoredEventsUnreadable
from lifecycle.account import Account
from lifecycle.contract import Contract
from lifecycle.contract_terms import Contact
from lifecycle.errors import NotFound
from lifecycle.licence_request import LicenceRequest
from lifecycle.money import Money
from lifecycle.organisation import Organisation
from lifecycle.personal import ERASED
from lifecycle.subscription import Subscription
from projections.audit_chain import AuditLog
from projections.contract_views import ContractRows
from projections.event_rows import EventRows
from projections.profiles import ProfileRows

VERIFY_SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "verify_export.py"
KEY = base64.b64encode(b"k" * 32).decode()
OTHER_KEY = base64.b64encode(b"o" * 32).decode()


def caller() -> Caller:
    return Caller.of("tests")


def people(tag: str) -> dict[str, str]:
    """Personal values no other test writes, so that finding one means it was stored."""
    return {
        "name": f"Zelda {tag}",
        "email": f"zelda.{tag}@shred.example",
        "username": f"zelda-{tag}",
        "street": f"{tag} Quux Street",
        "owner_first": f"Olga{tag}",
        "owner_email": f"olga.{tag}@shred.example",
        "biller_email": f"bill.{tag}@shred.example",
        "executive_email": f"exec.{tag}@vendor.example",
        "request": f"please add seats for {tag}",
    }


def customer(services: Services, tag: str, contract_number: int) -> dict[str, Any]:
    """An organisation with personal data in every kind of aggregate: its brand admin,
    a paid subscription with a billing address, an account team, a contract with its
    contacts and a licence request (and the messages these send)."""
    p = people(tag)
    opened = open_account(
        services, caller(), email=p["email"], name=p["name"], username=p["username"], kind="free"
    ).value
    purchase = start_purchase(
        services, caller(), plan="strategic_research", account_id=opened.account.id
    ).value
    bought = complete_purchase(
        services,
        caller(),
        purchase.id,
        payment_token="tok_visa",
        billing_address={"line1": p["street"], "city": "Springfield", "country": "US"},
        accept_terms=True,
        accept_auto_renewal=True,
    ).value
    organisation_id = opened.organisation.id
    set_account_team(
        services,
        caller(),
        organisation_id,
        success_manager=None,
        account_executive={"name": "Ava Exec", "email": p["executive_email"]},
        intake_form_url="https://vendor.example/intake",
        brand_admin_contact=None,
    )
    contract = create_contract(
        services,
        caller(),
        organisation_id=organisation_id,
        number=contract_number,
        start_date=date(2027, 1, 1),
        term_months=12,
        licences=["cx"],
        notice_days=90,
        price=Money.of("12000", "USD"),
        primary_contact=Contact.of(p["owner_first"], "Owner", p["owner_email"]),
        billing_contact=Contact.of("Bill", "Payer", p["biller_email"]),
    ).value
    request = submit_licence_request(
        services,
        caller(),
        bought.subscription.id,
        name=p["name"],
        email=p["email"],
        cc=[p["owner_email"]],
        username=p["username"],
        kind="add_seats",
        description=p["request"],
    ).value
    return {
        "people": p,
        "organisation_id": organisation_id,
        "account_id": opened.account.id,
        "subscription_id": bought.subscription.id,
        "contract_id": contract.id,
        "licence_request_id": request.id,
        "purchase_id": purchase.id,
    }


def messages(services: Services) -> list[Any]:
    """Every outgoing message recorded so far, read as the service reads them."""
    notifications = services.store.recorder.select_notifications(
        start=1, limit=10_000, settled_only=False
    )
    events = [services.store.mapper.to_domain_event(n) for n in notifications]
    return [e for e in events if type(e).__qualname__ == "Message.Composed"]


def stored_states(container: Container) -> bytes:
    """The ``state`` column of every stored event, as the database holds it."""
    services = container.services
    rows = EventRows(services.store, services.database)
    return b"\n".join(row.state for row in rows.scan(until=2**62))


def database_bytes(container: Container) -> bytes:
    """Everything the database holds: the SQLite files (write-ahead log included), or
    every row of every PostgreSQL table."""
    url = container.settings.database_url
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        return b"".join(f.read_bytes() for f in sorted(path.parent.glob(path.name + "*")))
    import psycopg
    from psycopg import sql

    chunks: list[bytes] = []
    with psycopg.connect(url) as connection:
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            " AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            query = sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            for row in connection.execute(query):
                chunks.extend(
                    bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for v in row
                )
    return b"\n".join(chunks)


def key_row(container: Container, owner_id: UUID) -> dict[str, Any] | None:
    with container.services.database.transaction(commit=False) as tx:
        return tx.one(
            "SELECT owner_id, organisation_id, data_key, wrapped, erased_at"
            " FROM personal_data_keys WHERE owner_id = ?",
            (str(owner_id),),
        )


def last_position(container: Container) -> int:
    """The position of the last event committed, whatever the readable head."""
    return container.services.head()


def caught_up(container: Container, *names: str) -> None:
    """The projections have applied every event written so far (``catch_up`` waits for
    transactions that still hold the readable head back)."""
    last = last_position(container)
    for name in names or tuple(container.runners):
        assert container.runners[name].catch_up() >= last, f"{name} did not reach {last}"


def audit(container: Container) -> AuditLog:
    caught_up(container, "audit_chain")
    runner = container.runners["audit_chain"]
    return AuditLog(container.services.store, container.services.database, runner)


def export_file(container: Container, path: Path) -> Path:
    lines = audit(container).export(after=0, limit=100_000)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def verify_with_script(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFY_SCRIPT), str(path)], capture_output=True, text=True, timeout=60
    )


# --- sealing ---------------------------------------------------------------------------------


def test_an_organisations_stored_events_hold_none_of_its_personal_values_in_clear(
    container: Container,
) -> None:
    made = customer(container.services, "sealed1", 9101)
    stored = stored_states(container)
    for value in made["people"].values():
        assert value.encode() not in stored, f"{value!r} is stored in clear"
    # The scan sees what is stored in clear: ids, plans and amounts stay readable.
    assert b"strategic_research" in stored
    assert made["organisation_id"].hex.encode() in stored
    assert b"12000" in stored


def test_the_service_reads_sealed_values_back(container: Container) -> None:
    services = container.services
    made = customer(services, "sealed2", 9102)
    p = made["people"]
    account = services.load(Account, made["account_id"], "account")
    assert (account.name, account.email, account.username) == (p["name"], p["email"], p["username"])
    contract = services.load(Contract, made["contract_id"], "contract")
    assert contract.primary_contact.email == p["owner_email"]
    request = services.load(LicenceRequest, made["licence_request_id"], "licence request")
    assert (request.description, request.cc) == (p["request"], [p["owner_email"]])
    subscription = services.load(Subscription, made["subscription_id"], "subscription")
    assert subscription.billing_address["line1"] == p["street"]


def test_values_stored_in_clear_before_sealing_still_read(container: Container) -> None:
    """Events written before personal values were sealed hold them as plain JSON text."""
    store = container.services.store
    transcoder = JSONTranscoder()  # writes a str subclass as plain text, as before
    store.register_transcodings(transcoder)
    legacy = Mapper(transcoder=transcoder)
    now = container.services.clock.now()
    from lifecycle.change import Change

    account = Account.open(
        uuid4(),
        organisation_id=uuid4(),
        name="Legacy Lou",
        email="lou@legacy.example",
        username="lou",
        user_type="standard",
        datacenter="us-1",
        change=Change(now, "tests", None, "c-1", "c-1"),
    )
    store.recorder.insert_events([legacy.to_stored_event(e) for e in account.collect_events()])
    assert b"lou@legacy.example" in stored_states(container)
    read = container.services.load(Account, account.id, "account")
    assert (read.name, read.email) == ("Legacy Lou", "lou@legacy.example")


# --- erasure ---------------------------------------------------------------------------------


def test_erasure_makes_every_personal_value_read_as_erased_and_leaves_other_organisations(
    container: Container,
) -> None:
    services = container.services
    erased = customer(services, "erase1", 9103)
    kept = customer(services, "keep1", 9104)
    outcome = erase_personal_data(services, Caller.of("privacy-desk"), erased["organisation_id"])
    assert outcome.value.personal_data_erased_at == services.clock.now()

    account = services.load(Account, erased["account_id"], "account")
    assert (account.name, account.email, account.username) == (ERASED, ERASED, ERASED)
    contract = services.load(Contract, erased["contract_id"], "contract")
    assert contract.primary_contact.email == ERASED
    assert contract.billing_contact.first_name == ERASED
    request = services.load(LicenceRequest, erased["licence_request_id"], "licence request")
    assert (request.name, request.description, request.cc) == (ERASED, ERASED, [ERASED])
    organisation = services.load(Organisation, erased["organisation_id"], "organisation")
    assert organisation.account_team["account_executive"]["email"] == ERASED
    # What is not personal is intact.
    subscription = services.load(Subscription, erased["subscription_id"], "subscription")
    assert subscription.billing_address["line1"] == ERASED
    assert subscription.plan == "strategic_research"
    assert subscription.price == Money.of("1500", "USD")
    assert contract.number == 9103 and contract.licences == ["cx"]

    other = services.load(Account, kept["account_id"], "account")
    assert other.email == kept["people"]["email"]
    other_contract = services.load(Contract, kept["contract_id"], "contract")
    assert other_contract.primary_contact.email == kept["people"]["owner_email"]


def test_after_erasure_the_key_is_gone_from_the_database(container: Container) -> None:
    services = container.services
    made = customer(services, "erase2", 9105)
    before = key_row(container, made["organisation_id"])
    assert before is not None and before["data_key"]
    erase_personal_data(services, caller(), made["organisation_id"])
    after = key_row(container, made["organisation_id"])
    assert after is not None
    assert after["data_key"] is None and after["erased_at"]
    assert before["data_key"].encode() not in database_bytes(container)


def test_after_erasure_the_domain_carries_on(container: Container) -> None:
    """The subscription still renews (and its receipt goes out), and the account's
    erased details can be replaced by new values, which are not kept either."""
    services = container.services
    made = customer(services, "erase3", 9106)
    erase_personal_data(services, caller(), made["organisation_id"])
    subscription = services.load(Subscription, made["subscription_id"], "subscription")
    advance_clock(services, container.due_work, subscription.term_end + timedelta(minutes=1))
    renewed = services.load(Subscription, made["subscription_id"], "subscription")
    assert renewed.term == 2 and renewed.status == "active"
    assert renewed.billing_address["line1"] == ERASED

    from commands.accounts import change_account_details

    change_account_details(services, caller(), made["account_id"], {"name": "New Name"})
    assert services.load(Account, made["account_id"], "account").name == ERASED
    assert b"New Name" not in stored_states(container)


def test_erasing_twice_changes_nothing_the_second_time(container: Container) -> None:
    services = container.services
    made = customer(services, "erase4", 9107)
    first = erase_personal_data(services, caller(), made["organisation_id"])
    head = last_position(container)
    services.clock.set(services.clock.now() + timedelta(hours=1))  # type: ignore[attr-defined]
    second = erase_personal_data(services, caller(), made["organisation_id"])
    assert last_position(container) == head
    assert second.value.version == first.value.version
    assert second.value.personal_data_erased_at == first.value.personal_data_erased_at
    row = key_row(container, made["organisation_id"])
    assert row is not None and row["data_key"] is None


def test_erasing_an_unknown_organisation_is_not_found(container: Container) -> None:
    with pytest.raises(NotFound):
        erase_personal_data(container.services, caller(), uuid4())


def test_the_erasure_event_records_who_and_when_and_nothing_personal(
    container: Container,
) -> None:
    services = container.services
    made = customer(services, "erase5", 9108)
    position = erase_personal_data(
        services, Caller.of("privacy-desk", command_id="erase-1"), made["organisation_id"]
    ).position
    rows = EventRows(services.store, services.database)
    (row,) = rows.page(position - 1, position, 1)
    event = rows.decode(row)
    assert type(event).__name__ == "PersonalDataErased"
    assert event.meta["service"] == "privacy-desk" and event.meta["command_id"] == "erase-1"
    assert event.timestamp == services.clock.now()
    assert set(vars(event)) == {"originator_id", "originator_version", "timestamp", "meta"}


def test_a_new_buyers_purchase_is_erased_with_the_organisation_it_created(
    container: Container,
) -> None:
    services = container.services
    email = "newbuyer.erase6@shred.example"
    started = start_purchase(services, caller(), plan="strategic_research", email=email).value
    assert key_row(container, started.id)["organisation_id"] is None  # type: ignore[index]
    # The verification code is in the message sent with the purchase.
    token = next(
        m.data["token"] for m in messages(services) if m.kind == "email_verification"
    )
    verify_purchase(services, caller(), started.id, str(token))
    done = complete_purchase(
        services,
        caller(),
        started.id,
        payment_token="tok_visa",
        billing_address={"line1": "1 Main Street", "country": "US"},
        accept_terms=True,
        accept_auto_renewal=True,
        accept_privacy=True,
        new_buyer=NewBuyer(name="Nia Buyer", username="nia-erase6"),
    ).value
    linked = key_row(container, started.id)
    assert linked is not None and linked["organisation_id"] == str(done.organisation.id)
    erase_personal_data(services, caller(), done.organisation.id)
    from lifecycle.purchase import Purchase

    assert services.load(Purchase, started.id, "purchase").email == ERASED
    assert key_row(container, started.id)["data_key"] is None  # type: ignore[index]
    recipients = [m.recipient for m in messages(services) if m.kind == "email_verification"]
    assert recipients == [ERASED]


def test_the_views_show_the_marker_after_erasure(container: Container) -> None:
    services = container.services
    made = customer(services, "erase7", 9109)
    caught_up(container, "profiles", "contracts")
    profiles = ProfileRows(services.database)
    shown = profiles.account(made["account_id"])
    assert shown is not None and shown["email"] == made["people"]["email"]
    erase_personal_data(services, caller(), made["organisation_id"])
    caught_up(container, "profiles", "contracts")
    account = profiles.account(made["account_id"])
    assert account is not None
    assert (account["name"], account["email"], account["username"]) == (ERASED, ERASED, ERASED)
    organisation = profiles.organisation(str(made["organisation_id"]))
    assert organisation is not None
    team = organisation["account_team"]
    assert team["account_executive"]["email"] == ERASED
    billing = profiles.billing(str(made["subscription_id"]))
    assert billing is not None and billing["billing_address"]["line1"] == ERASED
    (contract,) = ContractRows(services.database).of_organisation(str(made["organisation_id"]))
    assert contract["primary_contact"]["email"] == ERASED
    assert contract["billing_contact"]["email"] == ERASED


def test_the_notifications_view_forgets_an_erased_organisations_messages(
    container: Container,
) -> None:
    services = container.services
    erased = customer(services, "erase8", 9110)
    kept = customer(services, "keep8", 9111)
    caught_up(container, "notifications")

    def messages_to(email: str) -> list[dict[str, Any]]:
        with services.database.transaction(commit=False) as tx:
            return tx.all("SELECT * FROM notifications WHERE recipient = ?", (email,))

    before = messages_to(erased["people"]["email"])
    assert before, "the customer was sent messages"
    erase_personal_data(services, caller(), erased["organisation_id"])
    caught_up(container, "notifications")

    assert messages_to(erased["people"]["email"]) == []
    with services.database.transaction(commit=False) as tx:
        rows = tx.all(
            "SELECT recipient, subject, body, data FROM notifications WHERE message_id IN ("
            + ", ".join("?" for _ in before) + ")",
            [row["message_id"] for row in before],
        )
    assert rows and all(row["recipient"] == ERASED for row in rows)
    assert all(erased["people"]["name"] not in json.dumps(row) for row in rows)
    assert messages_to(kept["people"]["email"]), "another organisation's messages are kept"

    live = _notification_rows(services)
    container.rebuilder("notifications").run()
    assert _notification_rows(services) == live


def _notification_rows(services: Services) -> list[dict[str, Any]]:
    with services.database.transaction(commit=False) as tx:
        return tx.all("SELECT * FROM notifications ORDER BY position")


def test_the_audit_chain_verifies_before_and_after_erasure_and_both_exports_verify(
    container: Container, tmp_path: Path
) -> None:
    services = container.services
    made = customer(services, "erase8", 9110)
    customer(services, "keep8", 9111)
    log = audit(container)
    before = log.verify()
    assert before.ok and before.events > 0
    exported_before = export_file(container, tmp_path / "before.ndjson")
    assert made["people"]["email"].encode() not in exported_before.read_bytes()

    erase_personal_data(services, caller(), made["organisation_id"])
    after = audit(container).verify()
    assert after.ok and after.events == before.events + 1
    exported_after = export_file(container, tmp_path / "after.ndjson")
    # Erasure changed no line that was already chained: what is hashed is what is stored.
    old_lines = exported_before.read_text().splitlines()
    assert exported_after.read_text().splitlines()[: len(old_lines)] == old_lines
    for file in (exported_before, exported_after):
        result = verify_with_script(file)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("ok: ")


def test_an_edited_sealed_value_fails_verification_at_its_position(container: Container) -> None:
    services = container.services
    made = customer(services, "tamper1", 9114)
    assert audit(container).verify().ok
    events = EventRows(services.store, services.database)
    (row,) = events.of_aggregate(made["account_id"])[:1]
    state = json.loads(row.state)
    sealed = state["email"]["_data_"]["sealed"]
    flipped = ("A" if sealed[20] != "A" else "B").join((sealed[:20], sealed[21:]))
    state["email"]["_data_"]["sealed"] = flipped
    edited = json.dumps(state, separators=(",", ":")).encode()
    with services.database.transaction() as tx:
        tx.execute(
            f"UPDATE {events.table} SET state = ? WHERE {events.position_column} = ?",
            (edited, row.position),
        )
    verified = audit(container).verify()
    assert not verified.ok and verified.first_bad_position == row.position


def test_the_history_shows_personal_values_until_erased_then_the_marker(
    container: Container,
) -> None:
    services = container.services
    made = customer(services, "erase9", 9112)
    log = audit(container)
    created = log.history(made["contract_id"])[0]
    assert created["data"]["primary_contact"]["email"] == made["people"]["owner_email"]
    erase_personal_data(services, caller(), made["organisation_id"])
    created = log.history(made["contract_id"])[0]
    assert created["data"]["primary_contact"]["email"] == ERASED


def test_the_erase_command_line(
    container: Container,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made = customer(container.services, "erase10", 9113)
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", database_url)
    monkeypatch.setenv("LIFECYCLE_CLOCK", "manual")
    assert main(["erase", str(made["organisation_id"])]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["organisation_id"] == str(made["organisation_id"])
    assert key_row(container, made["organisation_id"])["data_key"] is None  # type: ignore[index]
    assert main(["erase", str(uuid4())]) == 1
    assert "not found" in capsys.readouterr().err


# --- the whole-event cipher ---------------------------------------------------------------------


def test_with_a_cipher_key_stored_events_are_unreadable_without_it_and_read_back_with_it(
    make_container: Callable[..., Container],
) -> None:
    container = make_container(event_cipher_key=KEY)
    made = customer(container.services, "cipher1", 9201)
    stored = stored_states(container)
    assert made["people"]["email"].encode() not in stored
    # Encrypted as a whole: not even what is not personal shows.
    assert b"strategic_research" not in stored and b"12000" not in stored
    account = container.services.load(Account, made["account_id"], "account")
    assert account.email == made["people"]["email"]
    row = key_row(container, made["organisation_id"])
    assert row is not None and row["wrapped"] == 1


def test_the_audit_chain_verifies_with_encryption_on(
    make_container: Callable[..., Container],
) -> None:
    container = make_container(event_cipher_key=KEY)
    made = customer(container.services, "cipher2", 9202)
    assert audit(container).verify().ok
    erase_personal_data(container.services, caller(), made["organisation_id"])
    verified = audit(container).verify()
    assert verified.ok and verified.position == container.runners["audit_chain"].position()


def test_a_wrong_or_missing_key_stops_the_service_at_start(
    make_container: Callable[..., Container],
) -> None:
    container = make_container(event_cipher_key=KEY)
    customer(container.services, "cipher3", 9203)
    container.close()
    with pytest.raises(StoredEventsUnreadable, match="LIFECYCLE_EVENT_CIPHER_KEY does not decrypt"):
        make_container(event_cipher_key=OTHER_KEY)
    with pytest.raises(StoredEventsUnreadable, match="set LIFECYCLE_EVENT_CIPHER_KEY"):
        make_container()


def test_turning_encryption_on_for_an_existing_log_is_refused_at_start(
    make_container: Callable[..., Container],
) -> None:
    container = make_container()
    customer(container.services, "cipher4", 9204)
    container.close()
    with pytest.raises(StoredEventsUnreadable, match="not supported in place"):
        make_container(event_cipher_key=KEY)


def test_the_cipher_key_must_be_16_24_or_32_bytes_and_is_never_shown() -> None:
    from pydantic import ValidationError

    from api.settings import Settings

    secret = base64.b64encode(os.urandom(20)).decode()
    with pytest.raises(ValidationError) as raised:
        Settings(event_cipher_key=secret)
    assert secret not in str(raised.value)
    settings = Settings(event_cipher_key=KEY)
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())
    assert settings.cipher_key() == KEY


# --- the data keys' cache ---------------------------------------------------------------------


def second_store(container: Container) -> Any:
    """Another process's store on the same database: its own data keys' cache."""
    from infrastructure.store import LifecycleStore, persistence_env

    return LifecycleStore(env=persistence_env(container.settings.database_url))


def account_name(store: Any, account_id: UUID) -> str:
    return str(store.repository.get(account_id).name)


def test_another_processs_erasure_is_seen_once_its_keys_are_rechecked(
    container: Container,
) -> None:
    services = container.services
    erased = customer(services, "elsewhere", 9301)
    kept = customer(services, "kept", 9302)
    other = second_store(container)
    try:
        other.personal_data.recheck_seconds = 0.2
        assert account_name(other, erased["account_id"]) == erased["people"]["name"]
        assert account_name(other, kept["account_id"]) == kept["people"]["name"]

        erase_personal_data(services, caller(), erased["organisation_id"])
        time.sleep(0.3)

        assert account_name(other, erased["account_id"]) == ERASED
        assert account_name(other, kept["account_id"]) == kept["people"]["name"]
    finally:
        other.close()


def test_a_batch_of_events_has_its_data_keys_read_together(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = container.services
    made = [customer(services, f"batch{n}", 9310 + n) for n in range(3)]
    other = second_store(container)
    try:
        notifications = other.recorder.select_notifications(
            start=1, limit=10_000, settled_only=False
        )
        one_by_one: list[str] = []
        read_one = other.personal_data._row
        monkeypatch.setattr(
            other.personal_data, "_row", lambda owner: one_by_one.append(owner) or read_one(owner)
        )

        other.mapper.prefetch(notifications)
        events = [other.mapper.to_domain_event(n) for n in notifications]

        assert one_by_one == []
        names = {
            e.name for e in events if type(e).__qualname__ == "Account.Opened"
        }
        assert {m["people"]["name"] for m in made} <= names
    finally:
        other.close()
