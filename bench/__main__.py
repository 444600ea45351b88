"""Run the benchmarks and print one table: ``python -m bench [--quick] [--only B1,B2]``.

Starts its own PostgreSQL 15 (fsync and synchronous commit on, as in production),
runs each benchmark side by side with its baseline, prints the table and the time
each benchmark took, and exits 0 unless something crashed. Figures are printed,
never judged: the "met?" column compares each with its target for information.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import Result, log, markdown_table, postgres_cluster, server_facts, text_table

Benchmark = Callable[[str, bool], list[Result]]


# In the order they run: B6 measures under B3's half-saturation rate, and B4 rebuilds
# the view of the events that B7 loads.
BENCHMARKS = {
    "B1": "bench.append:b1",
    "B2": "bench.append:b2",
    "B3": "bench.http:b3",
    "B6": "bench.http:b3",  # measured under B3's half-saturation load (bench.freshness)
    "B5": "bench.as_of:b5",
    "B7": "bench.memory:b7",
    "B4": "bench.rebuild:b4",
}


def load(name: str) -> Benchmark:
    module, function = BENCHMARKS[name].split(":")
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def machine() -> str:
    memory = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores ({cpu}), {memory}, Python {platform.python_version()},"
            f" load average at start {load[0]:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes for a smoke run (50,000 events for B4 and B7)")
    parser.add_argument("--only", default="", help="a comma-separated list of ids, e.g. B1,B2")
    parser.add_argument("--markdown", type=Path, help="also write the table as markdown here")
    parser.add_argument("--events", type=int,
                        help="the size of the log for B4 and B7 (default 1,000,000; 50,000 with --quick)")
    args = parser.parse_args(argv)
    if args.events is not None:
        from bench import dataset

        dataset.chosen_events = args.events

    benchmarks = BENCHMARKS
    wanted = [b.strip().upper() for b in args.only.split(",") if b.strip()] or list(benchmarks)
    unknown = [b for b in wanted if b not in benchmarks]
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; known: {', '.join(sorted(benchmarks))}")

    results: list[Result] = []
    durations: list[tuple[str, float]] = []
    began = time.perf_counter()
    cluster = postgres_cluster()
    cluster.start()
    try:
        facts = server_facts(cluster.url)
        log(f"PostgreSQL {facts['version']} at {cluster.url}")
        done: set[str] = set()
        for name in (b for b in benchmarks if b in wanted):
            if benchmarks[name] in done:  # B3 and B6 are one run
                continue
            done.add(benchmarks[name])
            label = "+".join(b for b in benchmarks if benchmarks[b] == benchmarks[name])
            log(f"{label} ...")
            started = time.perf_counter()
            results += load(name)(cluster.url, args.quick)
            durations.append((label, time.perf_counter() - started))
            log(f"{label} took {durations[-1][1]:.0f} s")
    finally:
        cluster.close()
    total = time.perf_counter() - began

    header = [
        f"machine: {machine()}",
        "PostgreSQL {version}: fsync={fsync}, synchronous_commit={synchronous_commit},"
        " full_page_writes={full_page_writes}, shared_buffers={shared_buffers}".format(**facts),
        f"run: {'--quick' if args.quick else 'full'}; durations: "
        + ", ".join(f"{n} {d:.0f} s" for n, d in durations) + f"; total {total:.0f} s",
    ]
    print("\n".join(header))
    print()
    print(text_table(results))
    if args.markdown is not None:
        args.markdown.write_text("\n".join(f"- {line}" for line in header) + "\n\n"
                                 + markdown_table(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
