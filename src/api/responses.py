"""Answers with the contract's conventions: ETag from the version, ``position`` in commands."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.responses import JSONResponse

from lifecycle.errors import NotFound


def resource(body: dict[str, Any], position: int | None = None, status: int = 200) -> JSONResponse:
    content = dict(body)
    if position is not None:
        content["position"] = position
    headers = {"ETag": f'"{body["version"]}"'} if "version" in body else None
    return JSONResponse(content, status_code=status, headers=headers)


def created(body: dict[str, Any], position: int) -> JSONResponse:
    return JSONResponse({**body, "position": position}, status_code=201)


def parse_id(value: str, what: str) -> UUID:
    """Unknown ids, malformed ones included, are 404 ``not-found``."""
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value} not found") from None
