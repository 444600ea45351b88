"""How long a client may hold a connection of ``lifecycle serve``, and how many it may
hold: uvicorn's HTTP/1.1 protocol (h11) with a header and a body timeout and a cap on
open connections per worker process.

Uvicorn closes an idle connection ``timeout_keep_alive`` seconds after an answer, but
has nothing for a client that is slow before that: a connection that never sends a
complete request head, or a body that never ends, stays open for ever (its keep-alive
timer starts only after a first answer, and every byte received stops it). Its own
``limit_concurrency`` answers a plain-text 503 and counts running tasks as well as
connections. So, per connection:

- the request head must arrive within ``header_seconds``, counted from the
  connection's start, or, on a kept-alive connection, from the first byte of the next
  request (trickling bytes does not extend it);
- the body, within ``body_seconds`` of the end of the head;
- then the handler runs (its waits for the store are bounded by the request deadline,
  ``infrastructure.database``), and after the answer uvicorn's keep-alive timer takes over.

A connection that misses its timeout is closed. A connection opened while the worker
already holds ``max_connections`` is answered 503 ``service-busy`` (problem+json,
``Retry-After``, ``Connection: close``) as soon as its request head arrives, and is
given ``BUSY_HEADER_SECONDS`` for that head: refused connections hold a file only
briefly.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from fastapi.responses import JSONResponse
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.problems import problem
from api.settings import Settings

log = logging.getLogger("lifecycle.api")

BUSY_HEADER_SECONDS = 1.0
"""How long a connection beyond the cap may take to send the head of its request."""
BUSY_RETRY_AFTER_SECONDS = 1
RESERVED_FILES = 128
"""Files a serving process keeps for itself beside its HTTP connections: the database
pool (at most 20 connections) and kept sessions, logs, metrics files, the listening
socket. About 30 were open in a serving process after some traffic."""
REFUSAL_LOG_INTERVAL = 10.0
"""Refused connections are logged at most once in this many seconds per process."""


@dataclass(frozen=True)
class ConnectionLimits:
    header_seconds: float = 10.0
    body_seconds: float = 30.0
    max_connections: int = 1000

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            header_seconds=settings.header_timeout_seconds,
            body_seconds=settings.body_timeout_seconds,
            max_connections=settings.max_connections,
        )


def service_busy() -> JSONResponse:
    return problem(
        "service-busy",
        "too many open connections; try again",
        headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS), "Connection": "close"},
    )


_last_refusal_logged = -REFUSAL_LOG_INTERVAL


def _log_refusal(open_connections: int, cap: int) -> None:
    global _last_refusal_logged
    now = time.monotonic()
    if now - _last_refusal_logged >= REFUSAL_LOG_INTERVAL:
        _last_refusal_logged = now
        log.warning(
            "refusing connections: %d open, at most %d per worker (LIFECYCLE_MAX_CONNECTIONS)",
            open_connections,
            cap,
        )


class LimitedH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol with a header and a body timeout and a connection cap."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.limits: ConnectionLimits = getattr(config, "limits", None) or ConnectionLimits()
        self._waiting_for: Any = None  # h11.IDLE (the head), h11.SEND_BODY, or None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        header_seconds = self.limits.header_seconds
        if len(self.connections) > self.limits.max_connections:
            _log_refusal(len(self.connections), self.limits.max_connections)
            self.app = service_busy()
            header_seconds = min(header_seconds, BUSY_HEADER_SECONDS)
        self._wait_for(h11.IDLE, header_seconds)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:
            self._wait_for(None)  # between requests: uvicorn's keep-alive timer runs
        else:
            self._follow()  # a pipelined request, already under way

    def connection_lost(self, exc: Exception | None) -> None:
        self._wait_for(None)
        super().connection_lost(exc)

    def _follow(self) -> None:
        """Time what the client still owes: the head of a request (from its first byte,
        on a kept-alive connection), or its body."""
        state = self.conn.their_state
        if state is h11.IDLE:
            self._wait_for(h11.IDLE, self.limits.header_seconds)
        elif state is h11.SEND_BODY:
            self._wait_for(h11.SEND_BODY, self.limits.body_seconds)
        else:
            self._wait_for(None)

    def _wait_for(self, what: Any, seconds: float = 0.0) -> None:
        if what is not None and what is self._waiting_for:
            return  # already timed: more bytes of the same part do not extend it
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting_for = what
        if what is not None:
            self._timer = self.loop.call_later(seconds, self._cut_off)

    def _cut_off(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()


class LimitedConfig(uvicorn.Config):
    """Uvicorn's configuration with the limits above; ``lifecycle serve --workers`` hands
    it to each worker process (it is pickled, so the limits travel with it)."""

    def __init__(
        self, app: Any, *, limits: ConnectionLimits, keep_alive_seconds: int, **kwargs: Any
    ) -> None:
        super().__init__(
            app, http=LimitedH11Protocol, timeout_keep_alive=keep_alive_seconds, **kwargs
        )
        self.limits = limits


def fit_file_limit(limits: ConnectionLimits) -> ConnectionLimits:
    """Make room for ``max_connections`` under the process's open-file limit: raise the
    soft limit as far as the hard one allows (worker processes inherit it), and lower the
    cap when even that is too small, with a warning."""
    wanted = limits.max_connections + RESERVED_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return limits
    fitted = max(1, soft - RESERVED_FILES)
    log.warning(
        "LIFECYCLE_MAX_CONNECTIONS lowered from %d to %d: the open-file limit is %d",
        limits.max_connections,
        fitted,
        soft,
    )
    return ConnectionLimits(limits.header_seconds, limits.body_seconds, fitted)
