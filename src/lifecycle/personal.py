"""Personal data: the values of events that are about a person.

The domain marks them by type: a :class:`Personal` is a ``str`` (it compares, hashes,
formats and serialises as its text), so rules and views use it like any other text.
The store seals every ``Personal`` it writes with the data key of the organisation
the aggregate belongs to, and reads it back as its text, or as :data:`ERASED` once
that key has been deleted (``commands.personal_data``). Everything else an event holds
(ids, amounts, dates, states, kinds) stays in clear for the rules and the audit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

ERASED = "[erased]"
"""What a personal value reads as once its organisation's personal data was erased."""

T = TypeVar("T")


class Personal(str):
    """Text about a person: a name, an e-mail address, a contact detail, or free text
    someone wrote.

    ``stored`` is how the value is kept in the log (its owner's id and the sealed
    text), set when it is read back from the log and ``None`` for a value made in
    memory; the audit chain hashes that stored form, never the text.
    """

    stored: Mapping[str, Any] | None

    def __new__(cls, text: str = "", stored: Mapping[str, Any] | None = None) -> Personal:
        value = super().__new__(cls, text)
        value.stored = stored
        return value

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.stored))

    def __deepcopy__(self, memo: dict[int, Any]) -> Personal:
        return self  # immutable, like str

    def __copy__(self) -> Personal:
        return self


def personal(value: T) -> T:
    """``value`` with every text in it marked personal: a ``str``, or the texts inside
    lists and dicts (keys stay as they are). ``None`` and other values are unchanged."""
    if isinstance(value, Personal) or value is None:
        return value
    if isinstance(value, str):
        return Personal(value)  # type: ignore[return-value]
    if isinstance(value, Mapping):
        return {key: personal(item) for key, item in value.items()}  # type: ignore[return-value]
    if isinstance(value, (list, tuple)):
        return [personal(item) for item in value]  # type: ignore[return-value]
    return value


def personal_fields(values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """A copy of ``values`` whose entries named in ``names`` are marked personal."""
    chosen = frozenset(names)
    return {key: personal(item) if key in chosen else item for key, item in values.items()}
