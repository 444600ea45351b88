"""Views follow new events when the log's head moves, not at the end of their
polling interval: one watcher per process wakes the runners behind the head."""

from __future__ import annotations

import time
from collections.abc import Callable

from api.bootstrap import Container
from commands.accounts import open_account
from commands.context import Caller

AN_HOUR = 3600.0


def test_a_commit_wakes_every_view_although_their_polling_interval_is_an_hour(
    make_container: Callable[..., Container],
) -> None:
    container = make_container(projection_poll_seconds=AN_HOUR)
    container.start()
    time.sleep(0.2)  # each runner has made its first pass and now sleeps for an hour
    position = open_account(
        container.services, Caller.of("tests"), email="woken@example.com", name="W",
        username="woken", kind="free",
    ).position

    deadline = time.monotonic() + 30
    behind = dict.fromkeys(container.runners)
    while behind and time.monotonic() < deadline:
        behind = {n: r for n, r in container.runners.items() if r.position() < position}
        time.sleep(0.01)
    assert not behind, f"still behind after 30 s: {sorted(behind)}"
