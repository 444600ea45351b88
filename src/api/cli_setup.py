"""What a ``lifecycle`` command checks before it builds anything.

- The settings, whole: every ``LIFECYCLE_*`` variable it cannot use is named on a line
  of its own (never with its value: several are secrets), and the command exits 2.
- For a command that works on an existing event log (``projections``, ``audit``,
  ``erase``): that the database holds one. Such a command never creates a database
  (building the service would: a SQLite file, the log's tables); it refuses, says
  where it looked, and otherwise says on stderr which database it read.
"""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from api.settings import Settings

if TYPE_CHECKING:
    from api.bootstrap import Container

DATABASE_VARIABLE = "LIFECYCLE_DATABASE_URL"


class Refused(Exception):
    """The command cannot run as configured; each line says why (exit status 2)."""

    def __init__(self, *lines: str) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines

    def report(self, prog: str) -> int:
        for line in self.lines:
            print(f"{prog}: {line}", file=sys.stderr)
        return 2


def settings() -> Settings:
    """The settings from the environment, every one checked (``Refused`` otherwise)."""
    try:
        found = Settings()
    except ValidationError as error:
        raise Refused(*(_setting_error(detail) for detail in error.errors())) from None
    from infrastructure.store import persistence_env

    problems = []
    for check, variable in (
        (found.tokens, "LIFECYCLE_API_TOKENS"),
        (lambda: persistence_env(found.database_url), DATABASE_VARIABLE),
    ):
        try:
            check()
        except ValueError as error:
            problems.append(_naming(variable, str(error)))
    if problems:
        raise Refused(*problems)
    return found


def _setting_error(detail: Any) -> str:
    variable = "LIFECYCLE_" + "_".join(str(part) for part in detail["loc"]).upper()
    return _naming(variable, str(detail["msg"]).removeprefix("Value error, "))


def _naming(variable: str, message: str) -> str:
    return message if variable in message else f"{variable}: {message}"


def shown(database_url: str) -> str:
    """The URL without its password (and without the service's own query options)."""
    parts = urlsplit(database_url)
    if parts.scheme == "sqlite":
        return database_url
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def existing_log(found: Settings) -> str:
    """Where the event log is, as shown to the reader; ``Refused`` when the database
    named by the settings does not exist or holds no log. Creates nothing."""
    from infrastructure.store import LifecycleStore, persistence_env

    env = persistence_env(found.database_url)
    setting = f"({DATABASE_VARIABLE}={shown(found.database_url)})"
    if env["PERSISTENCE_MODULE"].endswith("sqlite"):
        path = Path(env["SQLITE_DBNAME"]).resolve()
        if not path.is_file():
            raise Refused(f"no database at {path} {setting}")
        # mode=rw opens an existing file only: this look never creates one.
        try:
            with closing(sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True)) as connection:
                held = connection.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                    ("stored_events",),
                ).fetchone()
        except sqlite3.Error as error:
            raise Refused(f"cannot read {path}: {error} {setting}") from None
        if held is None:
            raise Refused(f"{path} holds no event log {setting}")
        return str(path)
    import psycopg

    where = shown(found.database_url)
    # eventsourcing names the PostgreSQL table after the application.
    table = f"{LifecycleStore.name.lower()}_events"
    if env.get("POSTGRES_SCHEMA"):
        table = f"{env['POSTGRES_SCHEMA']}.{table}"
    try:
        with psycopg.connect(
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            dbname=env["POSTGRES_DBNAME"],
            user=env["POSTGRES_USER"] or None,
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=int(float(env["POSTGRES_CONNECT_TIMEOUT"])),
        ) as connection:
            row = connection.execute("SELECT to_regclass(%s)", (table,)).fetchone()
    except psycopg.Error as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise Refused(f"cannot reach {where}: {reason}") from None
    if row is None or row[0] is None:
        raise Refused(f"{where} holds no event log {setting}")
    return where


def open_existing(found: Settings) -> Container:
    """The service built on the existing log the settings name (see ``existing_log``),
    its database named on stderr first."""
    from api.bootstrap import build

    print(f"database: {existing_log(found)}", file=sys.stderr)
    return build(found)
