"""The contract views behind the profile (R54): one JSON document per contract, and
the latest renewal of each contract as a summary; visibility is decided at read time
(``projections.profile_policy.visible_contracts``). When an organisation's personal
data is erased, its contracts' rows are rewritten from the contracts, whose contacts
then read as ``"[erased]"``."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from eventsourcing.utils import get_topic

from infrastructure.database import Database, Transaction
from infrastructure.store import LifecycleStore
from lifecycle.contract import BILLING, PRIMARY, Contract
from lifecycle.organisation import Organisation
from lifecycle.renewal import Renewal
from projections.profiles import dumps
from projections.runner import Projection
from projections.topics import event_topics


def _instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def contract_doc(c: Contract) -> dict[str, Any]:
    def contact(role: str) -> dict[str, Any]:
        return {**c.contacts[role].as_dict(), "last_updated": _instant(c.last_updated(role))}

    return {
        "contract_id": str(c.id),
        "organisation_id": str(c.organisation_id),
        "number": c.number,
        "status": c.status,
        "term_number": c.term_number,
        "start_date": c.start_date.isoformat(),
        "end_date": c.end_date.isoformat(),
        "licences": list(c.licences),
        "term_months": c.term_months,
        "primary_contact": contact(PRIMARY),
        "billing_contact": contact(BILLING),
    }


def renewal_doc(r: Renewal) -> dict[str, Any]:
    return {
        "renewal_id": str(r.id),
        "term_number": r.term_number,
        "stage": r.stage,
        "end_date": r.end_date.isoformat(),
        "notice_deadline": r.notice_deadline.isoformat(),
    }


class ContractsProjection(Projection):
    name = "contracts"
    tables = (
        """CREATE TABLE IF NOT EXISTS contract_views (
            contract_id TEXT PRIMARY KEY,
            organisation_id TEXT NOT NULL,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS contract_views_by_organisation"
        " ON contract_views (organisation_id)",
        """CREATE TABLE IF NOT EXISTS contract_renewals (
            contract_id TEXT PRIMARY KEY,
            term_number BIGINT NOT NULL,
            doc TEXT NOT NULL
        )""",
    )

    def __init__(self, store: LifecycleStore) -> None:
        self.store = store
        self.topics = [*event_topics(Contract, Renewal), get_topic(Organisation.PersonalDataErased)]

    def prepare(self, event: Any) -> Any:
        if isinstance(event, Organisation.PersonalDataErased):
            self.store.personal_data.forget()  # another process may have erased it
            get = self.store.repository.get
            organisation = get(event.originator_id, version=event.originator_version)
            return "erasure", [contract_doc(get(cid)) for cid in organisation.contract_ids]
        aggregate = self.store.repository.get(event.originator_id, version=event.originator_version)
        if isinstance(aggregate, Contract):
            return "contract", contract_doc(aggregate)
        return "renewal", {"contract_id": str(aggregate.contract_id), **renewal_doc(aggregate)}

    def apply(self, tx: Transaction, event: Any, position: int, prepared: Any) -> None:
        kind, doc = prepared
        if kind == "erasure":
            tx.executemany(  # rows a rebuild has not reached yet are written when it does
                "UPDATE contract_views SET doc = ? WHERE contract_id = ?",
                [(dumps(contract), contract["contract_id"]) for contract in doc],
            )
            return
        if kind == "contract":
            tx.execute(
                "INSERT INTO contract_views (contract_id, organisation_id, doc) VALUES (?, ?, ?)"
                " ON CONFLICT (contract_id) DO UPDATE SET doc = excluded.doc",
                (doc["contract_id"], doc["organisation_id"], dumps(doc)),
            )
            return
        contract_id = doc.pop("contract_id")
        # The latest term's renewal is the contract's renewal summary.
        tx.execute(
            "INSERT INTO contract_renewals (contract_id, term_number, doc) VALUES (?, ?, ?)"
            " ON CONFLICT (contract_id) DO UPDATE SET term_number = excluded.term_number,"
            " doc = excluded.doc WHERE contract_renewals.term_number <= excluded.term_number",
            (contract_id, doc["term_number"], dumps(doc)),
        )


class ContractRows:
    def __init__(self, database: Database) -> None:
        self.database = database

    def of_organisation(self, organisation_id: str) -> list[dict[str, Any]]:
        with self.database.transaction(commit=False) as tx:
            rows = tx.all(
                "SELECT doc FROM contract_views WHERE organisation_id = ? ORDER BY contract_id",
                (organisation_id,),
            )
        docs = [json.loads(row["doc"]) for row in rows]
        return sorted(docs, key=lambda d: (d["start_date"], d["number"]))

    def renewal(self, contract_id: str) -> dict[str, Any] | None:
        with self.database.transaction(commit=False) as tx:
            row = tx.one("SELECT doc FROM contract_renewals WHERE contract_id = ?", (contract_id,))
        return json.loads(row["doc"]) if row else None
