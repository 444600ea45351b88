"""Which aggregates an auditor can ask about, by the URL's kind: the aggregate class
and how its GET shows it. Audit itself is generic over aggregate type; adding a kind
is one entry in ``AUDITED``.

Classes and representation functions are looked up lazily, when a request names the
kind, so a kind whose aggregate is still being built answers 404 until it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from lifecycle.errors import NotFound
from projections.audit_lines import aggregate_type_of_class, jsonable

Representation = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class AuditedKind:
    """``aggregate`` is ``module:Class``; ``representation`` is ``module:function``
    (the function the resource's GET uses), tried in order."""

    what: str
    aggregate: str
    representations: tuple[str, ...]

    def aggregate_class(self) -> type:
        cls = _resolve(self.aggregate)
        if not isinstance(cls, type):
            raise NotFound(f"{self.what}s are not recorded by this version of the service")
        return cls

    @property
    def aggregate_type(self) -> str:
        """The ``aggregate_type`` of its events' audit lines (``subscription``)."""
        return aggregate_type_of_class(self.aggregate_class())

    def represent(self, aggregate: Any) -> dict[str, Any]:
        for name in self.representations:
            function = _resolve(name)
            if callable(function):
                return dict(function(aggregate))
        return state_of(aggregate)


AUDITED: dict[str, AuditedKind] = {
    "subscriptions": AuditedKind(
        "subscription", "lifecycle.subscription:Subscription", ("api.representations:subscription",)
    ),
    "contracts": AuditedKind(
        "contract",
        "lifecycle.contract:Contract",
        ("api.representations:contract", "api.representations_contract:contract"),
    ),
}


def audited(kind: str) -> AuditedKind:
    try:
        return AUDITED[kind]
    except KeyError:
        raise NotFound(
            f"there is no audit of {kind!r}; audited kinds: {', '.join(sorted(AUDITED))}"
        ) from None


def _resolve(name: str) -> Any:
    module_name, _, attribute = name.partition(":")
    try:
        module = import_module(module_name)
    except ImportError:
        return None
    return getattr(module, attribute, None)


def state_of(aggregate: Any) -> dict[str, Any]:
    """A kind without a representation yet: its recorded attributes, as JSON."""
    shown = {
        key.lstrip("_"): jsonable(value)
        for key, value in sorted(vars(aggregate).items())
        if key != "_pending_events"
    }
    shown["version"] = aggregate.version
    return shown
