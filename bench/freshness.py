"""B6: how long after a command is acknowledged its event is visible in a view.

A probe sends ``POST /v1/organisations/{org}/users`` (one ``Account.Opened`` event),
takes the new account's id from the answer, and polls the profile view's table
(``profile_accounts``, what ``GET /v1/profiles/{account_id}`` reads) every 2 ms until
the account's row is there. The latency runs from the moment the answer arrived (the
event was committed before it was sent) to the first poll that sees the row. Probes
are spaced by a random pause so that they do not fall into step with the projection's
polling. It runs under B3's half-saturation load (``bench.http``), which is why
``--only B6`` runs B3 as well.

Each projection runner polls the log every ``LIFECYCLE_PROJECTION_POLL_SECONDS`` (0.2 s
by default; ``ProjectionRunner.start``) and is woken sooner by the process's head
watcher (``api.bootstrap.HEAD_POLL_SECONDS``) when the log's head moves; B6f measures
the same with the runners polling every 0.02 s.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from bench.common import Result, percentile
from bench.loadgen import Connection
from bench.servers import TOKEN

POLL = 0.002


@dataclass
class Probes:
    latencies: list[float]
    failures: int

    def text(self) -> str:
        return (f"{len(self.latencies)} probes: p50 {percentile(self.latencies, 50) * 1000:.0f} ms,"
                f" p99 {percentile(self.latencies, 99) * 1000:.0f} ms,"
                f" max {max(self.latencies) * 1000:.0f} ms")

    def result(self, id: str, what: str, setting: str, load: float) -> Result:
        p50 = percentile(self.latencies, 50)
        p99 = percentile(self.latencies, 99)
        return Result(
            id, what, f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms", "-", "-",
            "p99 <= 100 ms", p99 <= 0.1,
            [f"{setting}; {len(self.latencies)} probes under {load:,.0f} req/s, from the"
             f" command's answer to the row in profile_accounts (polled every {POLL * 1000:.0f} ms);"
             f" max {max(self.latencies) * 1000:.0f} ms; failed probes {self.failures}"],
        )


async def probe(host: str, ports: Sequence[int], organisation_ids: Sequence[str],
                database_url: str, n: int) -> Probes:
    loop = asyncio.get_running_loop()
    rng = random.Random(6)
    latencies: list[float] = []
    failures = 0
    connections = [Connection(host, port, TOKEN) for port in ports]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        for i in range(n):
            await asyncio.sleep(rng.uniform(0.0, 0.25))
            org = organisation_ids[i % len(organisation_ids)]
            body = json.dumps({"email": f"probe{i}@example.com", "name": f"Probe {i}",
                               "username": f"probe{i}", "user_type": "standard"}).encode()
            status, answer = await connections[i % len(connections)].request(
                "POST", f"/v1/organisations/{org}/users", body
            )
            acknowledged = loop.time()
            if status != 201:
                failures += 1
                continue
            account_id = json.loads(answer)["account_id"]
            while True:
                found = await (await db.execute(
                    "SELECT 1 FROM profile_accounts WHERE account_id = %s", (account_id,)
                )).fetchone()
                if found is not None:
                    latencies.append(loop.time() - acknowledged)
                    break
                if loop.time() - acknowledged > 30:
                    failures += 1
                    break
                await asyncio.sleep(POLL)
    for connection in connections:
        await connection.close()
    return Probes(latencies, failures)


def b6(admin_url: str, quick: bool) -> list[Result]:
    """B6 runs under B3's load: it is measured by ``bench.http.b3``."""
    from bench.http import b3

    return b3(admin_url, quick)
