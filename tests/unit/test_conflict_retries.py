"""A command without If-Match tries again, after a short random wait, when another writer
got to its aggregate first, until it applies or its deadline passes."""

from __future__ import annotations

import time

import pytest
from eventsourcing.persistence import IntegrityError

from commands.services import ResourceBusy, VersionConflict, retrying


def conflicting(times: int) -> tuple[list[float], object]:
    """An attempt that meets a conflicting writer ``times`` times, then applies."""
    tried: list[float] = []

    def attempt() -> str:
        tried.append(time.monotonic())
        if len(tried) <= times:
            raise IntegrityError("another writer saved this version first")
        return "applied"

    return tried, attempt


def test_a_command_without_if_match_applies_after_many_conflicts() -> None:
    tried, attempt = conflicting(12)

    assert retrying(attempt) == "applied"  # type: ignore[arg-type]
    assert len(tried) == 13


def test_the_waits_between_attempts_grow() -> None:
    tried, attempt = conflicting(8)

    retrying(attempt)  # type: ignore[arg-type]

    waits = [b - a for a, b in zip(tried, tried[1:])]
    assert sum(waits[4:]) > sum(waits[:4])


def test_a_command_whose_conflicts_outlast_the_deadline_is_busy_not_a_version_conflict() -> None:
    _, attempt = conflicting(10**9)

    with pytest.raises(ResourceBusy) as busy:
        retrying(attempt, deadline_seconds=0.05)  # type: ignore[arg-type]

    assert not isinstance(busy.value, VersionConflict)


def test_with_if_match_the_first_conflict_is_a_version_conflict() -> None:
    tried, attempt = conflicting(1)

    with pytest.raises(VersionConflict):
        retrying(attempt, if_match=3)  # type: ignore[arg-type]
    assert len(tried) == 1


def test_a_busy_resource_answers_503_with_retry_after() -> None:
    from api.problems import domain_problem

    answer = domain_problem(ResourceBusy("other commands kept changing it"))

    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert b'"/problems/resource-busy"' in bytes(answer.body)
