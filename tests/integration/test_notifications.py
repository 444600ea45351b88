"""The notifications view applies every composed message exactly once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.utils import get_topic

from api.bootstrap import Container
from commands.context import Caller
from commands.purchases import start_purchase
from commands.services import Services
from lifecycle.message import Message
from projections.notifications import NotificationsProjection
from projections.runner import ProjectionRunner


def compose_messages(services: Services, count: int) -> None:
    """Each new buyer's purchase composes one email-verification message."""
    for n in range(count):
        start_purchase(
            services, Caller.of("tests"), plan="strategic_research", email=f"b{n}@example.com"
        )


def composed_message_ids(services: Services) -> list[str]:
    head = services.head()
    notifications = services.store.recorder.select_notifications(
        start=1, limit=head + 1, settled_only=False
    )
    return sorted(
        str(n.originator_id)
        for n in notifications
        if n.topic == get_topic(Message.Composed)  # type: ignore[attr-defined]
    )


def applied_message_ids(services: Services) -> list[str]:
    with services.database.transaction(commit=False) as tx:
        rows = tx.all("SELECT message_id FROM notifications")
    return sorted(str(row["message_id"]) for row in rows)


def new_runner(services: Services, batch_size: int = 3) -> ProjectionRunner:
    return ProjectionRunner(
        services.store, services.database, NotificationsProjection(), batch_size=batch_size
    )


def test_catch_up_run_twice_applies_each_message_once_and_tracks_the_log_head(
    container: Container,
) -> None:
    services = container.services
    compose_messages(services, 5)
    runner = container.runners["notifications"]

    first = runner.catch_up()
    second = runner.catch_up()

    assert len(composed_message_ids(services)) == 5
    assert applied_message_ids(services) == composed_message_ids(services)
    assert first == second == runner.position() == services.head()


def test_runners_catching_up_concurrently_apply_each_message_once_and_track_the_log_head(
    container: Container, together: Callable[..., list[Any]]
) -> None:
    services = container.services
    compose_messages(services, 24)
    runners = [new_runner(services) for _ in range(4)]

    positions = together(*(runner.catch_up for runner in runners))

    assert applied_message_ids(services) == composed_message_ids(services)
    assert positions == [services.head()] * len(runners)
    assert container.runners["notifications"].position() == services.head()


def test_runners_of_two_processes_catching_up_concurrently_apply_each_message_once(
    container: Container,
    make_container: Callable[..., Container],
    together: Callable[..., list[Any]],
) -> None:
    services = container.services
    other = make_container().services
    compose_messages(services, 24)
    runners = [new_runner(services), new_runner(other), new_runner(services), new_runner(other)]

    together(*(runner.catch_up for runner in runners))

    assert applied_message_ids(services) == composed_message_ids(services)
    assert runners[0].position() == services.head()
