"""How the store writes and reads personal values, and the optional whole-event cipher.

**Sealing.** The domain marks personal values by type (``lifecycle.personal.Personal``,
a ``str``). When the store encodes an event or a snapshot, each of them is replaced by

    {"_type_": "personal", "_data_": {"owner": "<owner id>", "sealed": "<base64>"}}

where ``sealed`` is AES-GCM (eventsourcing's ``AESCipher``: nonce, tag, ciphertext) of
the UTF-8 text under the owner's data key, or ``null`` when the owner's personal data
had already been erased. Reading it back gives a ``Personal`` with the text, or with
``ERASED`` once the key is gone; either way it keeps the stored form in ``stored``, which
is what the audit chain hashes. Values written before sealing existed are plain JSON
strings and read back as such.

**Whose key.** The owner is the organisation of the aggregate the event belongs to,
known when the store saves it (``owning``): an ``Organisation`` owns its own values;
any aggregate with an ``organisation_id`` belongs to that organisation; a new buyer's
``Purchase`` has no organisation yet and owns its values itself until it completes; a
``Message`` belongs to the owner of the aggregates saved with it (the change that
caused it). An event encoded outside a save (a snapshot, a test) finds its owner in its
own state the same way. A personal value with no owner is refused, never written in
clear.

**Whole-event cipher.** ``cipher_env`` adds eventsourcing's ``AESCipher`` with the
master key to the store's settings: every stored event and snapshot is then encrypted
as a whole, on top of the sealing.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import resolve_topic

from infrastructure.personal_data.keys import DataKeys, Owner
from lifecycle.message import Message
from lifecycle.organisation import Organisation
from lifecycle.personal import ERASED, Personal
from lifecycle.purchase import Purchase

SEALED = "[sealed]"
"""The text of a personal value read without its key (by the audit's reader)."""

TYPE_NAME = "personal"

CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"


class PersonalDataWithoutOwner(ValueError):
    """A personal value in an event whose organisation is not known: refused rather
    than written in clear."""


_owners: ContextVar[Mapping[UUID, Owner]] = ContextVar("personal_data_owners", default={})
_current: ContextVar[Owner | None] = ContextVar("personal_data_owner", default=None)


# --- whose key ---------------------------------------------------------------------------


def owner_of_aggregate(aggregate: Any) -> Owner | None:
    if isinstance(aggregate, Organisation):
        return Owner(aggregate.id, aggregate.id)
    organisation_id = getattr(aggregate, "organisation_id", None)
    if isinstance(organisation_id, UUID):
        return Owner(organisation_id, organisation_id)
    if isinstance(aggregate, Purchase):
        return Owner(aggregate.id, None)
    return None


def _owner_of_state(cls: Any, originator_id: UUID, state: Mapping[str, Any]) -> Owner | None:
    if isinstance(cls, type) and issubclass(cls, Organisation):
        return Owner(originator_id, originator_id)
    organisation_id = state.get("organisation_id")
    if isinstance(organisation_id, UUID):
        return Owner(organisation_id, organisation_id)
    if isinstance(cls, type) and issubclass(cls, Purchase):
        return Owner(originator_id, None)
    return None


def owner_of_event(event: Any) -> Owner | None:
    """The owner an event (or a snapshot) names by itself."""
    state = vars(event)
    if "topic" in state and isinstance(state.get("state"), Mapping):  # a snapshot
        return _owner_of_state(resolve_topic(state["topic"]), event.originator_id, state["state"])
    aggregate_class = None
    for candidate in (Organisation, Purchase):
        if isinstance(event, candidate.Event):
            aggregate_class = candidate
    return _owner_of_state(aggregate_class, event.originator_id, state)


def owners_of(aggregates: Sequence[Any]) -> dict[UUID, Owner]:
    """The owner of each aggregate saved together; messages take the owner of the
    first other aggregate that has one."""
    owners: dict[UUID, Owner] = {}
    for aggregate in aggregates:
        if aggregate is None or isinstance(aggregate, Message):
            continue
        owner = owner_of_aggregate(aggregate)
        if owner is not None:
            owners[aggregate.id] = owner
    cause = next(iter(owners.values()), None)
    for aggregate in aggregates:
        if isinstance(aggregate, Message) and cause is not None:
            owners[aggregate.id] = cause
    return owners


# --- encoding and decoding -------------------------------------------------------------


class PersonalAsSealed(Transcoding):
    """Reads a sealed personal value (writing happens in ``SealingTranscoder``, since
    JSON writes any ``str`` itself without asking the transcoder).

    ``keys=None`` reads without opening anything: the audit's reader, which only needs
    the stored form."""

    type = Personal
    name = TYPE_NAME

    def __init__(self, keys: DataKeys | None) -> None:
        self.keys = keys

    def encode(self, obj: Personal) -> dict[str, Any]:
        raise TypeError("personal values are sealed by SealingTranscoder")

    def decode(self, data: dict[str, Any]) -> Personal:
        stored = {"owner": str(data["owner"]), "sealed": data["sealed"]}
        if self.keys is None:
            return Personal(SEALED, stored)
        if stored["sealed"] is None:
            return Personal(ERASED, stored)
        cipher = self.keys.cipher_of(UUID(stored["owner"]))
        if cipher is None:
            return Personal(ERASED, stored)
        try:
            sealed = base64.b64decode(stored["sealed"], validate=True)
        except binascii.Error as error:
            raise ValueError(f"a sealed value is not base64: {error}") from None
        return Personal(cipher.decrypt(sealed).decode("utf-8"), stored)


class SealingTranscoder(JSONTranscoder):
    """eventsourcing's JSON transcoder, sealing every ``Personal`` it writes with the
    data key of the event's owner."""

    def __init__(self, keys: DataKeys) -> None:
        super().__init__()
        self.keys = keys

    def encode(self, obj: Any) -> bytes:
        return super().encode(self._sealed(obj))

    def _encode_obj(self, o: Any) -> dict[str, Any]:
        # Values of custom types (a Contact) may hold personal values too.
        return self._sealed(super()._encode_obj(o))  # type: ignore[no-any-return]

    def _sealed(self, value: Any) -> Any:
        if isinstance(value, Personal):
            return {"_type_": TYPE_NAME, "_data_": self._seal(value)}
        if isinstance(value, dict):
            return {key: self._sealed(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._sealed(item) for item in value]
        return value

    def _seal(self, value: Personal) -> dict[str, Any]:
        owner = _current.get()
        if owner is None:
            raise PersonalDataWithoutOwner(
                "a personal value in an event of no known organisation; refusing to store it"
            )
        cipher = self.keys.cipher_for(owner)
        if cipher is None:  # erased: nothing personal is kept for this owner any more
            return {"owner": str(owner.id), "sealed": None}
        sealed = cipher.encrypt(str(value).encode("utf-8"))
        return {"owner": str(owner.id), "sealed": base64.b64encode(sealed).decode("ascii")}


OWNER_IN_STATE = re.compile(rb'"owner": ?"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"')
"""An owner as a sealed value names it in a stored event's JSON."""


class SealingMapper(Mapper[UUID]):
    """eventsourcing's mapper, telling the transcoder whose key seals each event."""

    def prefetch(self, stored_events: Iterable[Any]) -> None:
        """Read together the data keys that decoding these stored events will need
        (found by a scan of their JSON; encrypted or compressed states show none and
        have their keys read one by one while decoding)."""
        keys: DataKeys | None = getattr(self.transcoder, "keys", None)
        if keys is None:
            return
        owners = {
            match
            for stored in stored_events
            for match in OWNER_IN_STATE.findall(stored.state)
        }
        if owners:
            keys.prefetch(UUID(owner.decode("ascii")) for owner in owners)

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        owner = _owners.get().get(domain_event.originator_id) or owner_of_event(domain_event)
        token = _current.set(owner)
        try:
            return super().to_stored_event(domain_event)
        finally:
            _current.reset(token)


@contextmanager
def owning(keys: DataKeys, aggregates: Sequence[Any]) -> Iterator[None]:
    """While the store saves ``aggregates``: their owners, for the mapper; and a new
    buyer's purchase that completed into an organisation links its key to it."""
    owners = owners_of(aggregates)
    for aggregate in aggregates:
        if (
            isinstance(aggregate, Purchase)
            and aggregate.is_new_buyer
            and aggregate.organisation_id is not None
        ):
            keys.link(aggregate.id, aggregate.organisation_id)
    token = _owners.set(owners)
    try:
        yield
    finally:
        _owners.reset(token)


# --- the whole-event cipher ---------------------------------------------------------------


def cipher_env(master_key: str | None) -> dict[str, str]:
    """eventsourcing's settings that encrypt every stored event with the master key."""
    if not master_key:
        return {}
    return {"CIPHER_TOPIC": CIPHER_TOPIC, "CIPHER_KEY": master_key}


class StoredEventsUnreadable(Exception):
    """The stored events cannot be read with the configured key (or lack of one)."""


def check_readable(store: Any) -> None:
    """Fail now, with a clear error, if the stored events or data keys cannot be read
    with this configuration, rather than serve garbage or fail on every request."""
    encrypted = bool(store.env.get("CIPHER_TOPIC"))
    # The first stored event, settled or not: a look at the log, not a reader following it.
    first = store.recorder.select_notifications(start=None, limit=1, settled_only=False)
    for notification in first:
        try:
            store.mapper.to_domain_event(notification)
        except MapperDeserialisationError:
            if encrypted:
                raise StoredEventsUnreadable(
                    "LIFECYCLE_EVENT_CIPHER_KEY does not decrypt the stored events: it is not "
                    "the key they were written with, or they were written without encryption "
                    "(turning encryption on for an existing log is not supported in place)"
                ) from None
            raise StoredEventsUnreadable(
                "the stored events do not decode: they were written encrypted; set "
                "LIFECYCLE_EVENT_CIPHER_KEY to the key they were written with"
            ) from None
    store.personal_data.check()
