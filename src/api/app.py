"""The FastAPI application, built around a container made by ``api.bootstrap.build``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import observability, problems
from api.auth import TokenRegistry
from api.bootstrap import Container
from api.guard import RequestGuard
from api.idempotency import IdempotencyMiddleware, IdempotencyStore
from api.routes import accounts, catalogue, licence_requests, ops, purchases, subscriptions
from api.routes import audit
from api.routes import contracts
from api.routes import profiles
from api.store_gate import StoreGate, StoreProbe

DESCRIPTION = """Event-sourced subscription lifecycle: self-service purchase, annual renewal,
cancellation and downgrade, usage caps and licence requests. Every change is an event.

Authenticate with `Authorization: Bearer <secret>` (tokens from `LIFECYCLE_API_TOKENS`).
Errors are RFC 9457 `application/problem+json`."""


def create_app(container: Container, *, run_background: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_background:
            container.start()
        try:
            yield
        finally:
            if run_background:
                container.close()

    app = FastAPI(title="lifecycle", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.container = container
    problems.install(app)
    for module in (accounts, purchases, subscriptions, licence_requests, catalogue, ops):
        app.include_router(module.router)
    app.include_router(audit.router)
    app.include_router(contracts.router)
    app.include_router(profiles.router)
    app.add_middleware(IdempotencyMiddleware, store=IdempotencyStore(container.services.database))
    app.state.store_probe = StoreProbe(container.services.database)
    app.add_middleware(StoreGate, probe=app.state.store_probe)  # before any key is claimed
    app.add_middleware(RequestGuard, tokens=TokenRegistry(container.settings.tokens()))
    observability.install(app, container)  # last: its middleware is the outermost
    return app
