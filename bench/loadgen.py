"""A small HTTP/1.1 load generator: asyncio streams, h11 for the protocol, keep-alive
connections spread over several ports (one per server process).

It runs on the same cores as the servers it loads, so it is kept cheap: its CPU time
per request is measured and reported beside the figures.

- ``closed_loop``: a fixed number of connections, each sending its next request as
  soon as the previous answer arrives; the throughput at high concurrency is the
  saturation figure.
- ``open_loop``: requests started on a fixed schedule (a rate), whatever the answers
  do; each latency runs from the request's scheduled start, so queueing behind a slow
  server counts (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h11

RequestFor = Callable[[int], tuple[str, str, bytes]]
"""Request number -> (method, target, JSON body)."""


class Connection:
    def __init__(self, host: str, port: int, token: str | None) -> None:
        self.host = host
        self.port = port
        self.token = token
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._h11 = h11.Connection(h11.CLIENT)

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._h11 = h11.Connection(h11.CLIENT)

    async def request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        if self._writer is None:
            await self._open()
        assert self._reader is not None and self._writer is not None
        headers = [("Host", f"{self.host}:{self.port}"), ("Content-Length", str(len(body)))]
        if body:
            headers.append(("Content-Type", "application/json"))
        if self.token:
            headers.append(("Authorization", f"Bearer {self.token}"))
        data = self._h11.send(h11.Request(method=method, target=target, headers=headers))
        if body:
            data += self._h11.send(h11.Data(data=body))
        data += self._h11.send(h11.EndOfMessage())
        self._writer.write(data)
        status = 0
        chunks: list[bytes] = []
        while True:
            event = self._h11.next_event()
            if event is h11.NEED_DATA:
                received = await self._reader.read(65536)
                if not received:
                    raise ConnectionError("the server closed the connection")
                self._h11.receive_data(received)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the server closed the connection")
        if self._h11.our_state is h11.MUST_CLOSE or self._h11.their_state is h11.MUST_CLOSE:
            await self.close()
        else:
            self._h11.start_next_cycle()
        return status, b"".join(chunks)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except ConnectionError:  # already gone: closing is all we wanted
                pass
        self._reader = self._writer = None


@dataclass
class Outcome:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    client_cpu: float = 0.0
    bodies: list[Any] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.count / self.seconds

    @property
    def errors(self) -> int:
        """Answers other than 2xx, and requests whose connection failed (status 0)."""
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def note(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


class Pool:
    """Keep-alive connections, spread round-robin over the servers' ports."""

    IDLE_SECONDS = 2.0
    """Idle connections older than this are not reused: the servers close keep-alive
    connections after 5 s of silence (uvicorn's default)."""

    def __init__(self, host: str, ports: Sequence[int], token: str | None) -> None:
        self._ports = itertools.cycle(ports)
        self.host = host
        self.token = token
        self._idle: list[tuple[Connection, float]] = []
        self._stale: list[Connection] = []

    def take(self) -> Connection:
        now = time.monotonic()
        while self._idle:
            connection, since = self._idle.pop()
            if now - since < self.IDLE_SECONDS:
                return connection
            self._stale.append(connection)
        return Connection(self.host, next(self._ports), self.token)

    def give(self, connection: Connection) -> None:
        self._idle.append((connection, time.monotonic()))

    async def close(self) -> None:
        for connection in [*self._stale, *(c for c, _ in self._idle)]:
            await connection.close()
        self._idle.clear()
        self._stale.clear()


async def closed_loop(pool: Pool, request_for: RequestFor, concurrency: int, seconds: float,
                      counter: itertools.count[int]) -> Outcome:
    loop = asyncio.get_running_loop()
    outcome = Outcome(seconds)
    cpu = time.process_time()
    began = loop.time()
    deadline = began + seconds

    async def worker() -> None:
        connection = pool.take()
        try:
            while loop.time() < deadline:
                method, target, body = request_for(next(counter))
                sent = loop.time()
                try:
                    status, _ = await connection.request(method, target, body)
                except ConnectionError:
                    await connection.close()
                    outcome.note(0)
                    continue
                outcome.latencies.append(loop.time() - sent)
                outcome.note(status)
        finally:
            pool.give(connection)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    outcome.seconds = loop.time() - began
    outcome.client_cpu = time.process_time() - cpu
    return outcome


async def open_loop(pool: Pool, request_for: RequestFor, rate: float, seconds: float,
                    counter: itertools.count[int], until: asyncio.Future[Any] | None = None,
                    keep_bodies: bool = False) -> Outcome:
    """Requests at ``rate`` per second for ``seconds`` (and, when ``until`` is given,
    until it is done as well)."""
    loop = asyncio.get_running_loop()
    outcome = Outcome(seconds)
    cpu = time.process_time()
    began = loop.time()
    interval = 1.0 / rate
    tasks: list[asyncio.Task[None]] = []

    async def one(at: float) -> None:
        connection = pool.take()
        try:
            method, target, body = request_for(next(counter))
            try:
                status, answer = await connection.request(method, target, body)
            except ConnectionError:
                await connection.close()
                outcome.note(0)
                return
            outcome.latencies.append(loop.time() - at)
            outcome.note(status)
            if keep_bodies and 200 <= status < 300:
                outcome.bodies.append(json.loads(answer))
        finally:
            pool.give(connection)

    for n in itertools.count():
        at = began + n * interval
        if at >= began + seconds and (until is None or until.done()):
            break
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(at)))
    await asyncio.gather(*tasks)
    outcome.seconds = loop.time() - began
    outcome.client_cpu = time.process_time() - cpu
    return outcome
