"""Fixtures of the end-to-end tests: ``lifecycle serve`` processes, each stopped after
its test whatever the test did to it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lifecycle_server import LifecycleServer


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., LifecycleServer]]:
    """``serve(database_url, name=..., **settings)`` starts ``lifecycle serve`` on that
    database (manual clock, the e2e tokens) and returns it once healthy. Every server
    started is terminated after the test and its output printed."""
    started: list[LifecycleServer] = []

    def start(database_url: str, name: str = "server", **settings: str) -> LifecycleServer:
        server = LifecycleServer(database_url, tmp_path, name, **settings)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.terminate()
    for server in started:
        print(f"--- output of {server.log_path.name} (last 40 lines) ---")
        print("\n".join(server.output().splitlines()[-40:]))


@pytest.fixture
def report(tmp_path: Path, record_property: Callable[[str, Any], None]) -> Callable[[str, dict[str, Any]], None]:
    """``report(name, figures)``: what a fault test measured, printed (``-s`` shows it),
    written to ``<tmp>/<name>.json`` and added to the JUnit report's properties."""

    def write(name: str, figures: dict[str, Any]) -> None:
        text = json.dumps(figures, indent=2, sort_keys=True)
        (tmp_path / f"{name}.json").write_text(text)
        for key, value in figures.items():
            record_property(f"{name}.{key}", value)
        print(f"\n--- {name} ---\n{text}")

    return write
