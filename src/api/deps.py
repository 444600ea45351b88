"""Request-scoped dependencies: the container, the caller (R60), If-Match, read waits."""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.bootstrap import Container
from api.guard import TOKEN_KEY
from api.logs import current_context
from commands.context import Caller
from commands.services import Services
from api.problems import ProjectionBehind
from lifecycle.errors import Rejected
from projections.runner import ProjectionRunner

bearer = HTTPBearer(auto_error=False, description="a token from LIFECYCLE_API_TOKENS")

ACTOR = re.compile(r"^user:([0-9a-fA-F-]{36})$")


# The dependencies are ``async def`` although they never wait: FastAPI runs a plain
# ``def`` dependency in its thread pool, one hand-over between threads per dependency
# per request, for work that takes microseconds.


async def container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


async def services(request: Request) -> Services:
    return request.app.state.container.services  # type: ignore[no-any-return]


ACTOR_PATTERN = (
    r"^\s*user:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\s*$"
)
IF_MATCH_PATTERN = r'^\s*(\*|(W/)?"?[0-9]{1,18}"?)\s*$'

ActorHeader = Annotated[
    str | None,
    Header(
        description="user:<account_id>: the hub user on whose behalf the service acts",
        pattern=ACTOR_PATTERN,
    ),
]
IDEMPOTENCY_KEY_DESCRIPTION = (
    "Makes a retry safe (at most 255 characters). The same key with the same body (as parsed"
    " JSON) gets the first answer back with `idempotent-replayed: true` and records nothing;"
    " every answer below 500 is kept, for at least 48 hours. A key is scoped to the token,"
    " the acting user (`X-Actor`), the method and the path. Without a key, or with an empty"
    " one, the command simply runs, every time: two identical requests are two commands."
    " The same key with another body: 422 `idempotency-key-reused`; while the first request"
    " runs: 409 `idempotency-key-in-use`; when the first answer was lost after the command was"
    " recorded: the recovered answer (`position`, the created ids, `recovered: true`)."
    " Recorded as the events' `command_id`."
)
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(description=IDEMPOTENCY_KEY_DESCRIPTION, max_length=255),
]
CorrelationHeader = Annotated[
    str | None, Header(description="ties this command's events to others", max_length=255)
]


async def caller(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_actor: ActorHeader = None,
    idempotency_key: IdempotencyKeyHeader = None,
    x_correlation_id: CorrelationHeader = None,
) -> Caller:
    return caller_of(request, x_actor, idempotency_key, x_correlation_id)


LinkCommandIdHeader = Annotated[
    str | None,
    Header(
        description="recorded as the command's id; without a bearer token to scope it to, "
        "no answer is kept for it: a repeat runs again",
        max_length=255,
    ),
]


async def link_caller(
    request: Request,
    idempotency_key: LinkCommandIdHeader = None,
    x_correlation_id: CorrelationHeader = None,
) -> Caller:
    """The caller of a command authorised by an email's signed link rather than a
    bearer token (and acting for the account the link names)."""
    return caller_of(request, None, idempotency_key, x_correlation_id)


def caller_of(
    request: Request,
    x_actor: str | None,
    idempotency_key: str | None = None,
    x_correlation_id: str | None = None,
) -> Caller:
    """The caller from the request's token and headers (``Rejected`` for a malformed
    ``X-Actor``)."""
    token = request.scope.get("state", {}).get(TOKEN_KEY)
    service = token.name if token is not None else "anonymous"
    actor_id = None
    if x_actor is not None:
        match = ACTOR.match(x_actor.strip())
        try:
            actor_id = UUID(match.group(1)) if match is not None else None
        except ValueError:  # 36 hex digits and dashes, but not laid out as a UUID
            actor_id = None
        if actor_id is None:
            raise Rejected("X-Actor is user:<account_id>")
    # The key as the idempotency middleware reads it; its scope is (token, method, path).
    key = (idempotency_key or "").strip() or None
    scope = f"{request.method} {request.scope['path']}" if key else ""
    made = Caller.of(service, actor_id, key, x_correlation_id, scope)
    # From here on the request's log lines carry the ids its events record.
    context = current_context()
    if context is not None:
        context.correlation_id = made.correlation_id
        context.command_id = made.command_id
    return made


async def if_match(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='"<version>" from an ETag (W/ allowed), or * for the latest version',
            pattern=IF_MATCH_PATTERN,
        ),
    ] = None,
) -> int | None:
    """The version a command must find, or ``None``; ``*`` (any current version, as
    HTTP has it) asks for none in particular."""
    if if_match is None:
        return None
    text = if_match.strip()
    if text == "*":
        return None
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise Rejected('If-Match is the quoted version from an ETag, e.g. "3"')
    return int(text)


async def reader(request: Request) -> None:
    """Views need only the token; this records the bearer scheme in the OpenAPI document."""


MAX_POSITION = 2**63 - 1
"""The largest log position either store can hold (a signed 64-bit integer): a larger
number in a query is refused, not handed to the database."""

MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_POSITION,
        description="wait up to 5 s until the read reflects this log position",
    ),
]


def wait_for_projection(
    container: Container, runner: ProjectionRunner, min_position: int | None
) -> None:
    """Wait up to the read wait for ``runner``'s view to reach ``min_position``
    (``ProjectionBehind`` after it). A position past the log's head was never answered
    to anyone: refused at once, with the head, rather than after the wait."""
    if min_position is None or min_position <= 0:
        return
    if runner.position() >= min_position:
        return
    head = container.services.head()
    if min_position > head:
        raise ProjectionBehind(
            f"position {min_position} is past the log's head ({head}); no command has"
            " answered it yet",
            head=head,
        )
    if not runner.wait_for(min_position, container.settings.read_wait_seconds):
        raise ProjectionBehind(
            f"the {runner.name} view has not reached position {min_position} yet; retry shortly",
            head=head,
        )


ServicesDep = Annotated[Services, Depends(services)]
ContainerDep = Annotated[Container, Depends(container)]
CallerDep = Annotated[Caller, Depends(caller)]
LinkCallerDep = Annotated[Caller, Depends(link_caller)]
IfMatchDep = Annotated[int | None, Depends(if_match)]
ReaderDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
