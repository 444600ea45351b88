"""Operations: outgoing messages, the manual clock, projection status, health."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api import models
from api.deps import CallerDep, ContainerDep, MinPosition, ReaderDep, wait_for_projection
from api.representations import instant
from api.routes.access import check_actor_in
from api.schemas import AdvanceClock
from commands.personal_data.erasure import erase_personal_data
from commands.time_driven import advance_clock
from infrastructure.database import STORE_DOWN_ERRORS, StoreUnavailable
from lifecycle.errors import NotFound
from projections.notifications import list_notifications

router = APIRouter(tags=["ops"])


@router.get("/v1/ops/notifications", response_model=list[models.Notification])
def notifications(
    container: ContainerDep,
    _: ReaderDep,
    recipient: str | None = Query(default=None, max_length=254, pattern=r"^[^\x00]*$"),
    min_position: MinPosition = None,
) -> JSONResponse:
    """Outgoing messages, oldest first, optionally for one recipient."""
    runner = container.runners["notifications"]
    wait_for_projection(container, runner, min_position)
    rows = list_notifications(container.services.database, recipient)
    for row in rows:
        row["created_at"] = row["created_at"][:19] + "Z"
    return JSONResponse(rows)


@router.post("/v1/ops/clock/advance", response_model=models.ClockAdvanced)
def advance(body: AdvanceClock, container: ContainerDep, _: ReaderDep) -> JSONResponse:
    """Under the manual clock: do every piece of time-driven work due up to ``to``, in order."""
    advanced = advance_clock(container.services, container.due_work, body.to)
    return JSONResponse(
        {
            "now": instant(container.services.clock.now()),
            "position": advanced.position,
            "failed": [failure.shown() for failure in advanced.failed],
        }
    )


@router.get("/v1/ops/due-work/failed", response_model=list[models.FailedDueItem])
def failed_due_work(container: ContainerDep, _: ReaderDep) -> JSONResponse:
    """Time-driven work whose last attempt failed, earliest due first: each is held back
    until ``retry_at`` (one minute after the first failure, doubling, at most six hours)
    while the rest of the queue runs."""
    return JSONResponse([failure.shown() for failure in container.due_work.failures()])


@router.post(
    "/v1/ops/due-work/failed/{key}/retry", response_model=models.FailedDueItem
)
def retry_failed_due_work(key: str, container: ContainerDep, _: ReaderDep) -> JSONResponse:
    """Try a failed item again at the next run (under the manual clock, the next advance)
    instead of waiting for its retry instant."""
    failure = container.due_work.retry_now(key, container.services.clock.now())
    if failure is None:
        raise NotFound(f"no failed due item {key}")
    return JSONResponse(failure.shown())


def projection_status(container: Any) -> list[dict[str, Any]]:
    head = container.services.head()
    rows = []
    for name, runner in container.runners.items():
        row = runner.status()
        shown: dict[str, Any] = {
            "name": name,
            "position": int(row["position"]),
            "head": head,
            "lag": max(0, head - int(row["position"])),
            "status": row["status"],
        }
        if row["status"] == "failed" or row.get("error"):  # also a failed rebuild's error
            shown["error"] = row["error"]
            shown["failed_position"] = row["failed_position"]
        if row.get("generation") is not None:
            shown["generation"] = int(row["generation"])
        rows.append(shown)
    return rows


@router.get("/v1/ops/projections", response_model=list[models.ProjectionStatus])
def projections(container: ContainerDep, _: ReaderDep, min_position: MinPosition = None) -> JSONResponse:
    """Each projection's position, lag and status; with ``min_position``, once every
    projection has reached it."""
    for runner in container.runners.values():
        wait_for_projection(container, runner, min_position)
    return JSONResponse(projection_status(container))


@router.post(
    "/v1/ops/projections/{name}/rebuild", status_code=202, response_model=models.RebuildStarted
)
def rebuild_projection(name: str, container: ContainerDep, _: ReaderDep) -> JSONResponse:
    """Rebuild a projection from the event log beside the serving copy; its status is
    ``rebuilding`` until the new copy has caught up and been swapped in."""
    if name not in container.runners:
        raise NotFound(f"projection {name} not found")
    started = container.rebuilder(name).start()
    rows = {row["name"]: row for row in projection_status(container)}
    return JSONResponse({**rows[name], "started": started}, status_code=202)


class PersonalDataErased(BaseModel):
    organisation_id: str
    personal_data_erased_at: models.Instant
    position: int


@router.post(
    "/v1/ops/organisations/{organisation_id}/erase-personal-data",
    response_model=PersonalDataErased,
)
def erase_organisation_personal_data(
    organisation_id: UUID, container: ContainerDep, caller: CallerDep
) -> JSONResponse:
    """Make the organisation's personal data (names, e-mail addresses, contacts, what
    people wrote) unreadable for good: its data key is deleted and ``PersonalDataErased``
    recorded. Its subscriptions and contracts carry on; personal fields read
    ``"[erased]"``; the audit chain still verifies. Repeating it changes nothing."""
    check_actor_in(container.services, caller, organisation_id)
    outcome = erase_personal_data(container.services, caller, organisation_id)
    erased_at = outcome.value.personal_data_erased_at
    assert erased_at is not None
    return JSONResponse(
        {
            "organisation_id": str(outcome.value.id),
            "personal_data_erased_at": instant(erased_at),
            "position": outcome.position,
        }
    )


HEALTH_WAIT_SECONDS = 5.0
"""How long health waits for the projections' status before calling the store unavailable."""


@router.get("/health", response_model=models.Health)
async def health(request: Request, container: ContainerDep) -> JSONResponse:
    """Whether the store answers, and each projection's status (no token needed).

    Always 200: ``status`` is ``ok``, ``degraded`` (a projection failed, or a due item's
    work failed and waits for a retry: ``due_work.failed``) or ``unavailable`` (``store: "unavailable"``: the database cannot be reached; every
    other route answers 503 ``store-unavailable`` meanwhile)."""
    unavailable = JSONResponse({"status": "unavailable", "store": "unavailable", "projections": {}})
    probe = getattr(request.app.state, "store_probe", None)
    rows = None
    with anyio.move_on_after(HEALTH_WAIT_SECONDS):
        try:
            # A probe of its own first (milliseconds when the database refuses), so that
            # a stopped database is reported at once rather than after the wait.
            if probe is None or await anyio.to_thread.run_sync(
                probe.check_now, abandon_on_cancel=True
            ):
                rows = await anyio.to_thread.run_sync(
                    _health_readings, container, abandon_on_cancel=True
                )
        except (StoreUnavailable, *STORE_DOWN_ERRORS):
            rows = None
    if rows is None:
        return unavailable
    projections, failed_items = rows
    failed = failed_items > 0 or any(r["status"] == "failed" for r in projections)
    return JSONResponse(
        {
            "status": "degraded" if failed else "ok",
            "store": "ok",
            "projections": {
                r["name"]: {"status": r["status"], "lag": r["lag"]} for r in projections
            },
            "due_work": {"failed": failed_items},
        }
    )


def _health_readings(container: Any) -> tuple[list[dict[str, Any]], int]:
    return projection_status(container), len(container.due_work.failures())
