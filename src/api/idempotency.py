"""Idempotency-Key: a repeat of a command with the same key and body gets the first
response back and records nothing new (the contract's Idempotency convention).

A key's row goes through these states:

- ``running``: claimed by the first request, which is running the command;
- ``committed``: the command's events are recorded. The mark is a side write of the
  events' own transaction (``commands.services.with_every_save``), so it commits
  exactly when they do, with the log position of the last one and the ids of the
  aggregates the command created;
- ``unanswered``: the command committed, then the first request ended without an
  answer to keep (a 5xx after the commit, an exception);
- ``done``: the first response is kept and every repeat gets it back.

A process that dies between the commit and keeping the answer leaves the key
``committed``. A repeat then never runs the command again: it gets the *recovered
answer* (see ``recovered_answer``), which carries the recorded position. A key still
``running`` after ``ABANDONED_AFTER`` recorded nothing, so a repeat runs the command.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.guard import BODY_METHODS, JSON_KEY, TOKEN_KEY
from api.problems import domain_problem, problem, store_unavailable
from commands.services import SaveHook, with_every_save
from infrastructure.database import Database, StoreUnavailable
from infrastructure.migrations import upgrade
from infrastructure.recorders import SideWrite
from infrastructure.store import AGGREGATE_TYPES
from lifecycle.errors import DomainError

KEEP_FOR = timedelta(hours=48)
ABANDONED_AFTER = timedelta(minutes=2)
"""A key ``running`` this long without any event recorded: its request is gone."""
COMMITTED_GRACE = timedelta(seconds=10)
"""A key ``committed`` this long ago whose answer was never kept: its request is gone
(the answer is kept milliseconds after the last save; a command that saves twice, such
as a card replacement that retries a charge, has this long for its second step)."""
REPLAYED_HEADERS = frozenset({b"content-type", b"etag", b"location", b"retry-after"})
NOT_MARKED_PREFIXES = ("/v1/ops/clock/",)
"""Advancing the clock is repeat-safe by itself (advancing to where the clock is does
nothing) and saves many times: its key is not marked committed at its first save."""

TABLE = """CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope_hash TEXT PRIMARY KEY,
    body_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    status INTEGER,
    headers TEXT,
    body TEXT,
    created_at TEXT NOT NULL,
    position BIGINT,
    committed_at TEXT,
    created TEXT
)"""

SHOWN_KINDS = {
    cls: kind for kind, cls in AGGREGATE_TYPES.items() if kind not in ("message", "contract_number")
}
"""The aggregates whose ids a recovered answer names when the command created them."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _older_than(text: str | None, age: timedelta) -> bool:
    if not text:
        return True
    return datetime.now(timezone.utc) - datetime.fromisoformat(text) > age


class IdempotencyStore:
    """Claims, answers and replays, in the service's own database."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._db.create([TABLE])
        upgrade(database, "idempotency_keys")
        self._unreleased: set[str] = set()
        """Keys whose first request this process finished without an answer to keep,
        and could not release because the store was unreachable: released at the next
        claim, so that a retry after the outage is not refused as in use."""
        self._unreleased_lock = threading.Lock()
        # The position of the last event the transaction inserted: the events are
        # inserted just before the side writes, the mark being the first of them.
        self._last_event = "lastval()" if database.dialect == "postgres" else "last_insert_rowid()"

    def claim(self, scope_hash: str, body_hash: str) -> dict[str, Any] | None:
        """``None`` when this request now owns the key; else the row that holds it."""
        self._release_pending()
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
        if (
            row["state"] == "running"
            and row["body_hash"] == body_hash
            and _older_than(row["created_at"], ABANDONED_AFTER)
        ):
            with self._db.transaction() as tx:
                taken = tx.execute(
                    "UPDATE idempotency_keys SET created_at = ? WHERE scope_hash = ?"
                    " AND state = 'running' AND created_at = ?",
                    (_now(), scope_hash, row["created_at"]),
                )
            if taken == 1:
                return None
        return row

    def marker(self, scope_hash: str) -> SaveHook:
        """The side write that marks this key's command committed with each of its
        saves (a refused command's answer is kept outright)."""
        created: dict[str, str] = {}

        def mark(aggregates: Sequence[Aggregate], refusal: DomainError | None) -> Sequence[SideWrite]:
            for aggregate in aggregates:
                kind = SHOWN_KINDS.get(type(aggregate))
                pending = aggregate.pending_events
                if kind and pending and pending[0].originator_version == 1:
                    created[f"{kind}_id"] = str(aggregate.id)
            if refusal is not None:
                response = domain_problem(refusal)
                headers = [
                    [k.decode("latin-1"), v.decode("latin-1")]
                    for k, v in response.raw_headers
                    if k.lower() in REPLAYED_HEADERS
                ]
                return [
                    (
                        "UPDATE idempotency_keys SET state = 'done', status = ?, headers = ?,"
                        f" body = ?, position = {self._last_event}, committed_at = ?"
                        " WHERE scope_hash = ? AND state IN ('running', 'committed')",
                        (
                            response.status_code,
                            json.dumps(headers),
                            bytes(response.body).decode("utf-8"),
                            _now(),
                            scope_hash,
                        ),
                    )
                ]
            return [
                (
                    "UPDATE idempotency_keys SET state = 'committed',"
                    f" position = {self._last_event}, committed_at = ?, created = ?"
                    " WHERE scope_hash = ? AND state IN ('running', 'committed')",
                    (_now(), json.dumps(created, sort_keys=True), scope_hash),
                )
            ]

        return mark

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
        """The first request ends without an answer to keep: a key that recorded
        nothing is freed for a retry; one whose command committed is left for the
        recovered answer, at once. When the store cannot be reached the key is
        released later (``StoreUnavailable`` is raised all the same)."""
        try:
            self._release(scope_hash)
        except StoreUnavailable:
            self.release_later(scope_hash)
            raise

    def release_later(self, scope_hash: str) -> None:
        with self._unreleased_lock:
            self._unreleased.add(scope_hash)

    def _release_pending(self) -> None:
        with self._unreleased_lock:
            pending = list(self._unreleased)
        for scope_hash in pending:
            self._release(scope_hash)
            with self._unreleased_lock:
                self._unreleased.discard(scope_hash)

    def _release(self, scope_hash: str) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "DELETE FROM idempotency_keys WHERE scope_hash = ? AND state = 'running'",
                (scope_hash,),
            )
            tx.execute(
                "UPDATE idempotency_keys SET state = 'unanswered'"
                " WHERE scope_hash = ? AND state = 'committed'",
                (scope_hash,),
            )


def _scope_hash(token_name: str, actor: str | None, method: str, path: str, key: str) -> str:
    """A key's scope: the token, the acting user (when there is one), the route and the
    key. A stored answer goes back only to the caller that made it; the same key from
    another actor is another command, which runs its own checks."""
    parts = (token_name, method, path, key) if actor is None else (token_name, actor, method, path, key)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def acting_user(scope: Scope) -> str | None:
    """The ``X-Actor`` header as the caller dependency reads it (``user:<uuid>`` in its
    canonical form when it is one), or ``None``."""
    for name, value in scope.get("headers", ()):
        if name == b"x-actor":
            text = value.decode("latin-1").strip()
            prefix, _, rest = text.partition(":")
            try:
                return f"user:{UUID(rest)}" if prefix == "user" else text
            except ValueError:
                return text
    return None


def _body_hash(document: Any) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"idempotency-key":
            return value.decode("latin-1").strip() or None
    return None


def success_statuses(openapi: dict[str, Any]) -> list[tuple[re.Pattern[str], str, int]]:
    """(path pattern, method, success status) of every operation of an OpenAPI document,
    routes with fewer path parameters first (a literal segment wins over a parameter)."""
    table = []
    for template, operations in openapi.get("paths", {}).items():
        pattern = re.compile("".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", template)
        ))
        for method, operation in operations.items():
            codes = sorted(
                int(code) for code in operation.get("responses", {})
                if code.isdigit() and 200 <= int(code) < 300
            )
            table.append((template.count("{"), pattern, method.upper(), codes[0] if codes else 200))
    return [(pattern, method, status) for _, pattern, method, status in sorted(table, key=lambda r: r[0])]


def recovered_answer(
    held: dict[str, Any], success_status: int
) -> tuple[int, list[list[str]], bytes]:
    """The answer to a repeat of a command that committed but whose first answer was
    lost: the route's success status (201 for a creation), and a body with the recorded
    ``position`` of the command's last event, the ids of the aggregates it created
    (``account_id``, ``organisation_id``, ``subscription_id``, ...) and
    ``recovered: true``. The resource itself is read with its GET (every resource GET
    reflects acknowledged commands), or a view with ``min_position``."""
    body = {
        **json.loads(held.get("created") or "{}"),
        "position": int(held["position"]),
        "recovered": True,
    }
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return success_status, [["content-type", "application/json"]], encoded


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, store: IdempotencyStore) -> None:
        self.app = app
        self.store = store
        self._statuses: list[tuple[re.Pattern[str], str, int]] | None = None

    def success_status(self, scope: Scope) -> int:
        """The status the request's route answers with when its command succeeds, from
        the application's OpenAPI document."""
        if self._statuses is None:
            openapi = getattr(scope.get("app"), "openapi", None)
            self._statuses = success_statuses(openapi() if callable(openapi) else {})
        for pattern, method, status in self._statuses:
            if method == scope["method"] and pattern.fullmatch(scope["path"]):
                return status
        return 200

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = scope.get("state", {}).get(TOKEN_KEY) if scope["type"] == "http" else None
        key = idempotency_key(scope) if token is not None else None
        if key is None or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        if len(key) > 255:
            too_long = problem("invalid-request", "Idempotency-Key is at most 255 characters")
            await too_long(scope, receive, send)
            return
        actor = acting_user(scope)
        scope_hash = _scope_hash(token.name, actor, scope["method"], scope["path"], key)
        body_hash = _body_hash(scope.get(JSON_KEY))
        try:
            held = await run_in_threadpool(self.store.claim, scope_hash, body_hash)
        except StoreUnavailable:
            await store_unavailable()(scope, receive, send)
            return
        if held is not None:
            await self._answer_held(held, scope_hash, body_hash, scope, receive, send)
            return
        await self._run_and_keep(scope_hash, scope, receive, send)

    async def _answer_held(
        self,
        held: dict[str, Any],
        scope_hash: str,
        body_hash: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        lost = held["state"] == "unanswered" or (
            held["state"] == "committed" and _older_than(held["committed_at"], COMMITTED_GRACE)
        )
        if held["body_hash"] != body_hash:
            response = problem(
                "idempotency-key-reused",
                "this key was first used with a different request body",
            )
        elif lost:
            status, headers, body = recovered_answer(held, self.success_status(scope))
            try:  # kept, so that every later repeat gets this same answer
                await run_in_threadpool(self.store.answer, scope_hash, status, headers, body)
            except StoreUnavailable:
                await store_unavailable()(scope, receive, send)
                return
            await self._replay(status, headers, body, send)
            return
        elif held["state"] != "done":
            response = problem(
                "idempotency-key-in-use",
                "the first request with this key is still running",
                headers={"Retry-After": "1"},
            )
        else:
            await self._replay(
                int(held["status"]), json.loads(held["headers"]), held["body"].encode("utf-8"), send
            )
            return
        await response(scope, receive, send)

    @staticmethod
    async def _replay(status: int, headers: list[list[str]], body: bytes, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
                + [(b"idempotent-replayed", b"true")],
            }
        )
        await send({"type": "http.response.body", "body": body})

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
            if scope["path"].startswith(NOT_MARKED_PREFIXES):
                await self.app(scope, receive, capture)
            else:
                with with_every_save(self.store.marker(scope_hash)):
                    await self.app(scope, receive, capture)
        except BaseException:  # also on cancellation: free the key for a retry, then re-raise
            try:
                await run_in_threadpool(self.store.release, scope_hash)
            except StoreUnavailable:
                pass  # the key is released once the store answers (release_later)
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
            # The answer is not kept: the key is released (or, if its command committed,
            # marked for the recovered answer) once the store answers again.
            self.store.release_later(scope_hash)
            await store_unavailable()(scope, receive, send)
            return
        await send(start)
        await send({"type": "http.response.body", "body": body})
