"""B4: rebuilding the profile view from the whole log, against a raw scan-and-insert.

The rebuild is the service's own (``projections.rebuild.Rebuilder``, what
``lifecycle projections rebuild profiles`` and ``POST /v1/ops/projections/profiles/rebuild``
run): it reads the log in pages of the runner's batch size, decodes each event, turns
it into its aggregate's document and writes the rows into a shadow copy of the view,
then swaps the copy in.

The baseline does the raw part of that work: with a plain psycopg connection it reads
the same rows (the same ``notification_id`` range, every column) and, per page, upserts
one row per aggregate touched (the latest state of that page, as text) into a table
shaped like the view's, in one transaction per page, with one ``executemany``. It
decodes nothing.

The two are interleaved page by page: after each page of the rebuild (its progress
callback), the baseline does the same range, so that both meet the same load on the
machine. The rebuild's time excludes the baseline's.

Memory: the bench process's resident set is sampled at 25, 50, 75 and 100 % of the
rebuild; "flat" means it does not grow with the events read.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg import sql

from projections.rebuild import Rebuilder

from bench import dataset
from bench.common import Result, container_for, log, rss_mib

RAW_VIEW = """CREATE TABLE IF NOT EXISTS bench_raw_view (
    aggregate_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    doc TEXT NOT NULL
)"""


class RawRebuild:
    def __init__(self, url: str, events_table: str) -> None:
        self.conn = psycopg.connect(url)
        self.conn.execute("DROP TABLE IF EXISTS bench_raw_view")
        self.conn.execute(RAW_VIEW)
        self.conn.commit()
        self.select = sql.SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {}"
            " WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id"
        ).format(sql.Identifier(events_table))
        self.upsert = (
            "INSERT INTO bench_raw_view (aggregate_id, version, doc) VALUES (%s, %s, %s)"
            " ON CONFLICT (aggregate_id) DO UPDATE SET version = excluded.version, doc = excluded.doc"
        )
        self.read = 0
        self.written = 0
        self.seconds = 0.0

    def page(self, after: int, upto: int) -> None:
        began = time.perf_counter()
        rows = self.conn.execute(self.select, (after, upto), prepare=True).fetchall()
        latest: dict[Any, tuple[str, int, str]] = {}
        for _, originator_id, version, _, state in rows:
            latest[originator_id] = (str(originator_id), version, bytes(state).decode())
        with self.conn.cursor() as cursor:
            cursor.executemany(self.upsert, list(latest.values()))
        self.conn.commit()
        self.read += len(rows)
        self.written += len(latest)
        self.seconds += time.perf_counter() - began

    def rows(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM bench_raw_view").fetchone()[0])  # type: ignore[index]

    def close(self) -> None:
        self.conn.close()


def b4(admin_url: str, quick: bool) -> list[Result]:
    events = dataset.events_for(quick)
    url, loaded = dataset.shared_log(admin_url, events)
    container = container_for(url)
    try:
        runner = container.runners["profiles"]
        raw = RawRebuild(url, container.services.store.recorder.events_table_name)
        head = int(container.services.store.recorder.max_notification_id() or 0)
        samples: list[tuple[float, float]] = []  # (fraction, MiB)
        marks = [0.25, 0.5, 0.75, 1.0]
        state = {"last": 0, "in_baseline": 0.0}

        def progress(position: int, target: int) -> None:
            began = time.perf_counter()
            if position > state["last"]:
                raw.page(int(state["last"]), position)
                state["last"] = position
            while marks and position >= marks[0] * head:
                samples.append((marks.pop(0), rss_mib()))
                log(f"B4: {position:,} of {head:,} events rebuilt")
            state["in_baseline"] += time.perf_counter() - began

        rss_before = rss_mib()
        log(f"B4: rebuilding the profile view from {head:,} events")
        began = time.perf_counter()
        generation = Rebuilder(runner).run(progress)
        total = time.perf_counter() - began
        rebuild_seconds = total - state["in_baseline"]
        rows = view_rows(container)
        raw_rows = raw.rows()
        raw_seconds = raw.seconds
        raw.close()
    finally:
        container.close()

    rebuild_rate = head / rebuild_seconds
    raw_rate = head / raw_seconds
    ratio = rebuild_rate / raw_rate
    low = min(m for _, m in samples)
    high = max(m for _, m in samples)
    log(f"B4: rebuild {rebuild_seconds:.0f} s ({rebuild_rate:,.0f} events/s), baseline"
        f" {raw_seconds:.0f} s ({raw_rate:,.0f} events/s); RSS {samples}")
    return [
        Result(
            "B4", f"rebuild profile view, {head:,} events", f"{rebuild_rate:,.0f} events/s",
            f"{raw_rate:,.0f} events/s", f"{ratio:.2f}", ">= 0.5, memory flat", ratio >= 0.5,
            [f"rebuild {rebuild_seconds:.0f} s (generation {generation}, {rows:,} rows), baseline"
             f" {raw_seconds:.0f} s ({raw_rows:,} rows), interleaved page by page; log loaded in"
             f" {loaded.seconds:.0f} s ({loaded.organisations:,} organisations x"
             f" {dataset.EVENTS_PER_ORGANISATION} events, see bench/dataset.py)",
             "bench process RSS during the rebuild at "
             + ", ".join(f"{f:.0%}: {m:.0f} MiB" for f, m in samples)
             + f" (before: {rss_before:.0f} MiB; spread {high - low:.0f} MiB)"],
        )
    ]


def view_rows(container: Any) -> int:
    with container.services.database.transaction(commit=False) as tx:
        row = tx.one(
            "SELECT (SELECT count(*) FROM profile_accounts) + (SELECT count(*) FROM"
            " profile_organisations) + (SELECT count(*) FROM profile_billing) AS n"
        )
    assert row is not None
    return int(row["n"])
