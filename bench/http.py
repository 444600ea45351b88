"""B3 (and B6 under its load): commands per second through ``lifecycle serve`` against a
bare FastAPI endpoint served the same way (``bench.bare_app``), with as many server
processes as cores on each side.

The command is ``POST /v1/organisations/{org}/users`` (the ``add_user`` handler: it
reads the organisation and records one ``Account.Opened`` event); the baseline takes
the same body at the same path and does one INSERT. ``lifecycle serve --workers N``
runs as it does in production: N HTTP workers on one socket, its projections and its
time-driven work in the parent process (counted in the servers' CPU), and it logs
every request.

1. Saturation: a closed loop at high concurrency, alternating between the two server
   groups over several rounds; the figure is the median, the ratio the median of the
   per-round ratios. After each round of the service, its projections are let catch up.
2. Latency: an open loop at half and at nine tenths of each side's own saturation,
   p50 and p99 from each request's scheduled start.
3. B6 (``bench.freshness``): during the service's half-saturation run, probes measure
   how long a command's event takes to appear in the profile view.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import os
import time
from typing import Any

from api import bootstrap

from bench import freshness
from bench.common import Result, create_database, drop_database, log, median, percentile
from bench.loadgen import Outcome, Pool, RequestFor, closed_loop, open_loop
from bench.servers import TOKEN, CpuMeter, ServerGroup

CONCURRENCY = 32
HOST = "127.0.0.1"


def user_request(organisation_ids: list[str]) -> RequestFor:
    def request_for(n: int) -> tuple[str, str, bytes]:
        org = organisation_ids[n % len(organisation_ids)]
        body = json.dumps({"email": f"user{n}@example.com", "name": f"User {n}",
                           "username": f"user{n}", "user_type": "standard"}).encode()
        return "POST", f"/v1/organisations/{org}/users", body

    return request_for


def open_organisations(port: int, n: int) -> list[str]:
    ids = []
    for i in range(n):
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        body = json.dumps({"email": f"admin{i}@example.com", "name": f"Admin {i}",
                           "username": f"admin{i}", "kind": "free"})
        conn.request("POST", "/v1/accounts", body,
                     {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        answer = conn.getresponse()
        data = json.loads(answer.read())
        conn.close()
        if answer.status != 201:
            raise RuntimeError(f"POST /v1/accounts answered {answer.status}: {data}")
        ids.append(data["organisation_id"])
    return ids


def wait_for_projections(port: int, timeout: float = 120) -> float:
    """Until every projection of the service has reached the log head; the seconds it took."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        conn.request("GET", "/v1/ops/projections", headers={"Authorization": f"Bearer {TOKEN}"})
        answer = conn.getresponse()
        rows = json.loads(answer.read())
        conn.close()
        if answer.status == 200 and all(r["lag"] == 0 for r in rows):
            return time.monotonic() - began
        time.sleep(0.2)
    raise RuntimeError("the service's projections did not catch up")


def polling(runner_seconds: str) -> str:
    watcher = getattr(bootstrap, "HEAD_POLL_SECONDS", None)
    woken = f"woken by the head watcher every {watcher} s, " if watcher is not None else ""
    return f"projection runners {woken}polling every {runner_seconds} s (LIFECYCLE_PROJECTION_POLL_SECONDS)"


def per_request(reading: Any, throughput: float) -> str:
    """Server and PostgreSQL CPU per request, from a reading of the last round."""
    return (f"{reading.servers / throughput * 1000:.1f} ms + PostgreSQL"
            f" {reading.postgres / throughput * 1000:.1f} ms")


def lat(outcome: Outcome) -> str:
    return (f"p50 {percentile(outcome.latencies, 50) * 1000:.0f} ms,"
            f" p99 {percentile(outcome.latencies, 99) * 1000:.0f} ms")


def b3(admin_url: str, quick: bool) -> list[Result]:
    workers = os.cpu_count() or 1
    rounds, saturate_for, hold_for = (2, 3.0, 5.0) if quick else (3, 6.0, 10.0)
    probes = 60 if quick else 200
    service_url = create_database(admin_url, "b3")
    bare_url = create_database(admin_url, "b3_bare")
    service = ServerGroup.lifecycle(service_url, workers)
    bare = ServerGroup.bare(bare_url, workers)
    try:
        service.start()
        bare.start()
        organisations = open_organisations(service.ports[0], 4)
        run = asyncio.run(_measure(service, bare, organisations, service_url, bare_url,
                                   rounds, saturate_for, hold_for, probes))
        fast = None
        if not quick:
            # B6 again with the projections polling every 20 ms instead of every 200 ms.
            service.stop()
            service = ServerGroup.lifecycle(service_url, workers, projection_poll_seconds="0.02")
            service.start()
            fast = asyncio.run(_freshness_only(service, organisations, service_url,
                                               run["service_half_rate"], probes))
    finally:
        service.stop()
        bare.stop()
        drop_database(service_url)
        drop_database(bare_url)
    return _results(run, fast, workers, rounds, saturate_for, hold_for)


async def _measure(service: ServerGroup, bare: ServerGroup, organisations: list[str],
                   service_url: str, bare_url: str, rounds: int, saturate_for: float,
                   hold_for: float, probes: int) -> dict[str, Any]:
    counter = itertools.count(1000)
    request_for = user_request(organisations)
    pools = {"service": Pool(HOST, service.ports, TOKEN), "bare": Pool(HOST, bare.ports, None)}
    groups = {"service": (service, service_url), "bare": (bare, bare_url)}
    for name in pools:  # warm up: connections, imports, caches, prepared statements
        await closed_loop(pools[name], request_for, CONCURRENCY, 1.5, counter)
    wait_for_projections(service.ports[0])

    saturation: dict[str, list[Outcome]] = {"service": [], "bare": []}
    cpu: dict[str, Any] = {}
    for r in range(rounds):
        for name in (["service", "bare"] if r % 2 == 0 else ["bare", "service"]):
            group, url = groups[name]
            # The parent alone too: for the service, the process of its projections and
            # time-driven work (uvicorn's supervisor beside them costs next to nothing).
            with CpuMeter(group.pids, url) as meter, CpuMeter([group.pids[0]], url) as parent:
                outcome = await closed_loop(pools[name], request_for, CONCURRENCY, saturate_for, counter)
            saturation[name].append(outcome)
            cpu[name] = (meter.reading, outcome.throughput)
            cpu[f"{name}_parent"] = parent.reading.servers / outcome.throughput
            caught_up = wait_for_projections(service.ports[0]) if name == "service" else 0.0
            log(f"B3 round {r + 1}/{rounds} {name}: {outcome.throughput:.0f} req/s, {lat(outcome)},"
                f" errors {outcome.errors}; {meter.reading.text()}"
                + (f"; projections caught up {caught_up:.1f} s later" if name == "service" else ""))

    sat = {name: median(o.throughput for o in outcomes) for name, outcomes in saturation.items()}
    held: dict[tuple[str, float], Outcome] = {}
    probe_result: freshness.Probes | None = None
    for fraction in (0.5, 0.9):
        for name in ("service", "bare"):
            group, url = groups[name]
            rate = fraction * sat[name]
            with CpuMeter(group.pids, url) as meter:
                if name == "service" and fraction == 0.5:
                    probe = asyncio.ensure_future(
                        freshness.probe(HOST, service.ports, organisations, service_url, probes)
                    )
                    outcome = await open_loop(pools[name], request_for, rate, hold_for, counter,
                                              until=probe)
                    probe_result = await probe
                else:
                    outcome = await open_loop(pools[name], request_for, rate, hold_for, counter)
            held[(name, fraction)] = outcome
            if name == "service":
                wait_for_projections(service.ports[0])
            log(f"B3 {name} at {fraction:.0%} ({rate:.0f} req/s for {outcome.seconds:.0f} s):"
                f" {lat(outcome)}, errors {outcome.errors}; {meter.reading.text()}")
    for pool in pools.values():
        await pool.close()
    return {"saturation": saturation, "sat": sat, "held": held, "cpu": cpu,
            "probes": probe_result, "service_half_rate": 0.5 * sat["service"]}


async def _freshness_only(service: ServerGroup, organisations: list[str], service_url: str,
                          rate: float, probes: int) -> freshness.Probes:
    counter = itertools.count(10_000_000)
    request_for = user_request(organisations)
    pool = Pool(HOST, service.ports, TOKEN)
    await closed_loop(pool, request_for, CONCURRENCY, 1.0, counter)
    wait_for_projections(service.ports[0])
    probe = asyncio.ensure_future(freshness.probe(HOST, service.ports, organisations, service_url, probes))
    outcome = await open_loop(pool, request_for, rate, 5.0, counter, until=probe)
    result = await probe
    log(f"B6 with 20 ms polling, under {rate:.0f} req/s: {lat(outcome)}; {result.text()}")
    await pool.close()
    return result


def _results(run: dict[str, Any], fast: freshness.Probes | None, workers: int, rounds: int,
             saturate_for: float, hold_for: float) -> list[Result]:
    saturation = run["saturation"]
    sat = run["sat"]
    ratios = [s.throughput / b.throughput
              for s, b in zip(saturation["service"], saturation["bare"], strict=True)]
    ratio = median(ratios)
    errors = sum(o.errors for outcomes in saturation.values() for o in outcomes)
    errors += sum(o.errors for o in run["held"].values())
    requests = sum(o.count for outcomes in saturation.values() for o in outcomes)
    client_cpu = sum(o.client_cpu for outcomes in saturation.values() for o in outcomes)
    half = run["held"][("service", 0.5)]
    half_bare = run["held"][("bare", 0.5)]
    high = run["held"][("service", 0.9)]
    high_bare = run["held"][("bare", 0.9)]
    p99_half = percentile(half.latencies, 99)
    results = [
        Result(
            "B3", f"HTTP commands/s, lifecycle serve x{workers} (add user)",
            f"{sat['service']:,.0f}/s", f"{sat['bare']:,.0f}/s", f"{ratio:.2f}", ">= 0.6",
            ratio >= 0.6,
            [f"closed loop, {CONCURRENCY} keep-alive connections; lifecycle serve --workers"
             f" {workers} (its projections and time-driven work in the parent process) against"
             f" the bare app under uvicorn's {workers} workers, one socket each; {rounds} rounds"
             f" of {saturate_for:.0f} s alternating; baseline: bare FastAPI + pydantic body +"
             " one INSERT (psycopg_pool);"
             f" non-2xx answers in the whole run: {errors}",
             f"at saturation (last round), service: {run['cpu']['service'][0].text()};"
             f" CPU per request: servers {per_request(*run['cpu']['service'])}; of the"
             f" servers', the parent process (projections, time-driven work):"
             f" {run['cpu']['service_parent'] * 1000:.1f} ms",
             f"at saturation (last round), baseline: {run['cpu']['bare'][0].text()};"
             f" CPU per request: servers {per_request(*run['cpu']['bare'])}",
             f"the load generator (Python, asyncio + h11) shares the {workers} cores:"
             f" {client_cpu / requests * 1e6:.0f} us of CPU per request"]),
        Result("B3a", "HTTP latency at 50% of saturation", lat(half), lat(half_bare),
               f"{p99_half / percentile(half_bare.latencies, 99):.2f}", "p99 <= 50 ms",
               p99_half <= 0.05,
               [f"open loop at {half.count / half.seconds:,.0f} req/s (service) and"
                f" {half_bare.count / half_bare.seconds:,.0f} req/s (baseline) for"
                f" >= {hold_for:.0f} s; latency from each request's scheduled start;"
                " ratio = p99 / baseline p99"]),
        Result("B3b", "HTTP latency at 90% of saturation", lat(high), lat(high_bare),
               f"{percentile(high.latencies, 99) / percentile(high_bare.latencies, 99):.2f}", "-",
               None),
    ]
    probes: freshness.Probes | None = run["probes"]
    if probes is not None:
        results.append(probes.result("B6", "freshness: commit to profile view, p99",
                                     f"defaults: {polling('0.2')}", half.count / half.seconds))
    if fast is not None:
        results.append(fast.result("B6f", "freshness, runners polling every 20 ms",
                                   polling("0.02"), run["service_half_rate"]))
    return results
