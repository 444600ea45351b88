"""While the database cannot be reached, every route answers 503 ``store-unavailable``
at once, and ``GET /health`` says so.

Without this gate a request that reaches a stopped PostgreSQL waits for the connection
pool until its deadline (below) before it fails. The gate keeps a verdict on the store
from a probe of its own: a fresh connection with a short timeout and ``SELECT 1``,
outside the pool, so that a pool busy with slow requests is not mistaken for a store
that is down. The probe runs in a short-lived thread at most every ``interval``
seconds, started by the requests that find the verdict stale; a request never waits
for it. Once the database answers again, the next probe lets requests through,
without a restart.

A request that got past the gate before the probe saw the outage (one in flight when
the database went away) is bounded by its deadline instead: its store calls stop
waiting for a connection ``request_deadline_seconds`` after it arrived here and raise
``StoreUnavailable`` (``infrastructure.database.StoreDeadline``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import store_unavailable
from api.settings import Settings
from infrastructure.database import Database, store_deadline

log = logging.getLogger("lifecycle.api")

NOT_GATED = frozenset(
    {"/health", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
"""Routes that never touch the store, and those that report on it (health, metrics)."""


class StoreProbe:
    """Whether the service's database answers, as last seen."""

    def __init__(self, database: Database, interval: float = 0.5, connect_timeout: int = 2) -> None:
        self._database = database
        self._interval = interval
        self._connect_timeout = max(2, connect_timeout)  # libpq's least timeout is 2 s
        self._available = True
        self._checked = time.monotonic()
        self._probing = threading.Lock()

    def available(self) -> bool:
        """The verdict of the last probe (``True`` before the first); starts a new probe
        in the background when that verdict is older than ``interval`` seconds."""
        if self._database.dialect != "postgres":
            return True  # a SQLite file: a locked database is answered per request
        if time.monotonic() - self._checked >= self._interval and self._probing.acquire(
            blocking=False
        ):
            threading.Thread(target=self._probe, name="store-probe", daemon=True).start()
        return self._available

    def check_now(self) -> bool:
        """Probe now, in the calling thread, and return the new verdict."""
        if self._database.dialect != "postgres":
            return True
        with self._probing:
            self._record(self._answers())
        return self._available

    def _probe(self) -> None:
        try:
            self._record(self._answers())
        finally:
            self._probing.release()

    def _record(self, answered: bool) -> None:
        if answered != self._available:
            log.warning("the store %s", "answers again" if answered else "cannot be reached")
        self._available = answered
        self._checked = time.monotonic()

    def _answers(self) -> bool:
        kwargs: dict[str, Any] = {
            k: v
            for k, v in self._database.datastore.pool.kwargs.items()
            if k in ("dbname", "host", "port", "user", "password")
        }
        try:
            with psycopg.connect(
                **kwargs, connect_timeout=self._connect_timeout, autocommit=True
            ) as connection:
                connection.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True


class StoreGate:
    """ASGI middleware: 503 ``store-unavailable`` while the probe finds the store down;
    and every request's waits for the store bounded by its deadline
    (``request_deadline_seconds`` from here; ``infrastructure.database.StoreDeadline``), so
    that a request already in flight when the database goes away answers 503 then
    rather than after the event store's retries."""

    def __init__(self, app: ASGIApp, probe: StoreProbe) -> None:
        self.app = app
        self.probe = probe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] not in NOT_GATED and not self.probe.available():
            await store_unavailable()(scope, receive, send)
            return
        with store_deadline(deadline_seconds(scope)):
            await self.app(scope, receive, send)


def deadline_seconds(scope: Scope) -> float:
    """The service's ``request_deadline_seconds``, from the container of the app that
    serves the request."""
    container = getattr(getattr(scope.get("app"), "state", None), "container", None)
    settings = getattr(container, "settings", None)
    if settings is None:
        return float(Settings.model_fields["request_deadline_seconds"].default)
    return float(settings.request_deadline_seconds)
