"""The store and its recorders are built on eventsourcing's private methods:
``LifecycleStore.save`` (infrastructure/store.py) copies ``Application.save`` step by
step (``ProcessingEvent``, ``_record``, ``_take_snapshots``, ``_notify``, ``notify``),
and the recorders (infrastructure/recorders.py) override the library's own. They were
written against one release, pinned exactly in pyproject.toml. Any other release fails
here, saying what to read again, before anything subtler breaks."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import tomllib
from pathlib import Path
from typing import Any

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

PINNED = "9.5.6"

RECHECK = (
    "re-read eventsourcing's application.py, sqlite.py and postgres.py of the new release "
    "against LifecycleStore.save (src/infrastructure/store.py) and the recorders "
    "(src/infrastructure/recorders.py), carry over what changed, then update PINNED, the "
    "pin in pyproject.toml and the expectations in this file"
)

SEAM: dict[str, tuple[Any, str, str]] = {
    # What the store and the recorders rely on: its parameters, and a fingerprint of
    # its source in the pinned release (a change there may need the same change here).
    "Application.save": (Application.save, "self, *objs, **kwargs", "4e9747d14b8fd046"),
    "Application._record": (Application._record, "self, processing_event", "104c6186b29d5059"),
    "Application._take_snapshots": (
        Application._take_snapshots, "self, processing_event", "ae98c5b97ed9a8e3"
    ),
    "Application._notify": (Application._notify, "self, recordings", "6b32f9fc4b4cf455"),
    "Application.notify": (Application.notify, "self, new_events", "d541f3a8a3b0b6f8"),
    "ProcessingEvent.__init__": (ProcessingEvent.__init__, "self, tracking", "a0682ee01c41601c"),
    "ProcessingEvent.collect_events": (
        ProcessingEvent.collect_events, "self, *objs, **kwargs", "7e3a7e6b1abd2bef"
    ),
    "Aggregate.collect_events": (Aggregate.collect_events, "self", "7ae9c9f92654a777"),
    "JSONTranscoder._encode_obj": (JSONTranscoder._encode_obj, "self, o", "e7a92650c9f989f4"),
    "PostgresApplicationRecorder.__init__": (
        PostgresApplicationRecorder.__init__,
        "self, datastore, events_table_name",
        "db36fb3de49a5292",
    ),
    "PostgresApplicationRecorder.insert_events": (
        PostgresApplicationRecorder.insert_events,
        "self, stored_events, **kwargs",
        "f1a98da0239e3ea7",
    ),
    "PostgresApplicationRecorder._create_table": (
        PostgresApplicationRecorder._create_table, "self, curs", "2a02b9fe6d23ddc9"
    ),
    "PostgresApplicationRecorder.select_notifications": (
        PostgresApplicationRecorder.select_notifications,
        "self, start, limit, stop, topics, inclusive_of_start",
        "4469ac7a30c9650e",
    ),
    "PostgresApplicationRecorder.max_notification_id": (
        PostgresApplicationRecorder.max_notification_id, "self", "b5b67785110c04e7"
    ),
    "SQLiteApplicationRecorder._insert_events": (
        SQLiteApplicationRecorder._insert_events,
        "self, c, stored_events, **_",
        "413cdf219c7bae63",
    ),
    "SQLiteApplicationRecorder.select_notifications": (
        SQLiteApplicationRecorder.select_notifications,
        "self, start, limit, stop, topics, inclusive_of_start",
        "7769734dcf32b811",
    ),
}


def parameters(function: Any) -> str:
    shown = []
    for parameter in inspect.signature(function).parameters.values():
        prefix = {
            inspect.Parameter.VAR_POSITIONAL: "*",
            inspect.Parameter.VAR_KEYWORD: "**",
        }.get(parameter.kind, "")
        shown.append(prefix + parameter.name)
    return ", ".join(shown)


def fingerprint(function: Any) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def test_the_installed_eventsourcing_is_the_release_the_store_was_written_against() -> None:
    installed = importlib.metadata.version("eventsourcing")
    assert installed == PINNED, (
        f"eventsourcing {installed} is installed, the store was written against {PINNED}: "
        + RECHECK
    )


def test_pyproject_pins_eventsourcing_to_that_release_exactly() -> None:
    pyproject = tomllib.loads(
        (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text("utf-8")
    )
    pins = [d for d in pyproject["project"]["dependencies"] if d.startswith("eventsourcing")]
    assert len(pins) == 1 and pins[0].endswith(f"=={PINNED}"), (
        f"pyproject.toml must pin eventsourcing exactly (=={PINNED}), not {pins}: the store "
        "relies on its private methods"
    )


def test_the_private_methods_the_store_relies_on_are_unchanged() -> None:
    changed = []
    for name, (function, expected_parameters, expected_source) in SEAM.items():
        found = parameters(function)
        if found != expected_parameters:
            changed.append(f"{name}({found}) takes other parameters than ({expected_parameters})")
        elif fingerprint(function) != expected_source:
            changed.append(f"{name} has another body than in {PINNED}")
    assert not changed, (
        "eventsourcing changed under the store: " + "; ".join(changed) + ": " + RECHECK
    )


def test_a_processing_event_holds_what_the_store_save_fills_in() -> None:
    processing: ProcessingEvent[Any] = ProcessingEvent()
    assert {name: type(value) for name, value in vars(processing).items()} == {
        "tracking": type(None),
        "events": list,
        "aggregates": dict,
        "saved_kwargs": dict,
    }, f"eventsourcing's ProcessingEvent has other fields than LifecycleStore.save fills: {RECHECK}"

