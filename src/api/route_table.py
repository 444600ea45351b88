"""The app's routes as one flat table: template, name, methods, and the pattern that
matches a request's path."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, routing
from starlette.routing import compile_path


@dataclass(frozen=True)
class Route:
    """A route's template (``/v1/accounts/{account_id}``), name and methods."""

    path: str
    name: str
    methods: frozenset[str]
    pattern: re.Pattern[str]


def routes_of(app: FastAPI) -> list[Route]:
    """The app's routes in the order the router tries them, routers' routes included."""
    # FastAPI 0.16x keeps included routers as nested entries, flattened by this helper.
    flatten = getattr(routing, "iter_route_contexts", None)
    found: Iterable[Any] = flatten(app.routes) if flatten is not None else app.routes
    table = []
    for route in found:
        path = getattr(route, "path", None)
        if isinstance(path, str) and path:
            pattern, _, _ = compile_path(path)
            methods = frozenset(getattr(route, "methods", None) or ())
            table.append(Route(path, getattr(route, "name", None) or path, methods, pattern))
    return table


def route_of(routes: list[Route], method: str, path: str) -> Route | None:
    """The route that serves the request, or one that serves its path with another
    method (answered 405), as the router chooses."""
    other = None
    for route in routes:
        if route.pattern.match(path):
            if not route.methods or method in route.methods:
                return route
            other = other or route
    return other


def methods_at(routes: list[Route], path: str) -> list[str]:
    """Every method some route serves at ``path``, with ``HEAD`` wherever ``GET`` is."""
    methods: set[str] = set()
    for route in routes:
        if route.pattern.match(path):
            methods |= route.methods
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)
