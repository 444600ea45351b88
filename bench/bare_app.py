"""B3's baseline: a bare FastAPI endpoint served the way ``lifecycle serve`` is served
(uvicorn's worker processes on one socket, no access log), taking the same pydantic body as
``POST /v1/organisations/{org}/users`` and doing one INSERT through a psycopg pool.

    python -m bench.bare_app --port 8100 --workers 2   # BENCH_BARE_DATABASE_URL=postgresql://...
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool
from pydantic import BaseModel

TABLE = """CREATE TABLE IF NOT EXISTS bare_users (
    id bigserial PRIMARY KEY,
    account_id uuid NOT NULL UNIQUE,
    organisation_id uuid NOT NULL,
    email text NOT NULL,
    name text NOT NULL,
    username text NOT NULL,
    user_type text NOT NULL
)"""


class NewUser(BaseModel):
    email: str
    name: str
    username: str
    user_type: str


def create_app(database_url: str) -> FastAPI:
    # The same pool bounds as the service's store (POSTGRES_POOL_SIZE 10, overflow 10).
    pool = ConnectionPool(database_url, min_size=10, max_size=20, open=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=True)
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    def health() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.post("/v1/organisations/{organisation_id}/users", status_code=201)
    def add_user(organisation_id: uuid.UUID, body: NewUser) -> JSONResponse:
        account_id = uuid.uuid4()
        with pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO bare_users (account_id, organisation_id, email, name, username,"
                " user_type) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (account_id, organisation_id, body.email, body.name, body.username, body.user_type),
                prepare=True,
            ).fetchone()
        assert row is not None
        return JSONResponse(
            {"account_id": str(account_id), "user_type": body.user_type, "position": row[0]},
            status_code=201,
        )

    return app


def app_from_env() -> FastAPI:
    """The app of one worker process (uvicorn's factory, under ``--workers N``)."""
    return create_app(os.environ["BENCH_BARE_DATABASE_URL"])


def main() -> int:
    import psycopg
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    url = os.environ["BENCH_BARE_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TABLE)
    if args.workers > 1:  # as lifecycle serve --workers N: uvicorn's workers on one socket
        from uvicorn.supervisors import Multiprocess

        from api.cli import listening_socket

        config = uvicorn.Config("bench.bare_app:app_from_env", factory=True,
                                workers=args.workers, host=args.host, port=args.port,
                                log_level="warning", access_log=False)
        Multiprocess(config, sockets=[listening_socket(args.host, args.port)]).run()
    else:
        uvicorn.run(create_app(url), host=args.host, port=args.port, log_level="warning",
                    access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
