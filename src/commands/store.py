"""The one event log: an eventsourcing Application on SQLite or PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import unquote, urlsplit

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoding

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


class LifecycleStore(Application):
    """Every aggregate of the service is recorded in this application's single log."""

    name = "Lifecycle"
    snapshotting_intervals = {Subscription: 50, Organisation: 50}

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(MoneyAsDict())
        transcoder.register(CardAsDict())
        transcoder.register(ContactAsDict())


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
            "APPLICATION_RECORDER_TOPIC": "commands.recorders:SideWritingSQLiteRecorder",
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
            "APPLICATION_RECORDER_TOPIC": "commands.recorders:CommitOrderedPostgresRecorder",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"]
        return env
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r}: use sqlite or postgresql")
