"""The FastAPI application, built around a container made by ``api.bootstrap.build``."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import api_docs, observability, openapi_document, problems
from api.auth import TokenRegistry
from api.bootstrap import Container, build
from api.guard import RequestGuard
from api.head import HeadAsGet
from api.idempotency import IdempotencyMiddleware, IdempotencyStore
from api.routes import accounts, catalogue, licence_requests, ops, purchases, subscriptions
from api.routes import audit
from api.routes import contracts
from api.routes import problem_pages, profiles
from api.logs import configure_logging
from api.settings import Settings
from api.store_gate import StoreGate, StoreProbe

DESCRIPTION = """Event-sourced subscription lifecycle: self-service purchase, annual renewal,
cancellation and downgrade, usage caps and licence requests. Every change is an event.

Authenticate with `Authorization: Bearer <secret>` (tokens from `LIFECYCLE_API_TOKENS`).
Errors are RFC 9457 `application/problem+json`.

**Idempotency.** Send `Idempotency-Key` (at most 255 characters) with any POST, PUT, PATCH
or DELETE you may retry, and the same key with each retry:

- a repeat with the same key and the same body (compared as parsed JSON) gets the first
  answer back, with `idempotent-replayed: true`, and records nothing; every answer below
  500 is kept (refusals too), except `raw-card-data-refused`;
- a key is scoped to the token, the acting user (`X-Actor`), the method and the path:
  under another of them it is another key, and its command runs;
- without the header, or with an empty one, the command simply runs, every time: two
  identical `POST /v1/purchases` start two purchases;
- the same key with another body: 422 `idempotency-key-reused`; while the first request
  runs: 409 `idempotency-key-in-use` with `Retry-After`;
- when the first answer was lost after the command's events were recorded (a 5xx, the
  process died), the repeat never runs the command again: it gets the recovered answer,
  the route's success status with `position`, the ids of what it created and
  `recovered: true`;
- keys are kept at least 48 hours after their first use, then forgotten;
- the key is recorded as the `command_id` of the command's events."""


def create_app(
    container: Container, *, run_background: bool = True, close: bool | None = None
) -> FastAPI:
    """The app; with ``run_background``, its lifespan also follows the log and runs the
    time-driven work. ``close`` (by default as ``run_background``): close the store at
    shutdown."""
    closing = run_background if close is None else close

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_background:
            container.start()
        try:
            yield
        finally:
            if closing:
                container.close()

    app = FastAPI(
        title="lifecycle",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # api_docs serves the pages with their assets, not from a CDN
        redoc_url=None,
        servers=[{"url": "/", "description": "this service, wherever it is served"}],
        # Operation ids are the route functions' names (``cancel_renewal``): short, and
        # what a generated client's functions are called.
        generate_unique_id_function=lambda route: route.name,
        separate_input_output_schemas=False,
    )
    openapi_document.install(app)  # the problem answers, headers and security per operation
    api_docs.install(app)
    app.state.container = container
    problems.install(app)
    for module in (accounts, purchases, subscriptions, licence_requests, catalogue, ops):
        app.include_router(module.router)
    app.include_router(audit.router)
    app.include_router(contracts.router)
    app.include_router(profiles.router)
    app.include_router(problem_pages.router)
    app.add_middleware(IdempotencyMiddleware, store=IdempotencyStore(container.services.database))
    app.state.store_probe = StoreProbe(container.services.database)
    app.add_middleware(StoreGate, probe=app.state.store_probe)  # before any key is claimed
    app.add_middleware(RequestGuard, tokens=TokenRegistry(container.settings.tokens()))
    app.add_middleware(HeadAsGet)
    observability.install(app, container)  # last: its middleware is the outermost
    return app


SUPERVISOR_PID_VARIABLE = "LIFECYCLE_SUPERVISOR_PID"
"""Set by ``lifecycle serve --workers`` for its workers: the process they stop with."""
PARENT_CHECK_SECONDS = 1.0
ORPHAN_GRACE_SECONDS = 10.0
"""How long a worker whose parent is gone may take to stop gracefully before it exits."""


def worker_app() -> FastAPI:
    """One HTTP worker of ``lifecycle serve --workers N``: uvicorn calls this factory in
    each worker process. The process that started the workers follows the log and runs
    the time-driven work; a worker only serves requests, and stops (as on SIGTERM) when
    that process is gone, so that no worker outlives a killed parent (at the latest
    ``ORPHAN_GRACE_SECONDS`` after it noticed)."""
    # The supervisor's pid as it gave it, not this process's parent now: a parent killed
    # while this worker was still starting would otherwise be taken for init, watched
    # forever, and the worker would outlive it.
    parent = int(os.environ.get(SUPERVISOR_PID_VARIABLE) or os.getppid())
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    container = build(settings)

    def stop_with_parent() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)
        # A graceful stop has been seen to hang now and then once the parent is gone
        # (uvicorn's shutdown waiting on a lifespan that never completes): exit anyway.
        time.sleep(ORPHAN_GRACE_SECONDS)
        os._exit(1)

    threading.Thread(target=stop_with_parent, name="parent-watch", daemon=True).start()
    return create_app(container, run_background=False, close=True)
