"""R61: the recorded hash chain exposes any change made to the stored event rows behind
the service's back (edited, deleted, inserted, reordered), at the first position
touched, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from api.bootstrap import Container
from commands import subscriptions
from commands.context import Caller
from commands.purchases import CompletedPurchase
from commands.services import Services
from projections.audit_chain import AuditLog
from projections.event_rows import EventRows
from projections.rebuild import RebuildFailed


@pytest.fixture
def audit(container: Container) -> AuditLog:
    services = container.services
    return AuditLog(services.store, services.database, container.runners["audit_chain"])


@pytest.fixture
def usage_positions(
    services: Services, buy: Callable[..., CompletedPurchase], audit: AuditLog
) -> list[int]:
    """A subscription with usage of 1, 2, 3 and 4 responses, chained and verified; the
    log positions of the four usage events."""
    bought = buy()
    positions = [
        subscriptions.record_usage(services, Caller.of("tests"), bought.subscription.id, n, 0).position
        for n in (1, 2, 3, 4)
    ]
    audit.runner.catch_up()
    assert audit.verify().ok
    return positions


class Rows:
    """Raw SQL on the event table, as someone with database access would write it."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.events = EventRows(services.store, services.database)
        self.table = self.events.table
        self.position = self.events.position_column

    def state(self, position: int) -> bytes:
        with self.services.database.transaction(commit=False) as tx:
            row = tx.one(f"SELECT state FROM {self.table} WHERE {self.position} = ?", (position,))
        assert row is not None
        return bytes(row["state"])

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        with self.services.database.transaction() as tx:
            return tx.execute(sql.format(table=self.table, position=self.position), params)


@pytest.fixture
def rows(services: Services) -> Rows:
    return Rows(services)


def test_an_untouched_log_verifies(audit: AuditLog, usage_positions: list[int]) -> None:
    result = audit.verify()

    assert result.ok
    assert result.events == usage_positions[-1]
    assert result.first_bad_position is None


def test_an_edited_event_fails_verification_at_its_position(
    audit: AuditLog, usage_positions: list[int], rows: Rows
) -> None:
    target = usage_positions[1]
    state = rows.state(target)
    edited = state.replace(b'"responses":2', b'"responses":200')
    assert edited != state

    assert rows.execute("UPDATE {table} SET state = ? WHERE {position} = ?", (edited, target)) == 1

    result = audit.verify()
    assert not result.ok
    assert result.first_bad_position == target


def test_a_deleted_event_fails_verification_at_its_position(
    audit: AuditLog, usage_positions: list[int], rows: Rows
) -> None:
    target = usage_positions[1]

    assert rows.execute("DELETE FROM {table} WHERE {position} = ?", (target,)) == 1

    result = audit.verify()
    assert not result.ok
    assert result.first_bad_position == target


def test_a_deleted_last_event_fails_verification_at_its_position(
    audit: AuditLog, usage_positions: list[int], rows: Rows
) -> None:
    target = usage_positions[-1]

    assert rows.execute("DELETE FROM {table} WHERE {position} = ?", (target,)) == 1

    result = audit.verify()
    assert not result.ok
    assert result.first_bad_position == target


def test_an_event_inserted_into_the_history_fails_verification_at_its_position(
    audit: AuditLog, usage_positions: list[int], rows: Rows, services: Services
) -> None:
    """Inserting in the middle of the log: every later row moves one position on, and
    the forged row takes the freed position."""
    target = usage_positions[1]
    head = services.head()
    forged_state = rows.state(usage_positions[0])
    with services.database.transaction(commit=False) as tx:
        original = tx.one(
            f"SELECT originator_id, topic FROM {rows.table} WHERE {rows.position} = ?", (target,)
        )
        assert original is not None
    for position in range(head, target - 1, -1):
        rows.execute(
            "UPDATE {table} SET {position} = ? WHERE {position} = ?", (position + 1, position)
        )

    rows.execute(
        "INSERT INTO {table} ({position}, originator_id, originator_version, topic, state)"
        " VALUES (?, ?, ?, ?, ?)",
        (target, original["originator_id"], 1000, original["topic"], forged_state),
    )

    result = audit.verify()
    assert not result.ok
    assert result.first_bad_position == target


def test_an_event_inserted_before_the_first_fails_verification_at_its_position(
    audit: AuditLog, usage_positions: list[int], rows: Rows
) -> None:
    with rows.services.database.transaction(commit=False) as tx:
        original = tx.one(
            f"SELECT originator_id, topic FROM {rows.table} WHERE {rows.position} = ?",
            (usage_positions[0],),
        )
        assert original is not None

    rows.execute(
        "INSERT INTO {table} ({position}, originator_id, originator_version, topic, state)"
        " VALUES (?, ?, ?, ?, ?)",
        (0, original["originator_id"], 1000, original["topic"], rows.state(usage_positions[0])),
    )

    result = audit.verify()
    assert not result.ok
    assert result.first_bad_position == 0


def test_reordered_events_fail_verification_at_the_earlier_position(
    audit: AuditLog, usage_positions: list[int], rows: Rows
) -> None:
    earlier, later = usage_positions[1], usage_positions[3]
    earlier_state, later_state = rows.state(earlier), rows.state(later)

    rows.execute("UPDATE {table} SET state = ? WHERE {position} = ?", (later_state, earlier))
    rows.execute("UPDATE {table} SET state = ? WHERE {position} = ?", (earlier_state, later))

    result = audit.verify()
    assert not result.ok
    assert result.first_bad_position == earlier


def test_a_row_edited_into_something_that_does_not_decode_fails_verification_at_its_position(
    audit: AuditLog, usage_positions: list[int], rows: Rows
) -> None:
    target = usage_positions[2]

    rows.execute("UPDATE {table} SET state = ? WHERE {position} = ?", (b"{not json", target))

    result = audit.verify()
    assert not result.ok
    assert result.first_bad_position == target


def test_an_edited_chain_row_fails_verification_at_its_position(
    audit: AuditLog, usage_positions: list[int], services: Services
) -> None:
    target = usage_positions[0]
    with services.database.transaction() as tx:
        tx.execute("UPDATE audit_chain SET hash = ? WHERE position = ?", ("f" * 64, target))

    result = audit.verify()
    assert not result.ok
    assert result.first_bad_position == target


def test_events_recorded_after_a_verification_are_chained_and_verify(
    audit: AuditLog, usage_positions: list[int], services: Services, buy: Callable[..., Any]
) -> None:
    buy(email="second@example.com")
    audit.runner.catch_up()

    result = audit.verify()
    assert result.ok
    assert result.events == services.head()


def test_a_rebuild_of_the_chain_after_an_edit_is_refused_and_verify_still_fails(
    container: Container, audit: AuditLog, usage_positions: list[int], rows: Rows
) -> None:
    target = usage_positions[1]
    state = rows.state(target)
    rows.execute(
        "UPDATE {table} SET state = ? WHERE {position} = ?",
        (state.replace(b'"responses":2', b'"responses":200'), target),
    )

    with pytest.raises(RebuildFailed, match=f"position {target}"):
        container.rebuilder("audit_chain").run()

    result = audit.verify()
    assert not result.ok
    assert result.first_bad_position == target


def test_a_rebuild_of_an_untouched_chain_swaps_in_the_same_chain(
    container: Container, audit: AuditLog, usage_positions: list[int]
) -> None:
    head_before = audit.verify().head_hash

    assert container.rebuilder("audit_chain").run() == 2

    result = audit.verify()
    assert result.ok
    assert result.head_hash == head_before
