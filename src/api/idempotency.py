"""Idempotency-Key: a repeat of a command with the same key and body gets the first
response back and records nothing new (the contract's Idempotency convention)."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.guard import BODY_METHODS, JSON_KEY, TOKEN_KEY
from api.problems import problem, store_unavailable
from commands.database import Database, StoreUnavailable

KEEP_FOR = timedelta(hours=48)
ABANDONED_AFTER = timedelta(minutes=2)
REPLAYED_HEADERS = frozenset({b"content-type", b"etag", b"location", b"retry-after"})

TABLE = """CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope_hash TEXT PRIMARY KEY,
    body_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    status INTEGER,
    headers TEXT,
    body TEXT,
    created_at TEXT NOT NULL
)"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class IdempotencyStore:
    """Claims, answers and replays, in the service's own database."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._db.create([TABLE])

    def claim(self, scope_hash: str, body_hash: str) -> dict[str, Any] | None:
        """``None`` when this request now owns the key; else the row that holds it."""
        with self._db.transaction() as tx:
            inserted = tx.execute(
                "INSERT INTO idempotency_keys (scope_hash, body_hash, state, created_at)"
                " VALUES (?, ?, 'running', ?) ON CONFLICT (scope_hash) DO NOTHING",
                (scope_hash, body_hash, _now()),
            )
            if inserted == 1:
                return None
            row = tx.one("SELECT * FROM idempotency_keys WHERE scope_hash = ?", (scope_hash,))
        if row is None:
            return self.claim(scope_hash, body_hash)
        if row["state"] == "running" and row["body_hash"] == body_hash and self._abandoned(row):
            with self._db.transaction() as tx:
                taken = tx.execute(
                    "UPDATE idempotency_keys SET created_at = ? WHERE scope_hash = ?"
                    " AND state = 'running' AND created_at = ?",
                    (_now(), scope_hash, row["created_at"]),
                )
            if taken == 1:
                return None
        return row

    @staticmethod
    def _abandoned(row: dict[str, Any]) -> bool:
        started = datetime.fromisoformat(row["created_at"])
        return datetime.now(timezone.utc) - started > ABANDONED_AFTER

    def answer(self, scope_hash: str, status: int, headers: list[list[str]], body: bytes) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "UPDATE idempotency_keys SET state = 'done', status = ?, headers = ?, body = ?"
                " WHERE scope_hash = ?",
                (status, json.dumps(headers), body.decode("utf-8"), scope_hash),
            )
            if random.random() < 0.01:
                tx.execute(
                    "DELETE FROM idempotency_keys WHERE created_at < ?",
                    ((datetime.now(timezone.utc) - KEEP_FOR).isoformat(),),
                )

    def release(self, scope_hash: str) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "DELETE FROM idempotency_keys WHERE scope_hash = ? AND state = 'running'",
                (scope_hash,),
            )


def _scope_hash(token_name: str, method: str, path: str, key: str) -> str:
    return hashlib.sha256("\n".join((token_name, method, path, key)).encode()).hexdigest()


def _body_hash(document: Any) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"idempotency-key":
            return value.decode("latin-1").strip() or None
    return None


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, store: IdempotencyStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = scope.get("state", {}).get(TOKEN_KEY) if scope["type"] == "http" else None
        key = idempotency_key(scope) if token is not None else None
        if key is None or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        if len(key) > 255:
            await problem(
                422, "invalid-request", "The request is not valid", "Idempotency-Key is at most 255 characters"
            )(scope, receive, send)
            return
        scope_hash = _scope_hash(token.name, scope["method"], scope["path"], key)
        body_hash = _body_hash(scope.get(JSON_KEY))
        try:
            held = await run_in_threadpool(self.store.claim, scope_hash, body_hash)
        except StoreUnavailable:
            await store_unavailable()(scope, receive, send)
            return
        if held is not None:
            await self._answer_held(held, body_hash, scope, receive, send)
            return
        await self._run_and_keep(scope_hash, scope, receive, send)

    async def _answer_held(
        self, held: dict[str, Any], body_hash: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if held["body_hash"] != body_hash:
            response = problem(
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused with another body",
                "this key was first used with a different request body",
            )
        elif held["state"] != "done":
            response = problem(
                409,
                "idempotency-key-in-use",
                "Idempotency-Key in use",
                "the first request with this key is still running",
                headers={"Retry-After": "1"},
            )
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": int(held["status"]),
                    "headers": [
                        (k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(held["headers"])
                    ]
                    + [(b"idempotent-replayed", b"true")],
                }
            )
            await send({"type": "http.response.body", "body": held["body"].encode("utf-8")})
            return
        await response(scope, receive, send)

    async def _run_and_keep(self, scope_hash: str, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, capture)
        except BaseException:  # also on cancellation: free the key for a retry, then re-raise
            await run_in_threadpool(self.store.release, scope_hash)
            raise
        assert start is not None
        status = int(start["status"])
        body = b"".join(chunks)
        keep = status < 500 and b'"/problems/raw-card-data-refused"' not in body
        try:
            if keep:
                headers = [
                    [k.decode("latin-1"), v.decode("latin-1")]
                    for k, v in start.get("headers", [])
                    if k.lower() in REPLAYED_HEADERS
                ]
                await run_in_threadpool(self.store.answer, scope_hash, status, headers, body)
            else:
                await run_in_threadpool(self.store.release, scope_hash)
        except StoreUnavailable:
            await store_unavailable()(scope, receive, send)
            return
        await send(start)
        await send({"type": "http.response.body", "body": body})
