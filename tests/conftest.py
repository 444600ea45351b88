"""Fixtures shared by every test folder: a database on each store, and the service
built on it exactly as the HTTP app builds it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from api.bootstrap import Container, build
from api.settings import Settings
from commands.context import Caller

POSTGRES_URL_VARIABLE = "LIFECYCLE_TEST_POSTGRES_URL"

CLOCK_START = datetime(2027, 1, 31, 9, 0, tzinfo=timezone.utc)
"""Where the manual clock of every test container starts."""

API_TOKENS = (
    "test-views:views-secret-0123456789:views;"
    "test-commands:commands-secret-0123456789:views+commands;"
    "test-audit:audit-secret-0123456789:audit;"
    "test-ops:ops-secret-0123456789:ops+views+commands+audit"
)
"""The tokens every test container accepts (``name:secret:scopes``)."""

LINK_SECRET = "test-link-secret-0123456789abcdef"


def _sqlite_url(directory: Path) -> str:
    return f"sqlite:///{(directory / 'lifecycle.db').resolve()}"


def _with_database(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _postgres_admin_url() -> str:
    url = os.environ.get(POSTGRES_URL_VARIABLE, "")
    if not url:
        pytest.fail(
            f"{POSTGRES_URL_VARIABLE} is not set: the PostgreSQL case needs a server. "
            "Run the tests with ./scripts/test, which starts one, or set "
            f"{POSTGRES_URL_VARIABLE}=postgresql://user@host:port/postgres",
            pytrace=False,
        )
    return url


class PostgresDatabases:
    """Fresh databases on the test server, each for one test and dropped after it.

    ``CREATE DATABASE`` is the slow part of a PostgreSQL test, so the next test's
    database is created in the background while the current test runs.
    """

    def __init__(self) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-databases")
        self._next: Future[str] | None = None
        self._admin_url = ""

    def take(self, admin_url: str) -> str:
        """A new database's name: created for the caller alone, empty."""
        if admin_url != self._admin_url:
            self._discard_next()
            self._admin_url = admin_url
        upcoming = self._next or self._worker.submit(self._create, admin_url)
        self._next = None
        name = upcoming.result()
        self._next = self._worker.submit(self._create, admin_url)
        return name

    def drop(self, name: str) -> None:
        with psycopg.connect(self._admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def close(self) -> None:
        try:
            self._discard_next()
        finally:
            self._worker.shutdown(wait=True)

    def _discard_next(self) -> None:
        upcoming, self._next = self._next, None
        if upcoming is not None:
            self.drop(upcoming.result())

    @staticmethod
    def _create(admin_url: str) -> str:
        name = f"lifecycle_test_{uuid.uuid4().hex}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    databases.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each store: a SQLite file, or a PostgreSQL database
    created for this test alone and dropped after it (``DROP ... WITH (FORCE)``)."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path)
        return
    admin_url = _postgres_admin_url()
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    name = databases.take(admin_url)
    try:
        yield _with_database(admin_url, name)
    finally:
        databases.drop(name)


@pytest.fixture
def postgres_url(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, for tests of what only PostgreSQL does."""
    admin_url = _postgres_admin_url()
    name = postgres_databases.take(admin_url)
    try:
        yield _with_database(admin_url, name)
    finally:
        postgres_databases.drop(name)


def settings_for(database_url: str, **overrides: object) -> Settings:
    """Settings of a test container: the manual clock at ``CLOCK_START``."""
    values: dict[str, object] = {
        "database_url": database_url,
        "clock": "manual",
        "clock_start": CLOCK_START,
        "api_tokens": API_TOKENS,
        "link_secret": LINK_SECRET,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_container(database_url: str) -> Iterator[Callable[..., Container]]:
    """Builds containers on the test's database (several share it, as processes
    would); each is closed after the test. Keyword arguments override settings."""
    built: list[Container] = []

    def make(**overrides: object) -> Container:
        container = build(settings_for(database_url, **overrides))
        built.append(container)
        return container

    yield make
    for container in reversed(built):
        container.close()


@pytest.fixture
def make_fresh_container(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[Callable[..., Container]]:
    """Each call builds the service on a new, empty database of the test's store (for a
    property whose examples must not share a log); all are closed and dropped after."""
    built: list[tuple[Container, str | None]] = []
    databases: PostgresDatabases | None = (
        request.getfixturevalue("postgres_databases")
        if database_url.startswith("postgresql")
        else None
    )

    def make(**overrides: object) -> Container:
        if databases is None:
            url, name = _sqlite_url(tmp_path / f"fresh{len(built)}"), None
            (tmp_path / f"fresh{len(built)}").mkdir()
        else:
            admin_url = _postgres_admin_url()
            name = databases.take(admin_url)
            url = _with_database(admin_url, name)
        container = build(settings_for(url, **overrides))
        built.append((container, name))
        return container

    yield make
    for container, name in reversed(built):
        container.close()
        if databases is not None and name is not None:
            databases.drop(name)


@pytest.fixture
def container(make_container: Callable[..., Container]) -> Container:
    """The service on the test's database under the manual clock, not started:
    no background threads; projections move when asked to catch up."""
    return make_container()


def make_caller(service: str = "tests", actor_id: UUID | None = None) -> Caller:
    """A command's caller: a calling service, optionally acting for a hub user."""
    return Caller.of(service, actor_id)


@pytest.fixture
def caller() -> Callable[..., Caller]:
    """``caller()`` makes a new ``Caller`` (a new command id) on each call."""
    return make_caller
