"""Concurrent writers that dawdle inside their transactions never make a projection
skip or repeat an event: what each view applied is checked against the event log
(counts and checksums), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from typing import Any

from api.bootstrap import Container
from commands import accounts, profiles
from commands.context import Caller
from commands.services import Services

WRITERS = 4
COMMANDS_PER_WRITER = 6


def slow_inserts(services: Services, seed: int) -> None:
    """Every insert of events waits a random while inside its transaction, after its
    events have their positions and before it commits, so that transactions commit
    out of position order."""
    recorder = services.store.recorder
    chance = random.Random(seed)
    lock = threading.Lock()

    def delay() -> float:
        with lock:
            return chance.uniform(0, 0.02)

    if services.database.dialect == "postgres":
        original_insert = recorder.insert_events

        def dawdling_insert(stored_events: Any, **kwargs: Any) -> Any:
            sleep = ("SELECT pg_sleep(?)", (delay(),))
            side_writes = (*kwargs.pop("side_writes", ()), sleep)
            return original_insert(stored_events, side_writes=side_writes, **kwargs)

        recorder.insert_events = dawdling_insert  # type: ignore[method-assign]
        return

    original = recorder._insert_events

    def dawdling(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        time.sleep(delay())
        return result

    recorder._insert_events = dawdling  # type: ignore[method-assign]


def write(services: Services, writer: int) -> None:
    for n in range(COMMANDS_PER_WRITER):
        opened = accounts.open_account(
            services, Caller.of("tests"), email=f"w{writer}n{n}@example.com", name="W",
            username=f"w{writer}n{n}", kind="free",
        ).value
        profiles.change_email_preferences(
            services, Caller.of("tests"), opened.account.id, {"customer_events": n % 2 == 0}
        )


def log_positions(services: Services) -> list[int]:
    head = services.head()
    notifications = services.store.recorder.select_notifications(
        start=1, limit=head + 1, settled_only=False
    )
    return [n.id for n in notifications]


def checksum(values: list[Any]) -> str:
    return hashlib.sha256(",".join(map(str, values)).encode()).hexdigest()


def test_concurrent_writers_never_make_a_projection_skip_or_repeat_an_event(
    container: Container,
) -> None:
    services = container.services
    slow_inserts(services, seed=7)
    container.start()  # the runners follow the log while the writers write
    writers = [threading.Thread(target=write, args=(services, w)) for w in range(WRITERS)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    head = services.head()
    for name in ("audit_chain", "profiles"):
        assert container.runners[name].wait_for(head, 30), name

    expected = log_positions(services)
    with services.database.transaction(commit=False) as tx:
        chained = [int(r["position"]) for r in tx.all("SELECT position FROM audit_chain ORDER BY position")]
        profile_rows = tx.all("SELECT account_id, doc FROM profile_accounts")
    assert len(expected) == head
    assert len(chained) == len(expected)
    assert checksum(chained) == checksum(expected)
    assert len(profile_rows) == WRITERS * COMMANDS_PER_WRITER
    assert all('"customer_events":' in row["doc"] for row in profile_rows)
    assert sum('"customer_events":false' in row["doc"] for row in profile_rows) == WRITERS * (
        COMMANDS_PER_WRITER // 2
    )
