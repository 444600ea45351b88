"""The pages of the problem types: every problem answer's ``type`` leads to one (no
token needed), saying what it means and what to do."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.problem_types import CATALOGUE, index, page
from lifecycle.errors import NotFound

router = APIRouter(tags=["problem types"], include_in_schema=False)


@router.get("/problems", response_class=HTMLResponse)
async def problem_types() -> HTMLResponse:
    """Every problem type, by status."""
    return HTMLResponse(index())


@router.get("/problems/{slug}", response_class=HTMLResponse)
async def problem_type(slug: str) -> HTMLResponse:
    """What a problem type means and what to do about it."""
    found = CATALOGUE.get(slug)
    if found is None:
        raise NotFound(f"no problem type {slug!r}; see /problems")
    return HTMLResponse(page(found))
