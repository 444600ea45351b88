"""B7: resident memory of ``lifecycle serve`` (one process) while its projections follow
a log of about 1,000,000 events (``bench.dataset``), sampled from /proc every 2 s
beside the projections' positions (``GET /v1/ops/projections``).

Following the whole log takes longer than the run may last on two shared cores (every
projection decodes every event it follows), so the service follows it for a fixed
time; the figure is its RSS at the end, with the number of events each projection had
applied by then, and the growth of RSS per 100,000 events applied (a least-squares
slope over the samples after the first quarter), which says whether memory stays
flat as the log grows.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

from bench import dataset
from bench.common import Result, log, rss_mib
from bench.servers import TOKEN, ServerGroup


def projections(port: int) -> list[dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/v1/ops/projections", headers={"Authorization": f"Bearer {TOKEN}"})
        answer = conn.getresponse()
        body = json.loads(answer.read())
    finally:
        conn.close()
    if answer.status != 200:
        raise RuntimeError(f"GET /v1/ops/projections answered {answer.status}: {body}")
    return list(body)


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    if n < 2:
        return float("nan")
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return float("nan")
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def b7(admin_url: str, quick: bool) -> list[Result]:
    events = dataset.events_for(quick)
    follow_for = 90.0 if quick else 300.0
    url, loaded = dataset.shared_log(admin_url, events)
    service = ServerGroup.lifecycle(url, 1)
    samples: list[tuple[float, float, dict[str, int]]] = []  # (seconds, MiB, positions)
    try:
        service.start()
        pid = service.pids[0]
        began = time.monotonic()
        started_rss = rss_mib(pid)
        head = loaded.head
        while True:
            rows = projections(service.ports[0])
            positions = {r["name"]: int(r["position"]) for r in rows}
            elapsed = time.monotonic() - began
            samples.append((elapsed, rss_mib(pid), positions))
            if all(p >= head for p in positions.values()) or elapsed >= follow_for:
                break
            time.sleep(2.0)
    finally:
        service.stop()

    seconds, final_rss, final = samples[-1]
    peak = max(m for _, m, _ in samples)
    applied = [(sum(p.values()), m) for _, m, p in samples]
    later = applied[len(applied) // 4:]
    growth = slope(later) * 100_000
    rates = ", ".join(f"{name} {pos / seconds:,.0f}/s" for name, pos in sorted(final.items()))
    reached = all(p >= loaded.head for p in final.values())
    log(f"B7: RSS {started_rss:.0f} -> {final_rss:.0f} MiB (peak {peak:.0f}) after {seconds:.0f} s;"
        f" positions {final}")
    what = ("RSS of lifecycle serve after following the log" if reached
            else f"RSS of lifecycle serve after {seconds:.0f} s following the log")
    return [
        Result(
            "B7", what, f"{final_rss:.0f} MiB", f"{started_rss:.0f} MiB at start", "-",
            "flat in events", None,
            [f"log of {loaded.head:,} events; one process; projections reached "
             + ", ".join(f"{name} {pos:,}" for name, pos in sorted(final.items()))
             + f" ({'all at the head' if reached else 'not at the head: the run is time-boxed'});"
             f" peak {peak:.0f} MiB; growth {growth:+.1f} MiB per 100,000 events applied by"
             " the projections (least squares over the samples after the first quarter;"
             " a projection that follows none of these events reaches the head at once)",
             f"follow rates in that process (its projections share one interpreter): {rates}"],
        )
    ]
