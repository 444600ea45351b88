"""The hub's profile views (R50-R56): one JSON document per account, per organisation
and per subscription (billing), each rewritten from its aggregate at the event's
version; the contract views (per contract, with its latest renewal) live in
``projections.contract_views``. What a viewer may see is decided when the profile is
read (``projections.profile_policy``), never when it is written, so one row serves
every viewer and a rebuild has nothing viewer-specific to recompute.

When an organisation's personal data is erased (``Organisation.PersonalDataErased``),
its organisation row, and the rows of its accounts and subscriptions, are rewritten
from their aggregates, which then read every personal value as ``"[erased]"``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from infrastructure.database import Database, Transaction
from infrastructure.store import LifecycleStore
from lifecycle.account import Account
from lifecycle.organisation import Organisation
from lifecycle.subscription import Subscription
from projections.recent import RecentAggregates
from projections.runner import Applied, Projection
from projections.topics import event_topics

ACCOUNT, ORGANISATION, BILLING = "account", "organisation", "billing"
ERASURE = "erasure"


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def account_doc(acc: Account) -> dict[str, Any]:
    return {
        "account_id": str(acc.id),
        "organisation_id": str(acc.organisation_id),
        "name": acc.name,
        "email": acc.email,
        "username": acc.username,
        "user_type": acc.user_type,
        "datacenter": acc.datacenter,
        "email_preferences": dict(acc.email_preferences),
        "community": dict(acc.community) if acc.community else None,
        "certifications": [dict(c) for c in acc.certifications],
    }


def organisation_doc(org: Organisation) -> dict[str, Any]:
    return {
        "organisation_id": str(org.id),
        "licence": org.licence,
        "fedramp": org.fedramp,
        "datacenter": org.datacenter,
        "subscription_id": str(org.subscription_id) if org.subscription_id else None,
        "account_team": dict(org.account_team) if org.account_team else None,
    }


def billing_doc(sub: Subscription) -> dict[str, Any]:
    return {
        "subscription_id": str(sub.id),
        "organisation_id": str(sub.organisation_id),
        "billing_address": dict(sub.billing_address),
        "card": sub.card.shown() if sub.card else None,
    }


class ProfilesProjection(Projection):
    name = "profiles"
    tables = (
        """CREATE TABLE IF NOT EXISTS profile_accounts (
            account_id TEXT PRIMARY KEY,
            organisation_id TEXT NOT NULL,
            doc TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS profile_organisations (
            organisation_id TEXT PRIMARY KEY,
            doc TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS profile_billing (
            subscription_id TEXT PRIMARY KEY,
            organisation_id TEXT NOT NULL,
            doc TEXT NOT NULL
        )""",
    )

    def __init__(self, store: LifecycleStore) -> None:
        self.store = store
        self.topics = event_topics(Account, Organisation, Subscription)
        self.aggregates = RecentAggregates(store)

    def prepare(self, event: Any) -> Any:
        if isinstance(event, Organisation.PersonalDataErased):
            # Copies made before the erasure hold values it removed: read afresh after it.
            self.aggregates.clear()
            return self._erased(event)
        aggregate = self.aggregates.at(event)
        if isinstance(aggregate, Account):
            return ACCOUNT, account_doc(aggregate)
        if isinstance(aggregate, Organisation):
            return ORGANISATION, organisation_doc(aggregate)
        return BILLING, billing_doc(aggregate)

    def _erased(self, event: Any) -> tuple[str, dict[str, Any], list[Any], list[Any]]:
        """The rows of an organisation whose personal data was just erased, read again."""
        self.store.personal_data.forget()  # another process may have erased it
        get = self.store.repository.get
        organisation = get(event.originator_id, version=event.originator_version)
        with self.store.personal_data.database.transaction(commit=False) as tx:
            ids = tx.all(
                "SELECT account_id FROM profile_accounts WHERE organisation_id = ?",
                (str(organisation.id),),
            )
        accounts = [account_doc(get(UUID(row["account_id"]))) for row in ids]
        billing = [billing_doc(get(sid)) for sid in organisation.subscription_ids]
        return ERASURE, organisation_doc(organisation), accounts, billing

    def apply(self, tx: Transaction, event: Any, position: int, prepared: Any) -> None:
        if prepared[0] == ERASURE:
            _, organisation, accounts, billing = prepared
            self.apply(tx, event, position, (ORGANISATION, organisation))
            # Only rows that exist are rewritten: a rebuild writes each row when it
            # reaches that row's own events.
            tx.executemany(
                "UPDATE profile_accounts SET doc = ? WHERE account_id = ?",
                [(dumps(doc), doc["account_id"]) for doc in accounts],
            )
            tx.executemany(
                "UPDATE profile_billing SET doc = ? WHERE subscription_id = ?",
                [(dumps(doc), doc["subscription_id"]) for doc in billing],
            )
            return
        kind, doc = prepared
        _write_rows(tx, {kind: {doc[KEY_OF[kind]]: doc}})

    def apply_batch(self, tx: Transaction, batch: Sequence[Applied]) -> None:
        """The batch's latest document of each row, one statement per table: each
        event's document is the whole row, so the last one of a row is what writing
        them all in turn would leave."""
        latest: dict[str, dict[str, dict[str, Any]]] = {}
        for position, event, prepared in batch:
            if prepared[0] == ERASURE:  # rewrites rows by hand: what came before first
                _write_rows(tx, latest)
                latest = {}
                self.apply(tx, event, position, prepared)
                continue
            kind, doc = prepared
            latest.setdefault(kind, {})[doc[KEY_OF[kind]]] = doc
        _write_rows(tx, latest)


KEY_OF = {ACCOUNT: "account_id", ORGANISATION: "organisation_id", BILLING: "subscription_id"}

UPSERTS = {
    ACCOUNT: "INSERT INTO profile_accounts (account_id, organisation_id, doc) VALUES (?, ?, ?)"
    " ON CONFLICT (account_id) DO UPDATE SET organisation_id = excluded.organisation_id,"
    " doc = excluded.doc",
    ORGANISATION: "INSERT INTO profile_organisations (organisation_id, doc) VALUES (?, ?)"
    " ON CONFLICT (organisation_id) DO UPDATE SET doc = excluded.doc",
    BILLING: "INSERT INTO profile_billing (subscription_id, organisation_id, doc) VALUES (?, ?, ?)"
    " ON CONFLICT (subscription_id) DO UPDATE SET doc = excluded.doc",
}


def _write_rows(tx: Transaction, rows: dict[str, dict[str, dict[str, Any]]]) -> None:
    for kind, docs in rows.items():
        if kind == ORGANISATION:
            params = [(key, dumps(doc)) for key, doc in docs.items()]
        else:
            params = [(key, doc["organisation_id"], dumps(doc)) for key, doc in docs.items()]
        if len(params) == 1:
            tx.execute(UPSERTS[kind], params[0])
        else:
            tx.executemany(UPSERTS[kind], params)


class ProfileRows:
    """Reads of the profile view's rows."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def account(self, account_id: UUID) -> dict[str, Any] | None:
        with self.database.transaction(commit=False) as tx:
            row = tx.one("SELECT doc FROM profile_accounts WHERE account_id = ?", (str(account_id),))
        return json.loads(row["doc"]) if row else None

    def organisation(self, organisation_id: str) -> dict[str, Any] | None:
        with self.database.transaction(commit=False) as tx:
            row = tx.one(
                "SELECT doc FROM profile_organisations WHERE organisation_id = ?", (organisation_id,)
            )
        return json.loads(row["doc"]) if row else None

    def billing(self, subscription_id: str | None) -> dict[str, Any] | None:
        if subscription_id is None:
            return None
        with self.database.transaction(commit=False) as tx:
            row = tx.one(
                "SELECT doc FROM profile_billing WHERE subscription_id = ?", (subscription_id,)
            )
        return json.loads(row["doc"]) if row else None
