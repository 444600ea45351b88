"""The service built inside the test process on a server's database: to prepare data
fast through the handlers, and to read back what was recorded (the event log, the
sandbox ledger, each projection beside a rebuild of it from the log)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from api.bootstrap import Container, build
from api.settings import Settings
from lifecycle_server import API_TOKENS, CLOCK_START, LINK_SECRET
from projections.rebuild import ShadowProjection, names_of
from projections.runner import ProjectionRunner


@contextmanager
def service_on(database_url: str, clock_start: str | datetime = CLOCK_START) -> Iterator[Container]:
    """The container a server would build on this database (manual clock), not started:
    nothing runs in the background."""
    container = build(
        Settings(
            database_url=database_url,
            clock="manual",
            clock_start=clock_start,  # type: ignore[arg-type]
            api_tokens=API_TOKENS,
            link_secret=LINK_SECRET,
        )
    )
    try:
        yield container
    finally:
        container.close()


def notifications(container: Container, page: int = 2_000) -> Iterator[Any]:
    """Every stored event notification, in log order (topic, originator, version; the
    state stays encoded)."""
    recorder = container.services.store.recorder
    position = 0
    while True:
        batch = recorder.select_notifications(
            start=position + 1, limit=page, settled_only=False
        )
        if not batch:
            return
        yield from batch
        position = batch[-1].id


def events(container: Container) -> Iterator[tuple[int, Any]]:
    """Every event of the log as a domain event, with its position."""
    mapper = container.services.store.mapper
    for notification in notifications(container):
        yield notification.id, mapper.to_domain_event(notification)


def short_topic(topic: str) -> str:
    """``lifecycle.subscription:Subscription.Renewed`` → ``Subscription.Renewed``."""
    return topic.rsplit(":", 1)[-1]


def rows_of(container: Container, table: str) -> list[tuple[Any, ...]]:
    with container.services.database.transaction(commit=False) as tx:
        rows = tx.all(f"SELECT * FROM {table}")
    return sorted(tuple(sorted((k, str(v)) for k, v in row.items())) for row in rows)


def projections_against_rebuilds(container: Container) -> dict[str, dict[str, Any]]:
    """For each projection: its tables as they are, and the same tables rebuilt from
    position 0 beside them (``projections.rebuild``'s shadow copy), row for row.

    Returns ``{projection: {"rows": n, "position": p, "differences": [table, ...]}}``."""

    def compare(runner: ProjectionRunner) -> dict[str, Any]:
        position = runner.catch_up()
        shadow = ShadowProjection(runner.projection)
        shadow_runner = ProjectionRunner(
            runner.store, runner.database, shadow, batch_size=runner.batch_size
        )
        rebuilt_to = shadow_runner.catch_up()
        tables, _ = names_of(runner.projection)
        differences = [
            table for table in tables if rows_of(container, table) != rows_of(container, table + "__next")
        ]
        return {
            "position": position,
            "rebuilt_to": rebuilt_to,
            "rows": sum(len(rows_of(container, table)) for table in tables),
            "differences": differences,
        }

    with ThreadPoolExecutor(len(container.runners)) as pool:
        return dict(zip(container.runners, pool.map(compare, container.runners.values())))
