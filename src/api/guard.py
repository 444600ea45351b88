"""The request guard, in front of every route: bearer token and scope, body size,
content type, JSON shape, and raw card data (refused before anything is stored or logged)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import TokenRegistry, is_public, scope_for
from api.logs import current_context
from api.problems import problem
from lifecycle.cards import MIN_DIGITS, SECURITY_CODE_KEYS, holds_card_number, raw_card_data

MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
MAX_INTEGER_DIGITS = 4300
"""Python's own default limit on converting digits to an integer: no number the API
takes comes near it, and converting longer ones costs time quadratic in their length."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

BODY_KEY = "lifecycle.body"
JSON_KEY = "lifecycle.json"
TOKEN_KEY = "lifecycle.token"
CLIENT_GONE_KEY = "lifecycle.client_gone"
"""Set when the client left before its body was complete (logged as status 499)."""


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The client disconnected before its body was complete."""


class NumberTooLong(ValueError):
    pass


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise NumberTooLong(text[:20])
    return int(text)


def _is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


_STRUCTURE = re.compile(r'[\[\]{}"\\]')
"""The characters that open or close an array, an object or a string, and the escape."""


def nesting_exceeds(text: str, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than ``limit`` (the outermost
    value is level 1), decided from its brackets outside strings, before and without
    parsing it: a refused body never becomes Python objects."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    in_string = False
    escaped_at = -1
    for match in _STRUCTURE.finditer(text):
        at = match.start()
        if at == escaped_at:
            continue
        char = text[at]
        if in_string:
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def card_data_outside_body(scope: Scope) -> str | None:
    """Where raw card data sits in the path, the query string (a parameter's name or
    value) or a header (the ``Authorization`` header aside), or ``None``: these are
    recorded too (an idempotency key and a correlation id are stored with every
    event, paths reach the logs), so the rule for bodies holds for them as well,
    with the same detector. Names the place, never the value."""
    if holds_card_number(scope["path"]):
        return "the path"
    query = scope.get("query_string", b"")
    if query:
        for name, value in parse_qsl(_text(query), keep_blank_values=True):
            if name.lower() in SECURITY_CODE_KEYS or any(map(holds_card_number, (name, value))):
                return "the query string"
    for name, raw in scope.get("headers", ()):
        if name == b"authorization":
            continue
        if _holds_card_number(name):
            return "a header's name"
        if _holds_card_number(raw):
            return f"the {name.decode('latin-1')} header"
    return None


def _holds_card_number(raw: bytes) -> bool:
    return len(raw) >= MIN_DIGITS and holds_card_number(_text(raw))


ID_HEADERS = frozenset({"the x-correlation-id header", "the idempotency-key header"})
"""The places of the ids that every log line of a request carries."""


def forget_caller_ids() -> None:
    """Drop the ids taken from the caller's headers from this request's log lines: one
    of them holds a card number, and the access line must not show it (the redaction
    of log lines is the second line of defence, not the first)."""
    context = current_context()
    if context is not None:
        context.correlation_id = context.command_id = None


def _text(raw: bytes) -> str:
    """Bytes from the wire as the text a client meant: UTF-8 (full-width digits and
    no-break spaces are seen for what they are), else Latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def repeated_query_parameter(scope: Scope) -> str | None:
    """The name of a query parameter given more than once, or ``None``."""
    query = scope.get("query_string", b"")
    if not query:
        return None
    seen: set[str] = set()
    for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in seen:
            return name
        seen.add(name)
    return None


def card_data_refused(place: str) -> JSONResponse:
    """422 ``raw-card-data-refused``; ``place`` says where (``at body.card.number``,
    ``in the path``), never what."""
    return problem(
        "raw-card-data-refused",
        "send a payment token from the payment processor, never a card number or "
        f"security code (found {place})",
    )


def nul_location(document: Any) -> list[str | int] | None:
    """Where a NUL character sits in a parsed JSON document (a key or a string), or
    ``None``. PostgreSQL text cannot hold NUL, so such a value would be stored on one
    store and break the views of the other."""
    stack: list[tuple[list[str | int], Any]] = [(["body"], document)]
    while stack:
        location, value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            return location
        if isinstance(value, dict):
            for key, child in value.items():
                if "\x00" in key:
                    return location
                stack.append(([*location, key], child))
        elif isinstance(value, list):
            stack.extend(([*location, index], child) for index, child in enumerate(value))
    return None


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, at most ``limit`` bytes (``BodyTooLarge``); ``ClientGone`` when
    the client leaves (or is cut off by the body timeout) before it is complete: a
    truncated body is never taken for a whole one."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class RequestGuard:
    def __init__(self, app: ASGIApp, tokens: TokenRegistry) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if not is_public(path):
            token = self.tokens.authenticate(_header(scope, b"authorization"))
            if token is None:
                await problem(
                    "unauthorized",
                    "send Authorization: Bearer <secret> with a known token",
                    headers={"WWW-Authenticate": "Bearer"},
                )(scope, receive, send)
                return
            # Known from here on, also when refused for its scope: the access line names it.
            scope.setdefault("state", {})[TOKEN_KEY] = token
            needed = scope_for(method, path)
            if needed not in token.scopes:
                refused = problem("forbidden", f"this route needs the {needed!r} scope")
                await refused(scope, receive, send)
                return
        where = card_data_outside_body(scope)
        if where is not None:
            if where in ID_HEADERS:
                forget_caller_ids()
            await card_data_refused(f"in {where}")(scope, receive, send)
            return
        repeated = repeated_query_parameter(scope)
        if repeated is not None:
            # Every query parameter of the contract takes one value; the framework
            # would quietly keep one of several, so which one was meant is asked back.
            await problem(
                "invalid-request",
                f"the query parameter {repeated!r} is given more than once",
                errors=[{"loc": ["query", repeated], "msg": "given more than once"}],
            )(scope, receive, send)
            return
        if method not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        await self._guard_body(scope, receive, send)

    async def _guard_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _header(scope, b"content-length")
        try:
            if declared is not None and int(declared) > MAX_BODY_BYTES:
                raise BodyTooLarge()
            body = await read_body(receive, MAX_BODY_BYTES)
        except ClientGone:
            # Nobody to answer; nothing of the request reaches a handler.
            scope.setdefault("state", {})[CLIENT_GONE_KEY] = True
            return
        except (BodyTooLarge, ValueError):
            too_large = problem("payload-too-large", f"bodies are at most {MAX_BODY_BYTES} bytes")
            await too_large(scope, receive, send)
            return
        document: Any = None
        if body.strip():
            if not _is_json_type(_header(scope, b"content-type") or ""):
                not_json = problem("unsupported-media-type", "send application/json")
                await not_json(scope, receive, send)
                return
            try:
                text = body.decode("utf-8-sig")
            except UnicodeDecodeError:
                await problem("unsupported-media-type", "send JSON in UTF-8")(scope, receive, send)
                return
            if nesting_exceeds(text, MAX_JSON_DEPTH):
                await problem(
                    "invalid-request",
                    f"JSON nested deeper than {MAX_JSON_DEPTH} levels is refused",
                    errors=[{"loc": ["body"], "msg": "nested too deeply"}],
                )(scope, receive, send)
                return
            try:
                document = json.loads(text, parse_int=_integer)
            except NumberTooLong:
                await problem(
                    "invalid-request",
                    f"numbers of more than {MAX_INTEGER_DIGITS} digits are refused",
                    errors=[{"loc": ["body"], "msg": "number too long"}],
                )(scope, receive, send)
                return
            except (ValueError, RecursionError):
                not_json = problem("unsupported-media-type", "the body is not JSON")
                await not_json(scope, receive, send)
                return
            where = raw_card_data(document)
            if where is not None:
                await card_data_refused(f"at {where}")(scope, receive, send)
                return
            nul_at = nul_location(document)
            if nul_at is not None:
                await problem(
                    "invalid-request",
                    "text may not contain NUL characters",
                    errors=[{"loc": nul_at, "msg": "NUL characters are not allowed"}],
                )(scope, receive, send)
                return
        else:
            body = b""
        scope[BODY_KEY] = body
        scope[JSON_KEY] = document
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
