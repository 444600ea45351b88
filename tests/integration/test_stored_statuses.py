"""Statuses, stages, licences and user types are ``StrEnum`` members in the domain; the
log keeps them exactly as it kept the plain strings before, and what it kept then reads
back equal to the members."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from commands.context import Caller
from commands.purchases import CompletedPurchase
from commands.services import Services
from commands.subscriptions import cancel_renewal
from lifecycle.account import UserType
from lifecycle.change import Change
from lifecycle.organisation import Licence, Organisation
from lifecycle.subscription import NON_RENEWING, Subscription, SubscriptionStatus

ORGANISATION_ID = UUID("00000000-0000-4000-8000-000000000001")
CONTRACT_ID = UUID("00000000-0000-4000-8000-000000000002")
AT = datetime(2027, 1, 31, 9, 0, tzinfo=timezone.utc)
META = (
    b'"meta":{"service":"tests","actor":null,"command_id":"command-1",'
    b'"correlation_id":"correlation-1"}'
)
TIMESTAMP = b'"timestamp":{"_type_":"datetime_iso","_data_":"2027-01-31T09:00:00+00:00"}'
CONTRACT = b'"contract_id":{"_type_":"uuid_hex","_data_":"00000000000040008000000000000002"}'

# An organisation registered on trial that held a contract until it ended, as the log
# stored it when licences were plain strings (captured from that version).
STORED_BEFORE = [
    (
        1,
        "lifecycle.organisation:Organisation.Registered",
        b"{" + TIMESTAMP + b',"originator_topic":"lifecycle.organisation:Organisation",'
        + META
        + b',"brand_id":"brand-1","datacenter":"us-1","fedramp":false,"licence":"trial",'
        b'"trial_ends_at":{"_type_":"datetime_iso","_data_":"2027-03-02T09:00:00+00:00"}}',
    ),
    (
        2,
        "lifecycle.organisation:Organisation.ContractAttached",
        b"{" + TIMESTAMP + b"," + META + b"," + CONTRACT + b"}",
    ),
    (
        3,
        "lifecycle.organisation:Organisation.ContractEnded",
        b"{" + TIMESTAMP + b"," + META + b"," + CONTRACT + b',"licence":"free"}',
    ),
]
SNAPSHOT_BEFORE = (
    b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-02T15:45:31.233879+00:00"},'
    b'"topic":"lifecycle.organisation:Organisation","state":{'
    b'"_created_on":{"_type_":"datetime_iso","_data_":"2027-01-31T09:00:00+00:00"},'
    b'"_modified_on":{"_type_":"datetime_iso","_data_":"2027-01-31T09:00:00+00:00"},'
    b'"brand_id":"brand-1","datacenter":"us-1","fedramp":false,"licence":"free",'
    b'"trial_ends_at":null,"subscription_id":null,"subscription_ids":[],'
    b'"contract_ids":[{"_type_":"uuid_hex","_data_":"00000000000040008000000000000002"}],'
    b'"active_contract_ids":[],"account_team":null,"account_executive_email":null,'
    b'"personal_data_erased_at":null}}'
)
SNAPSHOT_TOPIC = "eventsourcing.domain:Snapshot"


def an_organisation_whose_contract_ended() -> tuple[Organisation, list[Any]]:
    change = Change(AT, "tests", None, "command-1", "correlation-1")
    organisation = Organisation.register(
        ORGANISATION_ID,
        brand_id="brand-1",
        datacenter="us-1",
        fedramp=False,
        licence=Licence.TRIAL,
        trial_ends_at=datetime(2027, 3, 2, 9, 0, tzinfo=timezone.utc),
        change=change,
    )
    organisation.attach_contract(CONTRACT_ID, change)
    organisation.follow_contract_end(CONTRACT_ID, change)
    return organisation, organisation.collect_events()


def test_an_organisations_licence_is_stored_byte_for_byte_as_before_the_enum(
    services: Services,
) -> None:
    organisation, events = an_organisation_whose_contract_ended()
    mapper = services.store.mapper
    snapshot = Organisation.Snapshot.take(organisation)
    snapshot = dataclasses.replace(
        snapshot, timestamp=datetime(2026, 12, 2, 15, 45, 31, 233879, tzinfo=timezone.utc)
    )

    stored = [mapper.to_stored_event(event) for event in events]

    assert type(events[-1].licence) is Licence  # the enum member went in
    assert [(s.originator_version, s.topic, s.state) for s in stored] == STORED_BEFORE
    assert mapper.to_stored_event(snapshot).state == SNAPSHOT_BEFORE


def test_an_organisation_stored_before_the_enum_reads_back_equal_to_its_members(
    services: Services,
) -> None:
    mapper = services.store.mapper

    events = [
        mapper.to_domain_event(StoredEvent(ORGANISATION_ID, version, topic, state))
        for version, topic, state in STORED_BEFORE
    ]
    replayed: Any = None
    for event in events:
        replayed = event.mutate(replayed)
    snapshot = mapper.to_domain_event(StoredEvent(ORGANISATION_ID, 3, SNAPSHOT_TOPIC, SNAPSHOT_BEFORE))
    restored = snapshot.mutate(None)

    assert events[0].licence == Licence.TRIAL
    assert replayed.licence == restored.licence == Licence.FREE
    assert replayed.licence in (Licence.FREE,) and restored.licence in {Licence.FREE}
    assert f"{restored.licence} licence" == "free licence"
    assert not replayed.holds_active_contract
    assert restored.licence_without_contracts() == Licence.FREE


def test_a_subscription_read_from_its_snapshot_keeps_its_status(
    services: Services, buy: Callable[..., CompletedPurchase]
) -> None:
    bought = buy()
    subscription_id = bought.subscription.id
    cancel_renewal(services, Caller.of("tests"), subscription_id, reason="budget")
    services.store.take_snapshot(subscription_id)

    stored_snapshot = services.store.snapshots.recorder.select_events(
        subscription_id, desc=True, limit=1
    )[0]
    read = services.store.repository.get(subscription_id)

    assert b'"status":"non_renewing"' in stored_snapshot.state
    assert isinstance(read, Subscription)
    assert read.version == stored_snapshot.originator_version
    assert read.status == NON_RENEWING == SubscriptionStatus("non_renewing")
    assert not read.auto_renew
    assert bought.account.user_type == UserType.BRAND_ADMIN
