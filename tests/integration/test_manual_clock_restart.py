"""The manual clock across a restart: it resumes from the later of its setting and the
latest recorded event, so that no new event is ever recorded before an old one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from api.bootstrap import Container
from commands.context import Caller
from commands.subscriptions import record_usage
from commands.time_driven import advance_clock
from lifecycle.subscription import Subscription

from .conftest import buy_plan

LATER = datetime(2028, 3, 1, 9, 0, tzinfo=timezone.utc)


def test_a_restart_with_an_earlier_clock_start_resumes_at_the_latest_recorded_event(
    make_container: Callable[..., Container],
) -> None:
    first = make_container()
    bought = buy_plan(first.services)
    advance_clock(first.services, first.due_work, LATER)  # renews the subscription at its term end
    latest = max(e.timestamp for e in first.services.store.events.get(bought.subscription.id))
    first.close()

    restarted = make_container()  # LIFECYCLE_CLOCK_START is still 2027-01-31

    assert restarted.services.clock.now() == latest
    assert latest > restarted.settings.clock_start  # type: ignore[operator]


def test_events_recorded_after_a_restart_never_come_before_earlier_ones(
    make_container: Callable[..., Container],
) -> None:
    first = make_container()
    bought = buy_plan(first.services)
    advance_clock(first.services, first.due_work, LATER)
    first.close()

    restarted = make_container()
    record_usage(restarted.services, Caller.of("tests"), bought.subscription.id, responses=1)

    events = list(restarted.services.store.events.get(bought.subscription.id))
    stamps = [e.timestamp for e in events]
    assert stamps == sorted(stamps)
    subscription = restarted.services.load(Subscription, bought.subscription.id, "subscription")
    assert subscription.term == 2


def test_a_restart_with_a_later_clock_start_starts_there(
    make_container: Callable[..., Container],
) -> None:
    first = make_container()
    buy_plan(first.services)
    first.close()
    wanted = LATER + timedelta(days=400)

    restarted = make_container(clock_start=wanted)

    assert restarted.services.clock.now() == wanted


def test_an_empty_log_starts_the_manual_clock_at_its_setting(
    make_container: Callable[..., Container],
) -> None:
    container = make_container()

    assert container.services.clock.now() == container.settings.clock_start
