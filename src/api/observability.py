"""What an operator sees of the HTTP service: one access log line per request, the
ids of each request bound to every line it logs, and Prometheus metrics at
``GET /metrics`` (``ops`` scope).

``ObservabilityMiddleware`` is the outermost layer of the app, so it also sees the
requests that the guard refuses. It never logs a raw path or query string — the
email-preferences link carries a signed token in its path — only the route
template, and only the token's name, never its secret.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.guard import BODY_METHODS, CLIENT_GONE_KEY, TOKEN_KEY
from api.logs import SECRETS, LogContext, bound
from api.metrics import Metrics
from api.problems import REQUEST_ID_KEY
from api.route_table import Route, route_of, routes_of
from infrastructure.ids import random_uuid

if TYPE_CHECKING:
    from api.bootstrap import Container

access_log = logging.getLogger("lifecycle.access")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route label of a path no route serves (the path itself is never shown)."""
_PROBLEM_BYTES = 16 * 1024
CLIENT_CLOSED_REQUEST = 499
"""The status logged for a request whose client left before its body was complete
(nothing was answered; the number is the one web servers use for it)."""


def _problem_slug(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    kind = document.get("type") if isinstance(document, dict) else None
    return kind.rsplit("/", 1)[-1] if isinstance(kind, str) and kind else None


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, api: FastAPI, metrics: Metrics) -> None:
        self.app = app
        self.api = api
        self.metrics = metrics
        self._routes: list[Route] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._routes is None:  # the app's routes are all in place by its first request
            self._routes = routes_of(self.api)
        route = route_of(self._routes, scope["method"], scope["path"])
        headers = Headers(scope=scope)
        key = (headers.get("idempotency-key") or "").strip() or None
        is_command = route is not None and scope["method"] in BODY_METHODS
        # As the caller dependency will make them; it corrects them when it runs.
        request_id = random_uuid().hex
        scope.setdefault("state", {})[REQUEST_ID_KEY] = request_id
        context = LogContext(
            request_id=request_id,
            correlation_id=headers.get("x-correlation-id") or key,
            command_id=key if is_command else None,
        )
        status = 500
        problem: list[bytes] | None = None

        async def observed(message: Message) -> None:
            nonlocal status, problem
            if message["type"] == "http.response.start":
                status = int(message["status"])
                content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
                problem = [] if content_type.startswith("application/problem+json") else None
            elif message["type"] == "http.response.body" and problem is not None:
                if sum(map(len, problem)) < _PROBLEM_BYTES:
                    problem.append(message.get("body", b""))
            await send(message)

        started = time.perf_counter()
        with bound(context):
            try:
                await self.app(scope, receive, observed)
            except BaseException:  # answered 500 by the server's error layer: noted, re-raised
                status, problem = 500, None
                raise
            finally:
                if scope.get("state", {}).get(CLIENT_GONE_KEY):
                    status = CLIENT_CLOSED_REQUEST
                self._record(scope, route, status, problem, time.perf_counter() - started)

    def _record(
        self,
        scope: Scope,
        route: Route | None,
        status: int,
        problem: list[bytes] | None,
        seconds: float,
    ) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        template = route.path if route is not None else UNMATCHED
        labels = (method, template, str(status))
        self.metrics.http_requests.labels(*labels).inc()
        self.metrics.http_duration.labels(*labels).observe(seconds)
        fields: dict[str, Any] = {
            "method": method,
            "route": template,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
        }
        token = scope.get("state", {}).get(TOKEN_KEY)
        fields["token"] = token.name if token is not None else None
        if route is not None and scope["method"] in BODY_METHODS:
            slug = _problem_slug(b"".join(problem)) if problem is not None else None
            outcome = "ok" if status < 400 else slug or f"http-{status}"
            command = route.name
            self.metrics.commands.labels(command, outcome).inc()
            fields["command"] = command
            fields["outcome"] = outcome
        elif status >= 400 and problem is not None:
            fields["outcome"] = _problem_slug(b"".join(problem)) or f"http-{status}"
        access_log.log(
            logging.ERROR if status >= 500 else logging.INFO,
            "%s %s %s",
            method,
            template,
            status,
            extra=fields,
        )


def install(app: FastAPI, container: Container) -> None:
    """Add ``GET /metrics``, the caller ids in the logs and the access-log and metrics
    middleware (call it after every other middleware: it must be the outermost)."""
    SECRETS.add(*(token.secret for token in container.settings.tokens()))
    metrics = container.metrics

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        """Prometheus text exposition of this process's metrics (``ops`` scope)."""
        body, content_type = metrics.exposition(request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})

    app.add_middleware(ObservabilityMiddleware, api=app, metrics=metrics)
