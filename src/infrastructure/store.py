"""The one event log: an eventsourcing Application on SQLite or PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder, Mapper, Transcoder, Transcoding

from infrastructure.database import Database, bound_waits_by_deadline, lift_store_deadline
from infrastructure.personal_data.keys import DataKeys, master_cipher
from infrastructure.personal_data.sealing import (
    PersonalAsSealed,
    SealingMapper,
    SealingTranscoder,
    owning,
)

from lifecycle.account import Account
from lifecycle.cards import Card
from lifecycle.contract import Contract, ContractNumber
from lifecycle.contract_terms import Contact
from lifecycle.licence_request import LicenceRequest
from lifecycle.message import Message
from lifecycle.money import Money
from lifecycle.organisation import Organisation
from lifecycle.purchase import Purchase
from lifecycle.renewal import Renewal
from lifecycle.subscription import Subscription


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class MoneyAsDict(Transcoding):
    type = Money
    name = "money"

    def encode(self, obj: Money) -> dict[str, str]:
        return obj.as_dict()

    def decode(self, data: dict[str, Any]) -> Money:
        return Money.of(data["amount"], data["currency"])


class CardAsDict(Transcoding):
    type = Card
    name = "card"

    def encode(self, obj: Card) -> dict[str, Any]:
        return {
            "token": obj.token,
            "brand": obj.brand,
            "last4": obj.last4,
            "exp_month": obj.exp_month,
            "exp_year": obj.exp_year,
        }

    def decode(self, data: dict[str, Any]) -> Card:
        return Card(**data)


class ContactAsDict(Transcoding):
    type = Contact
    name = "contact"

    def encode(self, obj: Contact) -> dict[str, Any]:
        return {
            "first_name": obj.first_name,
            "last_name": obj.last_name,
            "email": obj.email,
            "account_id": obj.account_id,
        }

    def decode(self, data: dict[str, Any]) -> Contact:
        return Contact(**data)


LATEST_WINDOW = 100


class LifecycleStore(Application):
    """Every aggregate of the service is recorded in this application's single log."""

    name = "Lifecycle"
    snapshotting_intervals = {Subscription: 50, Organisation: 50}

    def __init__(self, env: Any = None) -> None:
        # Personal values are sealed with per-organisation data keys kept beside the log
        # (infrastructure.personal_data); the keys' table is reached once the recorder exists.
        self.personal_data = DataKeys()
        super().__init__(env)
        if self.env.get("CIPHER_TOPIC"):
            self.personal_data.master = master_cipher(self.env.get("CIPHER_KEY"))
        module = self.env.get("PERSISTENCE_MODULE") or ""
        dialect = "postgres" if module.endswith("postgres") else "sqlite"
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        if dialect == "postgres":
            # The pool's own timeout bounds the wait for a connection; libpq's bounds
            # each new connection its workers open (psycopg's default is 130 s).
            datastore.pool.kwargs.setdefault(
                "connect_timeout", max(2, int(self.env.get("POSTGRES_CONNECT_TIMEOUT") or 5))
            )
            bound_waits_by_deadline(datastore.pool)
        self.database = Database(datastore, dialect)
        """Our own tables, on the log's datastore and its pool."""
        self.personal_data.bind(self.database)

    def construct_mapper(self) -> Mapper[Any]:
        transcoder = self.construct_transcoder()
        return self.factory.mapper(transcoder=transcoder, mapper_class=SealingMapper)

    def construct_transcoder(self) -> Transcoder:
        transcoder = SealingTranscoder(self.personal_data)
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(MoneyAsDict())
        transcoder.register(CardAsDict())
        transcoder.register(ContactAsDict())
        transcoder.register(PersonalAsSealed(self.personal_data))

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """``Application.save``, with aggregates told apart from events by their base
        class: the library asks ``isinstance`` of two runtime-checkable protocols for
        every object saved, which inspects the object's attributes each time (a tenth
        of a save's own CPU)."""
        with owning(self.personal_data, objs):
            processing: ProcessingEvent[Any] = ProcessingEvent()
            for obj in objs:
                if isinstance(obj, Aggregate):
                    processing.events.extend(obj.collect_events())
                    processing.aggregates[obj.id] = obj
                elif obj is not None:
                    processing.collect_events(obj)
            processing.saved_kwargs.update(kwargs)
            recordings = self._record(processing)
            lift_store_deadline()  # committed: keeping the answer may wait as before
            self._take_snapshots(processing)
            self._notify(recordings)
            self.notify(processing.events)  # the library's deprecated hook, kept
            return recordings

    def latest_instant(self, window: int = LATEST_WINDOW) -> datetime | None:
        """When the latest of the last ``window`` events recorded happened (commands
        racing each other may commit a little out of time order), or ``None`` for an
        empty log."""
        head = self.recorder.recorded_head()  # type: ignore[attr-defined]
        if not head:
            return None
        recent = self.recorder.select_notifications(  # type: ignore[call-arg]
            start=max(1, head - window + 1), limit=window, settled_only=False
        )
        instants: list[datetime] = [
            self.mapper.to_domain_event(n).timestamp for n in recent  # type: ignore[attr-defined]
        ]
        return max(instants, default=None)


AGGREGATE_TYPES: dict[str, type] = {
    "organisation": Organisation,
    "account": Account,
    "purchase": Purchase,
    "subscription": Subscription,
    "licence_request": LicenceRequest,
    "message": Message,
    "contract": Contract,
    "contract_number": ContractNumber,
    "renewal": Renewal,
}


def persistence_env(database_url: str) -> dict[str, str]:
    """eventsourcing's settings for a ``sqlite:///path`` or ``postgresql://`` URL."""
    parts = urlsplit(database_url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path, as SQLAlchemy spells them.
        prefix = "sqlite:///"
        path = unquote(database_url[len(prefix):]) if database_url.startswith(prefix) else ""
        if not path:
            raise ValueError("a sqlite URL names a file: sqlite:///./lifecycle.db")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
            "CREATE_TABLE": "y",
            "APPLICATION_RECORDER_TOPIC": "infrastructure.recorders:SideWritingSQLiteRecorder",
        }
    if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")),
            "POSTGRES_HOST": parts.hostname or "localhost",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or ""),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": query.get("pool_size", "10"),
            "POSTGRES_MAX_OVERFLOW": query.get("max_overflow", "10"),
            "POSTGRES_CONNECT_TIMEOUT": query.get("connect_timeout", "5"),
            "POSTGRES_LOCK_TIMEOUT": query.get("lock_timeout", "10"),
            "POSTGRES_PRE_PING": "y",
            "CREATE_TABLE": "y",
            "APPLICATION_RECORDER_TOPIC": "infrastructure.recorders:CommitOrderedPostgresRecorder",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"]
        return env
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r}: use sqlite or postgresql")
