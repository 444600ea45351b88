"""What sealing personal values (and the optional whole-event cipher) costs.

    .venv/bin/python bench/personal_data.py [DATABASE_URL]

Three stores side by side, on a fresh SQLite file (or the PostgreSQL database given):
``plain`` writes personal values as plain text (the store before sealing), ``sealed`` is
the store as it is (each personal value sealed with its organisation's data key), and
``sealed+cipher`` adds the whole-event cipher. For each it prints the time to encode and
decode a mix of events (the mapper alone), and to save and load an aggregate (one round
trip to the database each), with the ratio to ``plain``. Figures, not a test.
"""

from __future__ import annotations

import base64
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from eventsourcing.persistence import JSONTranscoder, Mapper  # noqa: E402

from infrastructure.personal_data.sealing import cipher_env, owning  # noqa: E402
from infrastructure.store import LifecycleStore, persistence_env  # noqa: E402
from lifecycle.account import Account  # noqa: E402
from lifecycle.change import Change  # noqa: E402
from lifecycle.contract import Contract  # noqa: E402
from lifecycle.contract_terms import Contact  # noqa: E402
from lifecycle.message import Message  # noqa: E402
from lifecycle.money import Money  # noqa: E402

CHANGE = Change(datetime(2027, 1, 31, 9, 0, tzinfo=timezone.utc), "bench", None, "c", "c")
ROUNDS = 2000


class PlainStore(LifecycleStore):
    """The store as it was before sealing: personal values written as plain text."""

    def construct_mapper(self) -> Mapper[Any]:
        transcoder = JSONTranscoder()
        self.register_transcodings(transcoder)
        return self.factory.mapper(transcoder=transcoder)


def events(organisation_id: Any) -> tuple[list[Any], list[Any]]:
    """Three aggregates saved together, and their events."""
    account = Account.open(
        uuid4(), organisation_id=organisation_id, name="Ada Lovelace", email="ada@example.com",
        username="ada", user_type="standard", datacenter="us-1", change=CHANGE,
    )
    contract = Contract.create(
        uuid4(), organisation_id=organisation_id, number=1, start_date=date(2027, 1, 1),
        term_months=12, licences=["cx", "ex"], notice_days=90, price=Money.of("12000", "USD"),
        primary_contact=Contact.of("Olive", "Owner", "olive@customer.example"),
        billing_contact=Contact.of("Bill", "Payer", "bill@customer.example"), change=CHANGE,
    )
    message = Message.compose(
        uuid4(), kind="renewal_reminder", recipient="ada@example.com",
        subject="Your subscription renews in 30 days",
        body="Your licence renews on 2028-01-31 for 1500.00 USD, charged to the card ending 4242.",
        data={"subscription_id": str(uuid4()), "amount": {"amount": "1500.00", "currency": "USD"}},
        about=uuid4(), change=CHANGE,
    )
    aggregates = [account, contract, message]
    return aggregates, [e for a in aggregates for e in a.collect_events()]


def per_call(function: Callable[[], Any], rounds: int) -> float:
    """Median seconds per call over five batches."""
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            function()
        samples.append((time.perf_counter() - started) / rounds)
    return statistics.median(samples)


def measure(store: LifecycleStore) -> dict[str, float]:
    organisation_id = uuid4()
    aggregates, batch = events(organisation_id)
    with owning(store.personal_data, aggregates):  # as save() does: whose key seals what
        stored = [store.mapper.to_stored_event(e) for e in batch]
        encode = per_call(lambda: [store.mapper.to_stored_event(e) for e in batch], ROUNDS // 10)
    decode = per_call(lambda: [store.mapper.to_domain_event(s) for s in stored], ROUNDS // 10)

    def save() -> None:
        account = Account.open(
            uuid4(), organisation_id=organisation_id, name="Ada Lovelace",
            email="ada@example.com", username="ada", user_type="standard", datacenter="us-1",
            change=CHANGE,
        )
        store.save(account)
        saved.append(account.id)

    saved: list[Any] = []
    save_time = per_call(save, ROUNDS // 20)
    ids = iter(saved * 2)
    load_time = per_call(lambda: store.repository.get(next(ids)), ROUNDS // 20)
    return {
        "encode 3 events": encode,
        "decode 3 events": decode,
        "save an account": save_time,
        "load an account": load_time,
    }


def main() -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    with tempfile.TemporaryDirectory() as directory:
        given = sys.argv[1] if len(sys.argv) > 1 else None
        results = {}
        for label, cls, extra in (
            ("plain", PlainStore, {}),
            ("sealed", LifecycleStore, {}),
            ("sealed+cipher", LifecycleStore, cipher_env(key)),
        ):
            url = given or f"sqlite:///{Path(directory) / (label + '.db')}"
            store = cls(env={**persistence_env(url), **extra})
            try:
                results[label] = measure(store)
            finally:
                store.close()
    where = "PostgreSQL" if given else "SQLite (temporary file)"
    print(f"personal data at rest: cost per operation on {where}, median of 5 batches")
    print(f"{'':18}" + "".join(f"{label:>22}" for label in results))
    for metric in results["plain"]:
        base = results["plain"][metric]
        cells = []
        for label in results:
            value = results[label][metric]
            cells.append(f"{value * 1e6:9.1f} us ({value / base:4.2f}x)")
        print(f"{metric:18}" + "".join(f"{cell:>22}" for cell in cells))


if __name__ == "__main__":
    main()
