"""Audit (R60, R61): an aggregate's full history, its state as of any instant, and the
tamper-evident export of the whole log with its verification. Scope ``audit`` only:
the lines carry personal data (names, e-mail addresses, billing addresses)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api import models
from api.audit_kinds import AuditedKind, audited
from api.bootstrap import Container
from api.deps import MAX_POSITION, ContainerDep, MinPosition, ReaderDep, wait_for_projection
from api.guard import TOKEN_KEY
from api.responses import parse_id
from api.schemas import Instant
from api.routes.access import ReadingCallerDep, check_actor_in
from commands.context import Caller
from lifecycle.errors import NotFound, NotPermitted
from projections.audit_chain import NAME as CHAIN, AuditLog
from projections.audit_lines import canonical

AUDIT_SCOPE = "audit"
NDJSON = "application/x-ndjson"

Kind = Annotated[str, Path(description="contracts or subscriptions")]
EXPORT_LIMIT_MAX = 10_000


class AuditScopeRequired(NotPermitted):
    slug = "forbidden"


async def audit_scope(request: Request) -> None:
    """Belt and braces behind the guard (which maps ``/v1/audit/*`` to ``audit``): no
    token without the audit scope reaches these routes, however the guard changes."""
    token = request.scope.get("state", {}).get(TOKEN_KEY)
    if token is None or AUDIT_SCOPE not in token.scopes:
        raise AuditScopeRequired("this route needs the 'audit' scope")


router = APIRouter(tags=["audit"], dependencies=[Depends(audit_scope)])


class AuditEvent(models.Out):
    position: int
    version: int
    type: str
    occurred_at: models.Instant
    service: str | None
    actor: str | None
    command_id: str | None
    correlation_id: str | None
    data: dict[str, Any]


class Verification(models.Out):
    ok: bool
    events: int
    head_hash: str
    position: int
    first_bad_position: int | None = None
    reason: str | None = None


def audit_log(container: Container) -> AuditLog:
    return AuditLog(
        container.services.store, container.services.database, container.runners[CHAIN]
    )


def _aggregate_id(kind: AuditedKind, value: str) -> UUID:
    kind.aggregate_class()  # a kind not built yet is not found
    return parse_id(value, kind.what)


def history_of(container: Container, kind: str, aggregate_id: str) -> list[dict[str, Any]]:
    audited_kind = audited(kind)
    uid = _aggregate_id(audited_kind, aggregate_id)
    entries = audit_log(container).history(uid)
    if not entries or entries[0]["aggregate_type"] != audited_kind.aggregate_type:
        raise NotFound(f"{audited_kind.what} {aggregate_id} not found")
    for entry in entries:
        del entry["aggregate_type"]
    return entries


def check_actor_reads(container: Container, kind: str, aggregate_id: str, reading: Caller) -> None:
    """With ``X-Actor``, the audit of another organisation's contract or subscription is
    not the acting user's to read (403 ``not-your-organisation``)."""
    if reading.actor_id is None:
        return
    audited_kind = audited(kind)
    uid = _aggregate_id(audited_kind, aggregate_id)
    aggregate = container.services.find(audited_kind.aggregate_class(), uid)
    check_actor_in(container.services, reading, getattr(aggregate, "organisation_id", None))


def state_as_of(container: Container, kind: str, aggregate_id: str, as_of: Any) -> dict[str, Any]:
    audited_kind = audited(kind)
    uid = _aggregate_id(audited_kind, aggregate_id)
    aggregate = audit_log(container).as_of(uid, as_of)
    if aggregate is None:
        raise NotFound(f"{audited_kind.what} {aggregate_id} did not exist at {as_of.isoformat()}")
    if not isinstance(aggregate, audited_kind.aggregate_class()):
        raise NotFound(f"{audited_kind.what} {aggregate_id} not found")
    return audited_kind.represent(aggregate)


@router.get("/v1/audit/export", response_class=StreamingResponse, responses={
    200: {
        "content": {NDJSON: {}},
        "description": "one audit line per event, in log order",
        "headers": {
            "Link": {
                "description": 'the next page (`rel="next"`), when this one is full',
                "required": False,
                "schema": {"type": "string"},
            }
        },
    }
})
def export(
    container: ContainerDep,
    _: ReaderDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="the position after which to start")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=EXPORT_LIMIT_MAX)] = 1000,
    min_position: MinPosition = None,
) -> StreamingResponse:
    """The chained log after ``after``, as NDJSON: ``position, aggregate_id,
    aggregate_type, version, type, occurred_at, service, actor, command_id,
    correlation_id, data, prev_hash, hash``. The next page starts after the last
    line's ``position`` (also in the ``Link: rel="next"`` header when the page is full).
    """
    wait_for_projection(container, container.runners[CHAIN], min_position)
    lines = audit_log(container).export(after, limit)

    def body() -> Iterator[bytes]:
        for line in lines:
            yield (canonical(line) + "\n").encode("utf-8")

    headers = {}
    if len(lines) == limit:
        following = f"/v1/audit/export?after={lines[-1]['position']}&limit={limit}"
        headers["Link"] = f'<{following}>; rel="next"'
    return StreamingResponse(body(), media_type=NDJSON, headers=headers)


@router.get("/v1/audit/verify", response_model=Verification)
def verify(container: ContainerDep, _: ReaderDep, min_position: MinPosition = None) -> JSONResponse:
    """Re-read every stored event, recompute the hash chain and compare it with the
    recorded one; ``first_bad_position`` is where they first differ."""
    wait_for_projection(container, container.runners[CHAIN], min_position)
    return JSONResponse(audit_log(container).verify().as_dict())


@router.get("/v1/audit/{kind}/{aggregate_id}/history", response_model=list[AuditEvent])
def history(
    kind: Kind,
    aggregate_id: str,
    container: ContainerDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    min_position: MinPosition = None,
) -> JSONResponse:
    """Every event of the contract or subscription, oldest first (``kind`` is
    ``contracts`` or ``subscriptions``)."""
    entries = history_of(container, kind, aggregate_id)
    check_actor_reads(container, kind, aggregate_id, reading)
    return JSONResponse(entries)


@router.get("/v1/audit/{kind}/{aggregate_id}", response_model=dict[str, Any])
def as_of(
    kind: Kind,
    aggregate_id: str,
    container: ContainerDep,
    _: ReaderDep,
    reading: ReadingCallerDep,
    as_of: Annotated[
        Instant,
        Query(description="an RFC 3339 instant with its offset, e.g. 2027-03-01T00:00:00Z"),
    ],
    min_position: MinPosition = None,
) -> JSONResponse:
    """The contract or subscription as its GET would have answered at ``as_of``: the
    events recorded at or before that instant. 404 before it existed."""
    state = state_as_of(container, kind, aggregate_id, as_of)
    check_actor_reads(container, kind, aggregate_id, reading)
    return JSONResponse(state)
