"""Any text survives sealing: the store reads back exactly what was written, never
stores it in clear, and after erasure reads the marker from the unchanged stored form."""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from infrastructure.store import LifecycleStore, persistence_env
from lifecycle.account import Account
from lifecycle.change import Change
from lifecycle.personal import ERASED, Personal

CHANGE = Change(datetime(2027, 1, 31, 9, 0, tzinfo=timezone.utc), "tests", None, "c", "c")


def opened(organisation_id: object, name: str, email: str) -> Account.Opened:
    account = Account.open(
        uuid4(),
        organisation_id=organisation_id,  # type: ignore[arg-type]
        name=name,
        email=email,
        username="u",
        user_type="standard",
        datacenter="us-1",
        change=CHANGE,
    )
    (event,) = account.collect_events()
    return event  # type: ignore[no-any-return]


def test_personal_text_round_trips_through_the_store_and_is_never_stored_in_clear() -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'lifecycle.db'}"
        store = LifecycleStore(env=persistence_env(url))
        organisation_id = uuid4()
        try:

            @settings(max_examples=150, deadline=None)
            @given(name=st.text(), email=st.text(min_size=1))
            def round_trip(name: str, email: str) -> None:
                marked = f"\u00a7{uuid4().hex}\u00a7{email}"  # found only if stored in clear
                stored = store.mapper.to_stored_event(opened(organisation_id, name, marked))
                assert marked.encode() not in stored.state
                read = store.mapper.to_domain_event(stored)
                name_read = read.name  # type: ignore[attr-defined]
                assert isinstance(name_read, Personal) and name_read == name
                assert read.email == marked  # type: ignore[attr-defined]

            round_trip()

            stored = store.mapper.to_stored_event(opened(organisation_id, "Ada", "ada@x.example"))
            before = store.mapper.to_domain_event(stored)
            store.personal_data.erase(organisation_id, CHANGE.at)
            after = store.mapper.to_domain_event(stored)
            assert (after.name, after.email) == (ERASED, ERASED)  # type: ignore[attr-defined]
            assert after.email.stored == before.email.stored  # type: ignore[attr-defined]
        finally:
            store.close()
