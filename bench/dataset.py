"""A log of about N real events for B4 and B7, written through the store.

Each organisation tells the same story in 24 events: it registers, opens four
accounts (the first its brand admin), sets its account team, buys a self-service
subscription (the subscription starts, the organisation is granted the licence),
each account changes its email preferences and its name, and the subscription
records usage eight times. Every event goes through the aggregates' command methods
and ``store.save()`` (mapper, transcoder, sealing of personal values, recorder), so
the rows are exactly what the service writes and reads. All of them are events of
the aggregates the profile view follows (organisations, accounts, subscriptions); at
the end the view holds one row per organisation, account and subscription.

Organisations are written in blocks: each step of the story is taken by every
organisation of the block and saved in one ``save()`` (one transaction), so that the
events of a block's organisations interleave in the log, as concurrent customers'
events do.

Writing a million events through Python takes longer than the whole benchmark may
(the store encodes and seals about a thousand events a second here), so only the first
block is written through the store; the log is then made of copies of that block, made
in SQL. Every id in the block shares the middle groups ``-0000-4000-8000-``; copy *k*
writes the same rows with those groups set to *k* (in the ``originator_id`` column and
inside each event's state), and a copy of each organisation's data key under its new
id, so each copy is a block of other organisations with the same story, decodable
like the original.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from lifecycle.account import BRAND_ADMIN, STANDARD, Account
from lifecycle.cards import Card
from lifecycle.catalogue import Caps
from lifecycle.change import Change
from lifecycle.money import Money
from lifecycle.organisation import FREE, Organisation
from lifecycle.subscription import Subscription

from bench.common import START, container_for, create_database, log

ACCOUNTS = 4
USAGE_RECORDS = 8
EVENTS_PER_ORGANISATION = 1 + ACCOUNTS + 3 + 2 * ACCOUNTS + USAGE_RECORDS  # 24
BLOCK = 250
ORGANISATION, SUBSCRIPTION, ACCOUNT = 1, 2, 3
MIDDLE = "-0000-4000-8000-"


def template_id(kind: int, n: int) -> uuid.UUID:
    return uuid.UUID(f"{kind:08x}{MIDDLE}{n:012x}")


def copy_middle(k: int) -> str:
    return f"-{k:04x}-4000-8000-"


class Story:
    """One organisation's 24 events, one per step."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.organisation: Organisation | None = None
        self.accounts: list[Account] = []
        self.subscription: Subscription | None = None

    def step(self, k: int, at: datetime) -> Any:
        """Take step ``k``; the aggregate that recorded its event."""
        change = Change(at, "bench", None, f"load-{self.n}-{k}", f"load-{self.n}")
        org = self.organisation
        if k == 0:
            self.organisation = Organisation.register(
                template_id(ORGANISATION, self.n), brand_id=f"BR_{self.n:012d}", datacenter="us-1", fedramp=False,
                licence=FREE, trial_ends_at=None, change=change,
            )
            return self.organisation
        assert org is not None
        if k <= ACCOUNTS:
            i = k - 1
            account = Account.open(
                template_id(ACCOUNT + i, self.n), organisation_id=org.id, name=f"Person {self.n}-{i}",
                email=f"person{self.n}-{i}@example.com", username=f"person{self.n}_{i}",
                user_type=BRAND_ADMIN if i == 0 else STANDARD, datacenter=org.datacenter,
                change=change,
            )
            self.accounts.append(account)
            return account
        if k == ACCOUNTS + 1:
            org.set_account_team(
                success_manager={"name": "Sam Success", "email": "sam@example.com"},
                account_executive={"name": "Alex Exec", "email": "alex@example.com"},
                intake_form_url=None, brand_admin_contact=None, change=change,
            )
            return org
        if k == ACCOUNTS + 2:
            self.subscription = Subscription.start(
                template_id(SUBSCRIPTION, self.n), organisation_id=org.id, buyer_account_id=self.accounts[0].id,
                plan="strategic_research", price=Money.of("1500.00", "USD"),
                caps=Caps(responses=None, seats=None),
                card=Card("tok_visa", "visa", "4242", 12, 2031),
                billing_address={"country": "US", "postal_code": f"{self.n % 100000:05d}"},
                payment={"payment_id": f"pay-{self.n}"}, change=change,
            )
            return self.subscription
        if k == ACCOUNTS + 3:
            assert self.subscription is not None
            org.grant_self_service(self.subscription.id, change)
            return org
        first_preferences = ACCOUNTS + 4
        if k < first_preferences + ACCOUNTS:
            account = self.accounts[k - first_preferences]
            account.change_email_preferences({"news_and_updates": False}, change)
            return account
        first_names = first_preferences + ACCOUNTS
        if k < first_names + ACCOUNTS:
            account = self.accounts[k - first_names]
            account.change_details({"name": f"Person {self.n}-{k - first_names} Renamed"}, None,
                                   change)
            return account
        assert self.subscription is not None
        self.subscription.record_usage(1, 0, change)
        return self.subscription


@dataclass
class Loaded:
    events: int
    organisations: int
    seconds: float
    head: int

    @property
    def view_rows(self) -> int:
        """Rows of the profile view after all of it: organisations, accounts, subscriptions."""
        return self.organisations * (1 + ACCOUNTS + 1)


def write_block(store: Any, organisations: int) -> None:
    """The first block, through the aggregates and ``store.save()``."""
    stories = [Story(n) for n in range(organisations)]
    for k in range(EVENTS_PER_ORGANISATION):
        at = START + timedelta(seconds=k)
        store.save(*(story.step(k, at) for story in stories))


def _columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = %s AND table_schema = current_schema() ORDER BY ordinal_position",
            (table,),
        )
    ]


def copy_block(url: str, events_table: str, copies: int) -> None:
    """``copies`` more blocks, each in its own transaction, in log order."""
    with psycopg.connect(url) as conn:
        columns = [c for c in _columns(conn, events_table) if c != "notification_id"]
        if not {"originator_id", "state"} <= set(columns):
            raise RuntimeError(f"unexpected columns of {events_table}: {columns}")
        sample = conn.execute(
            sql.SQL("SELECT state FROM {} ORDER BY notification_id LIMIT 1").format(
                sql.Identifier(events_table)
            )
        ).fetchone()
        if sample is None or not bytes(sample[0]).startswith(b"{"):
            raise RuntimeError("the stored events are not plain JSON (a cipher is configured?)")
        conn.execute(
            sql.SQL("CREATE TEMP TABLE bench_block AS SELECT * FROM {} ORDER BY notification_id")
            .format(sql.Identifier(events_table))
        )
        keys = _columns(conn, "personal_data_keys")
        if keys:
            conn.execute("CREATE TEMP TABLE bench_keys AS SELECT * FROM personal_data_keys")
        conn.commit()

        def moved(column: str) -> sql.Composable:
            if column == "originator_id":
                return sql.SQL("replace(originator_id::text, %(old)s, %(new)s)::uuid")
            if column == "state":
                # Ids inside a state are written with dashes or as 32 hex digits.
                return sql.SQL(
                    "convert_to(regexp_replace(regexp_replace(convert_from(state, 'UTF8'),"
                    " %(old_hex)s, %(new_hex)s, 'g'), %(old_dashed)s, %(new_dashed)s, 'g'), 'UTF8')"
                )
            return sql.Identifier(column)

        insert_events = sql.SQL("INSERT INTO {table} ({columns}) SELECT {values}"
                                " FROM bench_block ORDER BY notification_id").format(
            table=sql.Identifier(events_table),
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            values=sql.SQL(", ").join(moved(c) for c in columns),
        )
        insert_keys = sql.SQL("INSERT INTO personal_data_keys ({columns}) SELECT {values}"
                              " FROM bench_keys").format(
            columns=sql.SQL(", ").join(map(sql.Identifier, keys)),
            values=sql.SQL(", ").join(
                sql.SQL("replace({0}, %(old)s, %(new)s)").format(sql.Identifier(c))
                if c in ("owner_id", "organisation_id") else sql.Identifier(c)
                for c in keys
            ),
        )
        for k in range(1, copies + 1):
            middle = copy_middle(k)
            params = {
                "old": MIDDLE, "new": middle,
                "old_hex": "([0-9a-f]{8})" + MIDDLE.replace("-", "") + "([0-9a-f]{12})",
                "new_hex": "\\1" + middle.replace("-", "") + "\\2",
                "old_dashed": "([0-9a-f]{8})" + MIDDLE + "([0-9a-f]{12})",
                "new_dashed": "\\1" + middle + "\\2",
            }
            conn.execute(insert_events, params)
            if keys:
                conn.execute(insert_keys, params)
            conn.commit()
            if k % 20 == 0:
                log(f"copied {k}/{copies} blocks")


def load(store: Any, url: str, events: int) -> Loaded:
    """About ``events`` events (whole blocks of whole stories) in the store's log."""
    began = time.perf_counter()
    per_block = BLOCK * EVENTS_PER_ORGANISATION
    blocks = max(1, -(-events // per_block))
    write_block(store, BLOCK)
    log(f"wrote one block of {per_block:,} events through the store in"
        f" {time.perf_counter() - began:.0f} s; copying {blocks - 1} more in SQL")
    copy_block(url, store.recorder.events_table_name, blocks - 1)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    head = int(store.recorder.max_notification_id() or 0)
    return Loaded(blocks * per_block, blocks * BLOCK, time.perf_counter() - began, head)


FULL_EVENTS = 1_000_000
QUICK_EVENTS = 50_000
chosen_events: int | None = None
"""Set by ``python -m bench --events N``: the size of the log for B4 and B7."""


def events_for(quick: bool) -> int:
    if chosen_events is not None:
        return chosen_events
    return QUICK_EVENTS if quick else FULL_EVENTS


_shared: dict[tuple[str, int], tuple[str, Loaded]] = {}


def shared_log(admin_url: str, events: int) -> tuple[str, Loaded]:
    """A database holding the log of about ``events`` events, loaded once per run and
    shared by B7 and B4 (the whole cluster is thrown away at the end of the run)."""
    key = (admin_url, events)
    if key not in _shared:
        url = create_database(admin_url, "log")
        container = container_for(url)
        try:
            loaded = load(container.services.store, url, events)
        finally:
            container.close()
        log(f"the log holds {loaded.events:,} events ({loaded.organisations:,} organisations),"
            f" loaded in {loaded.seconds:.0f} s")
        _shared[key] = (url, loaded)
    return _shared[key]
