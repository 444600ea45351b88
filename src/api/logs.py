"""Structured logs: one JSON object a line on stderr, carrying the ids of the request or
the piece of time-driven work that logged it, with secrets and card data redacted.

Every handler that ``log_handler`` makes has two filters, in this order:

- ``ContextFilter`` adds ``request_id``, ``correlation_id`` and ``command_id`` from
  the ``LogContext`` that the HTTP middleware (per request) or the time-driven
  work (per due item) has bound;
- ``RedactingFilter`` replaces bearer tokens, ``Authorization`` values, every
  secret in ``SECRETS``, signed link tokens, the values of security-code keys and
  every card number that ``lifecycle.cards.card_number_spans`` finds (the request
  guard's own detector) with ``[redacted]`` — in the message, the extra fields and
  any traceback. The service never logs such things on purpose; this is the
  second line of defence.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import logging.handlers
import queue
import re
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import IO, Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from lifecycle.cards import SECURITY_CODE_KEYS, card_number_spans

REDACTED = "[redacted]"


# --- the ids of what is being handled ------------------------------------------------


@dataclass
class LogContext:
    """The ids a log line carries. Mutable on purpose: the request's caller is known
    only once its dependency has run (in a worker thread that sees a copy of the
    context variables, but this same object)."""

    request_id: str | None = None
    correlation_id: str | None = None
    command_id: str | None = None


CONTEXT_FIELDS = tuple(f.name for f in fields(LogContext))

_context: contextvars.ContextVar[LogContext | None] = contextvars.ContextVar(
    "lifecycle_log_context", default=None
)


def current_context() -> LogContext | None:
    return _context.get()


@contextmanager
def bound(context: LogContext) -> Iterator[LogContext]:
    """Log lines written inside the block (and in threads it starts through
    ``run_in_threadpool``) carry ``context``'s ids."""
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        if context is not None:
            for name in CONTEXT_FIELDS:
                value = getattr(context, name)
                if value is not None and not hasattr(record, name):
                    setattr(record, name, value)
        return True


# --- redaction ---------------------------------------------------------------------


class Secrets:
    """The secrets this process knows (API token secrets, the link-signing key):
    no log line shows them. Process-wide, like logging itself."""

    MIN_LENGTH = 4
    """Shorter values are not replaced: they would garble every line."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()

    def add(self, *values: str) -> None:
        with self._lock:
            known = set(self._values) | {v for v in values if len(v) >= self.MIN_LENGTH}
            self._values = tuple(sorted(known, key=len, reverse=True))  # longest first

    def values(self) -> tuple[str, ...]:
        return self._values


SECRETS = Secrets()

_QUOTE = r"(?:\\?['\"])?"
"""An optional quote, perhaps escaped (a JSON document inside a string)."""
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[^\s'\"\\,;]+")
_AUTHORIZATION = re.compile(
    r"(?i)(\bauthorization\b" + _QUOTE + r"\s*[:=,]\s*(?-i:b)?" + _QUOTE + r")[^'\"\\\r\n,;}\]]+"
)
_SECURITY_CODE = re.compile(
    r"(?i)((?<![a-z0-9])(?:" + "|".join(sorted(SECURITY_CODE_KEYS, key=len, reverse=True)) + r")"
    r"(?![a-z0-9])" + _QUOTE + r"\s*[:=]\s*(?-i:b)?" + _QUOTE + r")[^'\"\\\s,;&}\]]*"
)
_LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
"""A signed link: base64url claims, a dot, and the base64url HMAC-SHA256 (43 characters)."""


_SUSPECT = re.compile(
    r"(?i)bearer|authorization|"
    + "|".join(sorted(SECURITY_CODE_KEYS, key=len, reverse=True))
    + r"|[A-Za-z0-9_-]{16,}\."
)
"""What each pattern above needs to find anything: text without it (most log fields:
a route, a status, an id) is left as it is after one search instead of four. Card
numbers have a screen of their own (``card_number_spans``)."""


def redact_text(text: str, secrets: Iterable[str] | None = None) -> str:
    for secret in SECRETS.values() if secrets is None else secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if _SUSPECT.search(text) is not None:
        text = _redact_keyed(text)
    return _redact_cards(text, screen=True)


def _redact_patterns(text: str) -> str:
    """The full redaction, without the shortcuts of ``redact_text``."""
    return _redact_cards(_redact_keyed(text), screen=False)


def _redact_keyed(text: str) -> str:
    text = _AUTHORIZATION.sub(rf"\1{REDACTED}", text)
    text = _BEARER.sub(rf"\1\2{REDACTED}", text)
    text = _SECURITY_CODE.sub(rf"\1{REDACTED}", text)
    return _LINK_TOKEN.sub(REDACTED, text)


def _redact_cards(text: str, *, screen: bool) -> str:
    """``text`` with exactly what the card-number detector finds replaced."""
    spans = card_number_spans(text, screen=screen)
    if not spans:
        return text
    pieces = []
    kept = 0
    for start, end in spans:
        pieces += [text[kept:start], REDACTED]
        kept = end
    pieces.append(text[kept:])
    return "".join(pieces)


def redact_value(value: Any, key: Any = None) -> Any:
    """``value`` with everything secret replaced; containers are copied, not changed."""
    if isinstance(key, str) and key.lower() in SECURITY_CODE_KEYS:
        return REDACTED
    if isinstance(key, str) and key.lower() == "authorization":
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        text = str(value)
        return REDACTED if redact_text(text) != text else value
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(v) for v in value]
    if isinstance(value, (datetime,)):
        return value
    return redact_text(str(value))


_STANDARD_ATTRIBUTES = frozenset(RESERVED_ATTRS) | {"message", "asctime", "taskName"}


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            record.msg = redact_value(record.msg)
        else:
            try:
                message = record.getMessage()
            except (TypeError, ValueError, KeyError):  # arguments that do not fit the format
                message = f"{record.msg} {record.args!r}"
            record.msg, record.args = redact_text(message), ()
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                setattr(record, name, redact_value(value, name))
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None  # formatters then show the redacted exc_text
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


# --- formats and setup --------------------------------------------------------------


def _instant(record: logging.LogRecord) -> str:
    at = datetime.fromtimestamp(record.created, tz=timezone.utc)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonLogFormatter(JsonFormatter):
    """``timestamp, level, logger, message``, then the ids and any extra fields."""

    def __init__(self) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "timestamp", "levelname": "level", "name": "logger"},
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _instant(record)


class TextLogFormatter(logging.Formatter):
    """For a person at a terminal: the instant, level, logger, correlation id, message."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s",
            defaults={"correlation_id": "-"},
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _instant(record)


def log_handler(stream: IO[str] | None = None, log_format: str = "json") -> logging.Handler:
    """A handler writing one line per record to ``stream`` (stderr by default), with
    the request's ids added and secrets redacted."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonLogFormatter() if log_format == "json" else TextLogFormatter())
    return handler


class _LineQueueHandler(logging.handlers.QueueHandler):
    """Makes the finished line (ids added, secrets redacted, formatted) in the thread
    that logs, where the request's ids are known, and leaves the writing to the
    listener's thread: a write lets go of the interpreter lock, and a request's thread
    would then queue for it again behind every other thread."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return logging.makeLogRecord({"msg": self.format(record), "levelno": record.levelno,
                                      "levelname": record.levelname, "name": record.name})


def configure_logging(log_format: str = "json", level: str = "INFO") -> logging.Handler | None:
    """Send every logger's records (uvicorn's included, which propagate to the root)
    through one handler on stderr, written by a thread of its own (flushed at exit).
    Like ``logging.basicConfig``, does nothing when the root logger already has a
    handler (logging was set up by the embedding program, such as a test runner)."""
    root = logging.getLogger()
    if root.handlers:
        return None
    lines = log_handler(None, log_format)
    handler = _LineQueueHandler(queue.SimpleQueue())
    for kept in lines.filters:
        handler.addFilter(kept)
    handler.setFormatter(lines.formatter)
    writer = logging.StreamHandler(sys.stderr)
    writer.setFormatter(logging.Formatter("%(message)s"))
    listener = logging.handlers.QueueListener(handler.queue, writer)
    listener.start()
    atexit.register(listener.stop)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    return handler
