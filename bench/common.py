"""What every benchmark shares: the PostgreSQL cluster, fresh databases, containers,
timing and the result rows of the table."""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2027, 1, 31, 9, 0, tzinfo=timezone.utc)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the cluster and its databases ----------------------------------------------------


def postgres_cluster() -> Any:
    """A throwaway PostgreSQL 15 with production durability (fsync and synchronous
    commit on), from the tests' helper."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from pg_cluster import PostgresCluster

    return PostgresCluster(durable=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def create_database(admin_url: str, label: str) -> str:
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    admin_url = with_database(url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def fresh_database(admin_url: str, label: str) -> Iterator[str]:
    url = create_database(admin_url, label)
    try:
        yield url
    finally:
        drop_database(url)


def server_facts(url: str) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        facts = {"version": str(conn.execute("SHOW server_version").fetchone()[0])}  # type: ignore[index]
        for name in ("fsync", "synchronous_commit", "full_page_writes", "shared_buffers",
                     "max_connections", "wal_level"):
            facts[name] = str(conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0])  # type: ignore[index]
    return facts


def container_for(url: str, *, clock: str = "manual") -> Any:
    """The service's container (store, handlers, projection runners) on ``url``,
    built the way ``lifecycle serve`` builds it; the background work is not started."""
    from api.bootstrap import build
    from api.settings import Settings

    return build(
        Settings(  # type: ignore[call-arg]
            database_url=url, clock=clock, clock_start=START if clock == "manual" else None,
            api_tokens="",
        )
    )


# --- measuring --------------------------------------------------------------------------


def timed(call: Callable[[], Any]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))
    return float(ordered[int(rank) - 1])


def rss_mib(pid: int | None = None) -> float:
    """Resident set size of a process (this one by default), from /proc."""
    path = f"/proc/{pid or os.getpid()}/status"
    with open(path) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS in {path}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# --- the table ---------------------------------------------------------------------------


@dataclass
class Result:
    id: str
    what: str
    figure: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def met_text(self) -> str:
        return {True: "yes", False: "no", None: "-"}[self.met]


COLUMNS = ("id", "what", "figure", "baseline", "ratio", "target", "met?")


def _rows(results: Sequence[Result]) -> list[tuple[str, ...]]:
    return [(r.id, r.what, r.figure, r.baseline, r.ratio, r.target, r.met_text) for r in results]


def text_table(results: Sequence[Result]) -> str:
    rows = [COLUMNS, *_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"{r.id}: {note}" for r in results for note in r.notes]
    if notes:
        lines += ["", "notes:", *(f"  {note}" for note in notes)]
    return "\n".join(lines)


def markdown_table(results: Sequence[Result]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in _rows(results)]
    notes = [f"- **{r.id}**: {cell(note)}" for r in results for note in r.notes]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def rate(n: float) -> str:
    return f"{n:,.0f}/s"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
