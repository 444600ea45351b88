"""RFC 9457 problem answers: every error becomes one of the catalogue's problem types
(``api.problem_types``), which gives its status and title."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.problem_types import CATALOGUE
from api.route_table import methods_at, routes_of
from infrastructure.database import STORE_DOWN_ERRORS, StoreUnavailable
from lifecycle.errors import DomainError

log = logging.getLogger("lifecycle.api")


class ProjectionBehind(DomainError):
    slug = "projection-behind"


PROBLEM_JSON = "application/problem+json"
REQUEST_ID_KEY = "lifecycle.request_id"
"""Where in the request's scope state the access-log middleware keeps the request id."""


def problem(
    slug: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    *,
    status: int | None = None,
    **extras: Any,
) -> JSONResponse:
    """The problem answer of type ``slug``, with its status and its one title from the
    catalogue (``status`` overrides it only for ``http-error``, which passes on what
    the HTTP layer said); a 503 says when to retry."""
    kind = CATALOGUE[slug]
    code = status if status is not None and slug == "http-error" else kind.status
    body: dict[str, Any] = {"type": kind.type, "title": kind.title, "status": code}
    if detail:
        body["detail"] = detail
    body.update(extras)
    if code == 503:
        headers = {"Retry-After": "1", **(headers or {})}
    return JSONResponse(body, status_code=code, media_type=PROBLEM_JSON, headers=headers)


def domain_problem(error: DomainError) -> JSONResponse:
    """A rule's refusal as its problem type (the catalogue maps each type to a status)."""
    return problem(error.slug, error.detail, **error.extras)


def store_unavailable(detail: str = "the event store cannot be reached; try again") -> JSONResponse:
    return problem("store-unavailable", detail)


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
            "invalid-request",
            "see errors for what to correct",
            errors=_validation_errors(error),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404:
            return problem("not-found", str(error.detail))
        if error.status_code == 405:
            allowed = methods_at(routes_of(request.app), request.url.path)
            return problem(
                "method-not-allowed",
                f"{request.method} is not allowed here; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        return problem("http-error", str(error.detail), status=error.status_code)

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
            "internal-error",
            f"the service failed unexpectedly; it is logged as request {request_id}",
            request_id=request_id,
        )

    for kind in (StoreUnavailable, *STORE_DOWN_ERRORS):

        @app.exception_handler(kind)
        async def _store(request: Request, error: Exception) -> JSONResponse:
            log.warning("store unavailable: %s", error)
            return store_unavailable()
