"""Slow and idle clients against a real ``lifecycle serve``, on raw sockets.

A connection that never sends a whole request head, a body that never ends and an
idle kept-alive connection are each closed by the server within their timeout
(``LIFECYCLE_HEADER_TIMEOUT_SECONDS``, ``_BODY_TIMEOUT_SECONDS``, ``_KEEP_ALIVE_SECONDS``),
also when the client trickles a byte now and then; meanwhile ``/health`` answers at
once. Beyond ``LIFECYCLE_MAX_CONNECTIONS`` open connections a request is answered 503
``service-busy``, until the slow ones are gone.
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from lifecycle_server import COMMANDS_SECRET, LifecycleServer

pytestmark = pytest.mark.e2e

HEADER_SECONDS = 2.0
BODY_SECONDS = 3.0
KEEP_ALIVE_SECONDS = 1
MARGIN = 5.0
"""How late past its timeout a connection may be closed (a loaded machine's timers)."""
WATCH_SECONDS = max(HEADER_SECONDS, BODY_SECONDS) + MARGIN + 2
TRICKLE_EVERY = 0.5
HEALTH_FAST_SECONDS = 3.0

SLOW_HEAD = b"GET /health HTTP/1.1\r\nHost: lifecycle\r\n"
SLOW_BODY = (
    b"POST /v1/accounts HTTP/1.1\r\nHost: lifecycle\r\n"
    b"Authorization: Bearer " + COMMANDS_SECRET.encode() + b"\r\n"
    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    b'{"email": "'
)
ONE_REQUEST = b"GET /docs HTTP/1.1\r\nHost: lifecycle\r\n\r\n"


@dataclass
class Held:
    """One raw connection: what it sent, when its timeout started, when it was closed."""

    kind: str
    sock: socket.socket
    started: float
    trickle: bytes = b""
    received: bytes = b""
    closed: float | None = None

    @property
    def held_for(self) -> float:
        assert self.closed is not None
        return self.closed - self.started


def connect(server: LifecycleServer, kind: str, send: bytes = b"", trickle: bytes = b"") -> Held:
    """A new connection that sends ``send``. Its clock starts before the connection is
    made, so before any timer of the server's for it: it can only overstate how long the
    server held the connection, never understate it."""
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    if send:
        sock.sendall(send)
    sock.setblocking(False)
    return Held(kind, sock, started, trickle)


def watch(held: list[Held], seconds: float) -> None:
    """Read every connection until the server closes it or ``seconds`` pass; trickle a
    byte every ``TRICKLE_EVERY`` seconds to those that have one to send."""
    selector = selectors.DefaultSelector()
    for h in held:
        selector.register(h.sock, selectors.EVENT_READ, h)
    open_ = {id(h) for h in held}
    until = time.monotonic() + seconds
    next_trickle = time.monotonic() + TRICKLE_EVERY
    while open_ and time.monotonic() < until:
        for key, _ in selector.select(timeout=0.05):
            h = key.data
            try:
                data = h.sock.recv(65536)
            except (ConnectionResetError, BlockingIOError) as error:
                if isinstance(error, BlockingIOError):
                    continue
                data = b""
            if data:
                h.received += data
                continue
            h.closed = time.monotonic()
            selector.unregister(h.sock)
            open_.discard(id(h))
        if time.monotonic() >= next_trickle:
            next_trickle += TRICKLE_EVERY
            for h in held:
                if h.trickle and h.closed is None:
                    try:
                        h.sock.send(h.trickle)
                    except OSError:
                        pass  # closed by the server: the read above will see it
    selector.close()


class HealthChecks:
    """``GET /health`` on a new connection every 0.2 s, in a thread: status and time."""

    def __init__(self, server: LifecycleServer) -> None:
        self.server = server
        self.answers: list[tuple[int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthChecks:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            began = time.monotonic()
            try:
                status = httpx.get(f"{self.server.base_url}/health", timeout=30).status_code
            except httpx.TransportError:
                status = 0
            self.answers.append((status, time.monotonic() - began))


def test_slow_and_idle_connections_are_closed_within_their_timeouts_while_health_stays_fast(
    postgres_url: str, serve: Callable[..., LifecycleServer]
) -> None:
    server = serve(
        postgres_url,
        header_timeout_seconds=str(HEADER_SECONDS),
        body_timeout_seconds=str(BODY_SECONDS),
        keep_alive_seconds=str(KEEP_ALIVE_SECONDS),
    )
    held = (
        [connect(server, "idle") for _ in range(80)]  # never a byte sent
        # a request head that never ends, a byte every half second
        + [connect(server, "slow head", SLOW_HEAD, trickle=b"X") for _ in range(80)]
        # a whole head, then a body that never ends, a byte every half second
        + [connect(server, "slow body", SLOW_BODY, trickle=b"a") for _ in range(80)]
        # one request answered, then idle
        + [connect(server, "kept alive", ONE_REQUEST) for _ in range(40)]
    )
    with HealthChecks(server) as health:
        watch(held, WATCH_SECONDS)

    timeouts = {
        "idle": HEADER_SECONDS,
        "slow head": HEADER_SECONDS,
        "slow body": BODY_SECONDS,
        "kept alive": float(KEEP_ALIVE_SECONDS),
    }
    still_open = sorted({h.kind for h in held if h.closed is None})
    assert still_open == [], f"never closed by the server: {still_open}"
    for kind, timeout in timeouts.items():
        times = [h.held_for for h in held if h.kind == kind]
        # Not before the timeout (the server's timer starts after our clock did), and
        # not long after it (for a kept-alive one: after its answer).
        assert min(times) >= timeout - 0.05, (kind, min(times))
        assert max(times) <= timeout + MARGIN, (kind, max(times))
    assert all(h.received.startswith(b"HTTP/1.1 200 ") for h in held if h.kind == "kept alive")
    assert not any(h.received for h in held if h.kind in ("idle", "slow head"))

    assert len(health.answers) >= 5
    assert {status for status, _ in health.answers} == {200}, health.answers
    assert max(seconds for _, seconds in health.answers) < HEALTH_FAST_SECONDS, health.answers
    for h in held:
        h.sock.close()
    assert server.errors() == []


def test_a_connection_beyond_the_cap_is_answered_503_service_busy_until_others_close(
    postgres_url: str, serve: Callable[..., LifecycleServer]
) -> None:
    cap = 20
    server = serve(
        postgres_url, max_connections=str(cap), header_timeout_seconds=str(HEADER_SECONDS)
    )
    idle = [connect(server, "idle") for _ in range(cap)]

    extra = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    extra.sendall(b"GET /health HTTP/1.1\r\nHost: lifecycle\r\n\r\n")
    answer = b""
    while chunk := extra.recv(65536):  # the server closes the connection after it
        answer += chunk
    extra.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert lines[0].startswith("HTTP/1.1 503 "), answer
    assert headers["content-type"] == "application/problem+json"
    assert headers["retry-after"] == "1"
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert problem["type"] == "/problems/service-busy" and problem["status"] == 503

    watch(idle, HEADER_SECONDS + MARGIN)  # the idle ones are cut off by the header timeout
    assert all(h.closed is not None for h in idle)
    assert httpx.get(f"{server.base_url}/health", timeout=30).status_code == 200
    assert server.errors() == []


def test_every_worker_of_serve_workers_closes_idle_connections(
    postgres_url: str, serve: Callable[..., LifecycleServer]
) -> None:
    server = serve(
        postgres_url, clock="system", workers="2", header_timeout_seconds=str(HEADER_SECONDS)
    )
    # The kernel hands connections to either worker.
    idle = [connect(server, "idle") for _ in range(40)]
    watch(idle, HEADER_SECONDS + MARGIN)
    assert all(h.closed is not None for h in idle), "a worker kept idle connections open"
    assert min(h.held_for for h in idle) >= HEADER_SECONDS - 0.05
    assert httpx.get(f"{server.base_url}/health", timeout=30).status_code == 200
    for h in idle:
        h.sock.close()
