"""How fast is "state as of an instant" on a long history? (R61)

Builds one subscription with a 10,000-event history (usage records, one second
apart) in a fresh PostgreSQL database, brings the audit chain (the time -> version
index) up to date, then times, in the same run:

- as-of reads at random instants (index lookup + ``repository.get(id, version=N)``,
  which starts from the nearest snapshot, + the GET representation);
- a raw ``SELECT`` of all the aggregate's stored rows (just fetching them, no decoding);
- for context, the naive as-of: read every event, fold those up to the instant.

and prints the medians and the ratio as-of / raw SELECT. Never asserts timings.

    .venv/bin/python -m bench.as_of postgresql://postgres@127.0.0.1:5432/postgres

It is also B5 of the suite (``python -m bench --only B5``), on the suite's own cluster.

The URL names any database on the server (default: $LIFECYCLE_BENCH_POSTGRES_URL or
$LIFECYCLE_TEST_POSTGRES_URL); a database ``lifecycle_bench_<random>`` is created
there for the run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, TextIO

import psycopg
from psycopg import sql

from api.bootstrap import build
from api.representations import subscription as shown
from api.routes.audit import audit_log
from api.settings import Settings
from lifecycle.cards import Card
from lifecycle.catalogue import Caps
from lifecycle.change import Change
from lifecycle.money import Money
from lifecycle.subscription import Subscription

from bench.common import Result, fresh_database, timed, with_database

START = datetime(2027, 1, 31, 9, 0, tzinfo=timezone.utc)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def run(url: str, events: int, reads: int, batch: int, out: TextIO = sys.stdout) -> dict[str, float]:
    container = build(
        Settings(database_url=url, clock="manual", clock_start=START, api_tokens="")  # type: ignore[call-arg]
    )
    services = container.services
    try:
        print(f"building a subscription with {events} events ...", file=sys.stderr)
        began = time.perf_counter()
        change = Change(START, "bench", None, "bench-0", "bench-0")
        sub = Subscription.start(
            uuid.uuid4(),
            organisation_id=uuid.uuid4(),
            buyer_account_id=uuid.uuid4(),
            plan="strategic_research",
            price=Money.of("1500.00", "USD"),
            caps=Caps(responses=None, seats=None),
            card=Card("tok_visa", "visa", "4242", 12, 2031),
            billing_address={"country": "US"},
            payment={"payment_id": "bench"},
            change=change,
        )
        services.save(sub)
        for n in range(1, events):
            at = START + timedelta(seconds=n)
            sub.record_usage(1, 0, Change(at, "bench", None, f"bench-{n}", f"bench-{n}"))
            if n % batch == 0 or n == events - 1:
                services.save(sub)
        built = time.perf_counter() - began
        began = time.perf_counter()
        container.runners["audit_chain"].catch_up()
        chained = time.perf_counter() - began
        assert sub.version == events

        log = audit_log(container)
        rng = random.Random(60)
        instants = [START + timedelta(seconds=rng.uniform(0, events)) for _ in range(reads)]

        def as_of(instant: datetime) -> dict[str, Any]:
            aggregate = log.as_of(sub.id, instant)
            return shown(aggregate)

        # Same answers as the naive fold (a spot check, not a test).
        everything = list(services.store.events.get(sub.id))

        def naive(instant: datetime) -> dict[str, Any]:
            aggregate = None
            for event in services.store.events.get(sub.id):
                if event.timestamp <= instant:
                    aggregate = event.mutate(aggregate)
            return shown(aggregate)

        for instant in instants[:3]:
            assert as_of(instant) == naive(instant)
        assert len(everything) == events

        table = sql.Identifier(services.store.recorder.events_table_name)  # type: ignore[attr-defined]
        select = sql.SQL("SELECT * FROM {} WHERE originator_id = %s ORDER BY originator_version").format(table)

        def raw_select_pooled() -> int:
            with services.store.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
                with conn.cursor() as cursor:
                    cursor.execute(select, (sub.id,))
                    return len(cursor.fetchall())

        assert raw_select_pooled() == events
        for instant in instants[:5]:  # warm up
            as_of(instant)
        # Interleaved, so that both see the same load on the machine: per round one
        # raw SELECT and four as-of reads.
        as_of_times: list[float] = []
        select_times: list[float] = []
        as_of_groups: list[list[float]] = []
        for start in range(0, len(instants), 4):
            select_times.append(timed(raw_select_pooled))
            as_of_groups.append(
                [timed(lambda i=instant: as_of(i)) for instant in instants[start : start + 4]]
            )
            as_of_times += as_of_groups[-1]
        naive_times = [timed(lambda i=instant: naive(i)) for instant in instants[:10]]

        as_of_median = statistics.median(as_of_times)
        select_median = statistics.median(select_times)
        naive_median = statistics.median(naive_times)
        print(f"history: {events} events of one subscription (built in {built:.1f} s,"
              f" chained in {chained:.1f} s); snapshots every 50 versions", file=out)
        print(f"as-of read (index + snapshot + <=49 events + representation), median of {len(as_of_times)}:"
              f" {ms(as_of_median)} (p95 {ms(sorted(as_of_times)[int(len(as_of_times) * 0.95) - 1])})", file=out)
        print(f"raw SELECT of the aggregate's {events} rows, median of {len(select_times)}:"
              f" {ms(select_median)}", file=out)
        print(f"naive as-of (read and fold every event), median of {len(naive_times)}:"
              f" {ms(naive_median)}", file=out)
        print(f"ratio as-of / raw SELECT: {as_of_median / select_median:.3f}", file=out)
        print(f"ratio naive / as-of: {naive_median / as_of_median:.0f}x", file=out)
        return {
            "as_of": as_of_median,
            "as_of_p95": sorted(as_of_times)[int(len(as_of_times) * 0.95) - 1],
            "select": select_median,
            "naive": naive_median,
            "ratio": statistics.median(
                a / s
                for s, group in zip(select_times, as_of_groups, strict=True)
                for a in group
            ),
            "reads": len(as_of_times),
            "rounds": len(select_times),
        }
    finally:
        container.close()


def b5(admin_url: str, quick: bool) -> list[Result]:
    """B5 of the suite: an as-of read of a 10,000-event subscription history against a
    raw SELECT of its rows, on a fresh database of the suite's cluster."""
    reads = 60 if quick else 200
    with fresh_database(admin_url, "b5") as url:
        figures = run(url, events=10_000, reads=reads, batch=100, out=sys.stderr)
    ratio = figures["ratio"]
    return [
        Result(
            "B5", "as-of read, 10,000-event history", f"{figures['as_of'] * 1000:.1f} ms",
            f"{figures['select'] * 1000:.1f} ms", f"{ratio:.2f}", "<= 2x", ratio <= 2,
            [f"median of {figures['reads']} as-of reads at random instants (audit-chain index"
             " lookup + repository.get from the nearest snapshot + the GET representation),"
             f" p95 {figures['as_of_p95'] * 1000:.1f} ms; baseline: a raw SELECT of the"
             f" subscription's 10,000 rows (no decoding), one per 4 as-of reads"
             f" ({figures['rounds']} rounds); ratio = median of as-of / the round's SELECT;"
             f" naive as-of (read and fold every event): {figures['naive'] * 1000:.0f} ms"],
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "url",
        nargs="?",
        default=os.environ.get("LIFECYCLE_BENCH_POSTGRES_URL") or os.environ.get("LIFECYCLE_TEST_POSTGRES_URL"),
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100, help="events per save while building")
    args = parser.parse_args()
    if not args.url:
        parser.error("give a postgresql:// URL (or set LIFECYCLE_BENCH_POSTGRES_URL)")
    name = f"lifecycle_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        run(with_database(args.url, name), args.events, args.reads, args.batch)
    finally:
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
