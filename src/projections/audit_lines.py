"""An event as the auditor sees it (R60, R61): one JSON object per event, and its hash.

The line of the event at log ``position``::

    {position, aggregate_id, aggregate_type, version, type, occurred_at,
     service, actor, command_id, correlation_id, data, prev_hash, hash}

``data`` is every other attribute the event stores, rendered as JSON: money as
``{"amount": "<decimal string>", "currency": ...}``, decimals as strings, instants in
RFC 3339 with ``Z``, dates ISO, UUIDs as strings, and a personal value as it is stored:
``{"owner": "<organisation or purchase id>", "sealed": "<base64>"}`` (``sealed`` is
``null`` when it was written after its organisation's erasure), never its text. ``hash``
is the SHA-256 (lower-case hex) of the UTF-8 bytes of the line without its ``hash`` key,
serialised by :func:`canonical`; ``prev_hash`` is the previous line's hash, 64 zeros
for the first.

Rendering is a pure function of the stored event, so the chain recorded by the
``audit_chain`` projection can be recomputed from the stored rows at any time, without
any data key: erasing an organisation's personal data (deleting its key) changes no
line. An aggregate's history (``reveal=True``) shows personal values as their text
instead, or ``"[erased]"``; it is not hashed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from lifecycle.money import Money
from lifecycle.personal import Personal

GENESIS = "0" * 64
"""The ``prev_hash`` of the first line of the log."""

ENVELOPE = frozenset(
    {"originator_id", "originator_version", "timestamp", "meta", "originator_topic"}
)
"""Event attributes shown in the line's own fields rather than in ``data``
(``originator_topic``, on creation events, is the ``aggregate_type``)."""

HISTORY_FIELDS = (
    "position",
    "version",
    "type",
    "occurred_at",
    "service",
    "actor",
    "command_id",
    "correlation_id",
    "data",
)


def rfc3339(instant: datetime) -> str:
    """An instant in UTC with ``Z`` (microseconds only when there are any)."""
    if instant.tzinfo is None:
        raise ValueError(f"naive instant {instant!r} in an event")
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def jsonable(value: Any, sealed: bool = False) -> Any:
    """A JSON value for anything an event stores; a personal value as its text, or as
    it is stored with ``sealed``."""
    if sealed and isinstance(value, Personal) and value.stored is not None:
        return dict(value.stored)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Money):
        return value.as_dict()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return jsonable(value.value, sealed)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item, sealed) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(item, sealed) for item in value]
        return sorted(items, key=canonical) if isinstance(value, (set, frozenset)) else items
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name), sealed) for f in dataclasses.fields(value)}
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    # Any other value object: what it says it is, else its attributes, else its text.
    # Never a failure: an event the chain cannot render would stop the chain there.
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return jsonable(as_dict(), sealed)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return jsonable(vars(value), sealed)
    return str(value)


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def event_type(event: Any) -> str:
    """``UsageRecorded`` for ``Subscription.UsageRecorded``."""
    return type(event).__qualname__.rsplit(".", 1)[-1]


def aggregate_type(event: Any) -> str:
    """``subscription`` for an event of ``Subscription`` (the class the event is nested in)."""
    qualname = type(event).__qualname__
    owner = qualname.rsplit(".", 2)[-2] if "." in qualname else qualname
    return snake_case(owner)


def aggregate_type_of_class(cls: type) -> str:
    return snake_case(cls.__name__)


def audit_line(event: Any, position: int, reveal: bool = False) -> dict[str, Any]:
    """The line of a stored event, without ``prev_hash`` and ``hash``; with ``reveal``,
    personal values as their text (for reading a history, never for hashing)."""
    meta = getattr(event, "meta", None) or {}
    state = vars(event)
    return {
        "position": int(position),
        "aggregate_id": str(event.originator_id),
        "aggregate_type": aggregate_type(event),
        "version": int(event.originator_version),
        "type": event_type(event),
        "occurred_at": rfc3339(event.timestamp),
        "service": meta.get("service"),
        "actor": meta.get("actor"),
        "command_id": meta.get("command_id"),
        "correlation_id": meta.get("correlation_id"),
        "data": {
            key: jsonable(value, sealed=not reveal)
            for key, value in sorted(state.items())
            if key not in ENVELOPE
        },
    }


def canonical(obj: Any) -> str:
    """The one serialisation that is hashed (and that export lines are written in)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def line_hash(line_without_hash: Mapping[str, Any]) -> str:
    if "hash" in line_without_hash:
        raise ValueError("the hash is computed over the line without its hash")
    return hashlib.sha256(canonical(line_without_hash).encode("utf-8")).hexdigest()


def chained(line: Mapping[str, Any], prev_hash: str) -> dict[str, Any]:
    """The line with ``prev_hash`` and its ``hash``."""
    linked = {**line, "prev_hash": prev_hash}
    linked["hash"] = line_hash(linked)
    return linked


def history_entry(line: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of one event in an aggregate's history."""
    return {key: line[key] for key in HISTORY_FIELDS}
