"""B1 and B2: appending to the log through the application, one event per command.

B1, one writer, per round and in rotating order:

- raw psycopg (the baseline): ``INSERT ... RETURNING notification_id`` then ``COMMIT``,
  one row per transaction, into a table shaped like the events table (same columns,
  primary key and notification-id index; a ``bytea`` state as large as the event's);
- ``LifecycleStore.save()`` of an account with one new event (``DetailsChanged``):
  the application layer (mapper, transcoder, recorder);
- the ``add_user`` handler of ``commands.accounts``: it reads the organisation,
  decides, and saves one ``Account.Opened`` event;
- for context, ``save()`` through eventsourcing's stock PostgreSQL recorder (its
  table lock) in a separate store on a separate database.

B2: eight writer threads, each changing its own account, against one writer in the
same round, while a ``ProjectionRunner`` follows the log; afterwards every position it
applied is compared with the log (skipped, repeated). Eight writer processes are
measured the same way as a second row.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import sql

from commands.accounts import add_user
from commands.context import Caller
from infrastructure.store import LifecycleStore, persistence_env
from lifecycle.account import STANDARD, Account
from lifecycle.change import Change
from lifecycle.organisation import FREE, Organisation
from projections.runner import Projection, ProjectionRunner

from bench.common import (
    START,
    Result,
    container_for,
    create_database,
    drop_database,
    log,
    median,
    rate,
)
from bench.servers import CpuMeter

STOCK_RECORDER = "eventsourcing.postgres:PostgresApplicationRecorder"
WRITERS = 8


# --- what one command is -------------------------------------------------------------


def _change(n: int) -> Change:
    return Change(START + timedelta(milliseconds=n), "bench", None, f"b-{n}", f"b-{n}")


def open_account(store: Any, organisation_id: uuid.UUID | None = None) -> Account:
    account = Account.open(
        uuid.uuid4(),
        organisation_id=organisation_id or uuid.uuid4(),
        name="Ada Writer",
        email="ada@example.com",
        username="ada",
        user_type=STANDARD,
        datacenter="us-1",
        change=_change(0),
    )
    store.save(account)
    return account


class AccountChanges:
    """One command = one ``DetailsChanged`` event on an account held in memory, saved
    with ``store.save()``."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.account = open_account(store)
        self.n = 0

    def __call__(self) -> None:
        self.n += 1
        self.account.change_details({"name": f"Ada {self.n}"}, None, _change(self.n))
        self.store.save(self.account)

    def event_state_size(self) -> int:
        """The stored size of one of these events, as the store wrote it."""
        self()
        recorder = self.store.recorder
        with recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            row = conn.execute(
                sql.SQL("SELECT length(state) AS size FROM {} WHERE originator_id = %s"
                        " ORDER BY originator_version DESC LIMIT 1").format(
                    sql.Identifier(recorder.events_table_name)  # type: ignore[attr-defined]
                ),
                (self.account.id,),
            ).fetchone()
        return int(row["size"])


class AddUser:
    """One command = the ``add_user`` handler: read the organisation, decide, save one
    ``Account.Opened`` event."""

    def __init__(self, services: Any) -> None:
        self.services = services
        organisation = Organisation.register(
            uuid.uuid4(), brand_id="BR_BENCH", datacenter="us-1", fedramp=False,
            licence=FREE, trial_ends_at=None, change=_change(0),
        )
        services.save(organisation)
        self.organisation_id = organisation.id
        self.n = 0

    def __call__(self) -> None:
        self.n += 1
        add_user(
            self.services, Caller.of("bench"), self.organisation_id,
            email=f"user{self.n}@example.com", name=f"User {self.n}",
            username=f"user{self.n}", user_type="standard",
        )


class RawInserts:
    """The baseline: one ``INSERT`` and one ``COMMIT`` per row with raw psycopg."""

    def __init__(self, url: str, state_size: int) -> None:
        self.conn = psycopg.connect(url)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw_events ("
            " originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text,"
            " state bytea, notification_id bigserial,"
            " PRIMARY KEY (originator_id, originator_version))"
        )
        self.conn.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS bench_raw_events_nid"
            " ON bench_raw_events (notification_id ASC)"
        )
        self.conn.commit()
        self.state = b"s" * state_size
        self.originator = uuid.uuid4()
        self.version = 0
        self.insert = sql.SQL(
            "INSERT INTO bench_raw_events (originator_id, originator_version, topic, state)"
            " VALUES (%s, %s, %s, %s) RETURNING notification_id"
        )

    def __call__(self) -> None:
        self.version += 1
        self.conn.execute(
            self.insert,
            (self.originator, self.version, "lifecycle.account:Account.DetailsChanged", self.state),
            prepare=True,
        ).fetchone()
        self.conn.commit()

    def autocommit_rate(self, n: int) -> float:
        """For context: the same INSERT as a single autocommitted statement."""
        self.conn.autocommit = True
        try:
            return per_second(self, n)
        finally:
            self.conn.autocommit = False

    def close(self) -> None:
        self.conn.close()


def per_second(command: Callable[[], None], n: int, cpu: list[float] | None = None) -> float:
    """Commands per second; with ``cpu``, also appends this process's CPU seconds per
    command."""
    began = time.perf_counter()
    used = time.process_time()
    for _ in range(n):
        command()
    if cpu is not None:
        cpu.append((time.process_time() - used) / n)
    return n / (time.perf_counter() - began)


def stock_store(url: str) -> LifecycleStore:
    return LifecycleStore(env={**persistence_env(url), "APPLICATION_RECORDER_TOPIC": STOCK_RECORDER})


# --- B1 ------------------------------------------------------------------------------------


def b1(admin_url: str, quick: bool) -> list[Result]:
    rounds, n = (4, 150) if quick else (12, 300)
    url = create_database(admin_url, "b1")
    stock_url = create_database(admin_url, "b1_stock")
    container = container_for(url)
    stock = stock_store(stock_url)
    try:
        store = container.services.store
        saves = AccountChanges(store)
        handler = AddUser(container.services)
        stock_saves = AccountChanges(stock)
        raw = RawInserts(url, saves.event_state_size())
        paths: dict[str, Callable[[], None]] = {
            "raw": raw, "save": saves, "handler": handler, "stock": stock_saves,
        }
        for command in paths.values():  # warm up: connections, prepared statements
            for _ in range(20):
                command()
        rates: dict[str, list[float]] = {name: [] for name in paths}
        cpu: dict[str, list[float]] = {name: [] for name in paths}
        names = list(paths)
        for r in range(rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                rates[name].append(per_second(paths[name], n, cpu[name]))
            log(f"B1 round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()))
        autocommit = raw.autocommit_rate(n)
        raw.close()
    finally:
        container.close()
        stock.close()
        drop_database(url)
        drop_database(stock_url)

    def ratios(name: str) -> list[float]:
        return [a / b for a, b in zip(rates[name], rates["raw"], strict=True)]

    base = rate(median(rates["raw"]))

    def client_cpu(name: str) -> str:
        return f"{median(cpu[name]) * 1e6:,.0f} us"

    spread = f"{rounds} rounds of {n} commands, median; ratio = median of the per-round ratios"
    results = [
        Result("B1", "append, 1 writer: store.save(), 1 event", rate(median(rates["save"])), base,
               f"{median(ratios('save')):.2f}", ">= 0.8", median(ratios("save")) >= 0.8,
               [spread + "; baseline: raw psycopg INSERT + COMMIT per row into an equally shaped "
                f"table (the same INSERT autocommitted, one round trip: {autocommit:,.0f}/s)",
                "client CPU per command (median): raw " + client_cpu("raw") + ", store.save() "
                + client_cpu("save") + ", add_user " + client_cpu("handler") + ", stock recorder "
                + client_cpu("stock")]),
        Result("B1h", "append, 1 writer: add_user handler (read + 1 event)",
               rate(median(rates["handler"])), base, f"{median(ratios('handler')):.2f}", ">= 0.8",
               median(ratios("handler")) >= 0.8),
        Result("B1s", "append, 1 writer: stock recorder (context)", rate(median(rates["stock"])),
               base, f"{median(ratios('stock')):.2f}", "-", None,
               ["eventsourcing 9.5.6 PostgresApplicationRecorder (table lock), separate database"]),
    ]
    return results


# --- B2 ------------------------------------------------------------------------------------


class SeenPositions(Projection):
    """A projection that records every position it applies, repeats included."""

    name = "bench_seen"
    tables = ("CREATE TABLE IF NOT EXISTS bench_seen (position BIGINT NOT NULL)",)

    def apply(self, tx: Any, event: Any, position: int, prepared: Any) -> None:
        tx.execute("INSERT INTO bench_seen (position) VALUES (?)", (position,))


def threads_rate(store: Any, writers: int, per_writer: int) -> float:
    commands = [AccountChanges(store) for _ in range(writers)]
    barrier = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def work(command: AccountChanges) -> None:
        barrier.wait()
        try:
            for _ in range(per_writer):
                command()
        except BaseException as error:  # reported by the caller, which re-raises it
            errors.append(error)

    threads = [threading.Thread(target=work, args=(c,)) for c in commands]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return writers * per_writer / elapsed


WARM_UP = 20
"""Commands each writer process runs before the measured ones: its pool opens its
connections in the background at start, which would otherwise be timed."""


def _process_writer(url: str, per_writer: int, barrier: Any, out: Any) -> None:
    container = container_for(url)
    try:
        command = AccountChanges(container.services.store)
        for _ in range(WARM_UP):  # connections open and statements prepared, as in B2's threads
            command()
        barrier.wait()
        began = time.monotonic()
        for _ in range(per_writer):
            command()
        out.put((began, time.monotonic()))
    finally:
        container.close()


def processes_rate(url: str, writers: int, per_writer: int) -> float:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers)
    out = context.Queue()
    processes = [
        context.Process(target=_process_writer, args=(url, per_writer, barrier, out))
        for _ in range(writers)
    ]
    for p in processes:
        p.start()
    spans = [out.get(timeout=300) for _ in processes]
    for p in processes:
        p.join(timeout=60)
        if p.exitcode != 0:
            raise RuntimeError(f"a writer process exited with {p.exitcode}")
    return writers * per_writer / (max(e for _, e in spans) - min(b for b, _ in spans))


def b2(admin_url: str, quick: bool) -> list[Result]:
    rounds, per_writer = (3, 60) if quick else (5, 150)
    single_n = per_writer * 3
    url = create_database(admin_url, "b2")
    stock_url = create_database(admin_url, "b2_stock")
    container = container_for(url)
    stock = stock_store(stock_url)
    try:
        store = container.services.store
        database = container.services.database
        first = int(store.recorder.max_notification_id() or 0)
        runner = ProjectionRunner(store, database, SeenPositions(), batch_size=500)
        with database.transaction() as tx:
            tx.execute("UPDATE projection_tracking SET position = ? WHERE name = ?",
                       (first, runner.name))
        runner.start(0.01)
        single = AccountChanges(store)
        stock_single = AccountChanges(stock)
        for _ in range(20):
            single()
            stock_single()
        one: list[float] = []
        threads: list[float] = []
        procs: list[float] = []
        stock_one: list[float] = []
        stock_threads: list[float] = []
        cpu: dict[str, Any] = {}
        for r in range(rounds):
            one.append(per_second(single, single_n))
            with CpuMeter([], url) as meter:
                threads.append(threads_rate(store, WRITERS, per_writer))
            cpu["threads"] = meter.reading
            with CpuMeter([], url) as meter:
                procs.append(processes_rate(url, WRITERS, per_writer))
            cpu["processes"] = meter.reading
            stock_one.append(per_second(stock_single, single_n))
            stock_threads.append(threads_rate(stock, WRITERS, per_writer))
            log(f"B2 round {r + 1}/{rounds}: 1 writer {one[-1]:.0f}/s, 8 threads {threads[-1]:.0f}/s,"
                f" 8 processes {procs[-1]:.0f}/s; stock: 1 writer {stock_one[-1]:.0f}/s,"
                f" 8 threads {stock_threads[-1]:.0f}/s")
        runner.stop()
        runner.catch_up()
        skipped, repeated, total = check_positions(url, store.recorder.events_table_name, first)
    finally:
        container.close()
        stock.close()
        drop_database(url)
        drop_database(stock_url)

    def ratio(xs: list[float], ys: list[float]) -> float:
        return median(a / b for a, b in zip(xs, ys, strict=True))

    check = (f"a ProjectionRunner followed the log during every round: {total:,} events,"
             f" skipped {skipped}, repeated {repeated}")
    t, p = cpu["threads"], cpu["processes"]
    busy_threads = (f"last round, cores busy: bench process (8 writer threads and the runner)"
                    f" {t.client:.2f}, PostgreSQL {t.postgres:.2f}, machine {t.machine:.2f} of {t.cores}")
    busy_procs = (f"last round, cores busy: writer processes (including their start-up and"
                  f" {WARM_UP} commands each before the timed ones)"
                  f" {p.servers:.2f}, bench process (the runner) {p.client:.2f}, PostgreSQL"
                  f" {p.postgres:.2f}, machine {p.machine:.2f} of {p.cores}")
    exact = skipped == 0 and repeated == 0
    return [
        Result("B2", "append, 8 writer threads vs 1 writer", rate(median(threads)),
               rate(median(one)), f"{ratio(threads, one):.2f}x", ">= 3x, no skip/repeat",
               ratio(threads, one) >= 3 and exact,
               [f"{rounds} rounds of 8 x {per_writer} commands (store.save(), one event each,"
                f" distinct accounts) against {single_n} by one writer in the same round; {check}",
                busy_threads]),
        Result("B2p", "append, 8 writer processes vs 1 writer", rate(median(procs)),
               rate(median(one)), f"{ratio(procs, one):.2f}x", ">= 3x, no skip/repeat",
               ratio(procs, one) >= 3 and exact, [busy_procs]),
        Result("B2s", "append, 8 threads, stock recorder (context)", rate(median(stock_threads)),
               rate(median(stock_one)), f"{ratio(stock_threads, stock_one):.2f}x", "-", None),
    ]


def check_positions(url: str, table: str, after: int) -> tuple[int, int, int]:
    """Compare the positions the projection applied with the log's."""
    with psycopg.connect(url) as conn:
        logged = [
            row[0]
            for row in conn.execute(
                sql.SQL("SELECT notification_id FROM {} WHERE notification_id > %s").format(
                    sql.Identifier(table)
                ),
                (after,),
            )
        ]
        seen = Counter(row[0] for row in conn.execute("SELECT position FROM bench_seen"))
    skipped = len(set(logged) - set(seen))
    repeated = sum(count - 1 for count in seen.values() if count > 1)
    return skipped, repeated, len(logged)
