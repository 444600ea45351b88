"""RFC 9457 problem responses, and the one place where errors map to statuses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.route_table import methods_at, routes_of
from commands.database import STORE_DOWN_ERRORS, StoreUnavailable
from commands.links import InvalidLink
from commands.services import ResourceBusy, VersionConflict
from lifecycle.errors import (
    Conflict,
    DomainError,
    NotFound,
    NotPermitted,
    PaymentRefused,
    Rejected,
)

log = logging.getLogger("lifecycle.api")


class ProjectionBehind(DomainError):
    slug = "projection-behind"
    title = "The view has not yet caught up"

PROBLEM_JSON = "application/problem+json"
REQUEST_ID_KEY = "lifecycle.request_id"
"""Where in the request's scope state the access-log middleware keeps the request id."""

STATUS_BY_FAMILY: tuple[tuple[type[DomainError], int], ...] = (
    (ProjectionBehind, 503),
    (ResourceBusy, 503),
    (InvalidLink, 401),
    (NotFound, 404),
    (VersionConflict, 412),
    (Conflict, 409),
    (Rejected, 422),
    (NotPermitted, 403),
    (PaymentRefused, 402),
)


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extras: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extras)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def status_of(error: DomainError) -> int:
    for family, status in STATUS_BY_FAMILY:
        if isinstance(error, family):
            return status
    return 409


def domain_problem(error: DomainError) -> JSONResponse:
    status = status_of(error)
    headers = {"Retry-After": "1"} if status == 503 else None
    return problem(status, error.slug, error.title, error.detail, headers, **error.extras)


def store_unavailable(detail: str = "the event store cannot be reached; try again") -> JSONResponse:
    return problem(
        503, "store-unavailable", "The store is unavailable", detail, headers={"Retry-After": "1"}
    )


def _validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for item in error.errors():
        entry: dict[str, Any] = {"loc": list(item.get("loc", ())), "msg": item.get("msg", "")}
        if "type" in item:
            entry["type"] = item["type"]
        errors.append(entry)
    return errors


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> JSONResponse:
        return domain_problem(error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return problem(
            422,
            "invalid-request",
            "The request is not valid",
            "see errors for what to correct",
            errors=_validation_errors(error),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404:
            return problem(404, "not-found", "Not found", str(error.detail))
        if error.status_code == 405:
            allowed = methods_at(routes_of(request.app), request.url.path)
            return problem(
                405,
                "method-not-allowed",
                "Method not allowed",
                f"{request.method} is not allowed here; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        return problem(error.status_code, "http-error", str(error.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        """The last resort (the goal stays zero): a problem answer, never a bare
        ``text/plain`` 500, and the traceback logged under the request's id."""
        request_id = request.scope.get("state", {}).get(REQUEST_ID_KEY)
        log.error(
            "unexpected error answering %s %s",
            request.method,
            request.scope.get("path", ""),
            exc_info=(type(error), error, error.__traceback__),
            extra={"request_id": request_id},
        )
        return problem(
            500,
            "internal-error",
            "Internal error",
            f"the service failed unexpectedly; it is logged as request {request_id}",
            request_id=request_id,
        )

    for kind in (StoreUnavailable, *STORE_DOWN_ERRORS):

        @app.exception_handler(kind)
        async def _store(request: Request, error: Exception) -> JSONResponse:
            log.warning("store unavailable: %s", error)
            return store_unavailable()
