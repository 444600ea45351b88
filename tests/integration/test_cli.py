"""The ``lifecycle`` command as an operator meets it: a setting it cannot use is named
on one line (exit 2, no traceback); a command on the event log refuses to run where
there is none, rather than creating an empty database and reporting zeros, and says
which database it read; every subcommand and option explains itself in ``--help``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from api.bootstrap import Container
from api.cli import build_parser
from api.projections_cli import PROJECTIONS as REBUILDABLE

PROJECTIONS = ("due_work", "notifications", "audit_chain", "profiles", "contracts")


def lifecycle(
    *argv: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``lifecycle ARGV...`` run in ``cwd`` with only the given LIFECYCLE_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *argv],
        cwd=cwd,
        env={**clean, "LIFECYCLE_LOG_LEVEL": "WARNING", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_refused(run: subprocess.CompletedProcess[str], lines: int = 1) -> list[str]:
    """Exit 2 with ``lines`` lines on stderr and no traceback; the lines."""
    said = run.stderr.strip().splitlines()
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    assert len(said) == lines, said
    return said


# --- settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "says"),
    [
        ("ops-token-secret-0123456789", "name:secret:scope+scope"),
        ("ops:ops-token-secret-0123456789:ops+root", "'root'"),
    ],
    ids=["malformed", "unknown-scope"],
)
def test_an_api_tokens_setting_it_cannot_use_is_one_line_that_names_it_and_not_its_secret(
    tmp_path: Path, tokens: str, says: str
) -> None:
    run = lifecycle("serve", "--port", "0", cwd=tmp_path, env={"LIFECYCLE_API_TOKENS": tokens})

    [line] = assert_refused(run)
    assert "LIFECYCLE_API_TOKENS" in line and says in line, line
    assert "ops-token-secret-0123456789" not in run.stderr
    assert not (tmp_path / "lifecycle.db").exists()


def test_each_invalid_setting_is_one_line_that_names_its_variable(tmp_path: Path) -> None:
    run = lifecycle(
        "projections",
        "status",
        cwd=tmp_path,
        env={
            "LIFECYCLE_WORKERS": "0",
            "LIFECYCLE_CLOCK_START": "yesterday",
            "LIFECYCLE_LOG_LEVEL": "LOUD",
        },
    )

    said = assert_refused(run, lines=3)
    for variable, line in zip(
        ("LIFECYCLE_CLOCK_START", "LIFECYCLE_LOG_LEVEL", "LIFECYCLE_WORKERS"), sorted(said)
    ):
        assert variable in line, said
    assert "yesterday" not in run.stderr and "LOUD" not in run.stderr.replace("LIFECYCLE_", "")


def test_a_database_url_of_another_kind_is_one_line_that_names_the_variable(
    tmp_path: Path,
) -> None:
    run = lifecycle(
        "projections",
        "status",
        cwd=tmp_path,
        env={"LIFECYCLE_DATABASE_URL": "mysql://lifecycle@127.0.0.1/lifecycle"},
    )

    [line] = assert_refused(run)
    assert "LIFECYCLE_DATABASE_URL" in line and "sqlite or postgresql" in line, line


# --- the database -----------------------------------------------------------------------

SOME_ID = "0b7c8a52-5d0e-4c1e-9a57-3f1d2e6b9c40"

ON_THE_LOG = [
    ("projections", "status"),
    ("projections", "status", "--json"),
    ("projections", "rebuild", "contracts"),
    ("audit", "history", "subscriptions", SOME_ID),
    ("audit", "as-of", "contracts", SOME_ID, "2027-01-31T00:00:00Z"),
    ("audit", "export", "-"),
    ("audit", "verify"),
    ("erase", SOME_ID),
]


@pytest.mark.parametrize("argv", ON_THE_LOG, ids=" ".join)
def test_a_command_on_the_log_run_where_there_is_no_database_refuses_and_creates_none(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    run = lifecycle(*argv, cwd=tmp_path)  # the default: sqlite:///./lifecycle.db

    [line] = assert_refused(run)
    assert f"no database at {tmp_path.resolve() / 'lifecycle.db'}" in line, line
    assert "(LIFECYCLE_DATABASE_URL=sqlite:///./lifecycle.db)" in line, line
    assert run.stdout == ""
    assert list(tmp_path.iterdir()) == []


def sqlite_path(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite:///"))


def _event_tables(database_url: str) -> list[str]:
    parts = urlsplit(database_url)
    with psycopg.connect(
        host=parts.hostname, port=parts.port, user=parts.username, dbname=parts.path[1:]
    ) as connection:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return [name for (name,) in rows]


def test_a_command_on_the_log_refuses_a_database_that_holds_no_log_and_leaves_it_as_it_was(
    database_url: str, tmp_path: Path
) -> None:
    """An empty PostgreSQL database, or a SQLite file that is not the service's."""
    if database_url.startswith("sqlite"):
        sqlite_path(database_url).write_bytes(b"")
    run = lifecycle(
        "projections", "status", cwd=tmp_path, env={"LIFECYCLE_DATABASE_URL": database_url}
    )

    [line] = assert_refused(run)
    assert "holds no event log" in line and "LIFECYCLE_DATABASE_URL=" in line, line
    if database_url.startswith("sqlite"):
        assert sqlite_path(database_url).read_bytes() == b""
    else:
        assert _event_tables(database_url) == []


def test_a_command_on_the_log_says_which_database_it_read(
    container: Container, database_url: str, tmp_path: Path
) -> None:
    container.runners["profiles"].catch_up()  # the log's tables exist: the service ran
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    run = lifecycle(
        "projections", "status", cwd=elsewhere, env={"LIFECYCLE_DATABASE_URL": database_url}
    )

    assert run.returncode == 0, run.stderr
    assert {line.split()[0] for line in run.stdout.splitlines()[1:]} >= set(PROJECTIONS)
    parts = urlsplit(database_url)
    if parts.scheme == "sqlite":
        assert f"database: {sqlite_path(database_url)}" in run.stderr, run.stderr
    else:
        where = f"postgresql://{parts.username}@{parts.hostname}:{parts.port}{parts.path}"
        assert f"database: {where}" in run.stderr, run.stderr
    assert list(elsewhere.iterdir()) == []


def test_a_database_url_with_a_password_is_shown_without_it(tmp_path: Path) -> None:
    url = "postgresql://lifecycle:hunter2-secret@127.0.0.1:1/lifecycle?connect_timeout=1"

    run = lifecycle("projections", "status", cwd=tmp_path, env={"LIFECYCLE_DATABASE_URL": url})

    [line] = assert_refused(run)
    assert "postgresql://lifecycle@127.0.0.1:1/lifecycle" in line, line
    assert "hunter2-secret" not in run.stderr


# --- help -------------------------------------------------------------------------------


def test_rebuild_names_the_projections_in_its_help_and_when_given_another_name(
    container: Container, database_url: str, tmp_path: Path
) -> None:
    container.runners["profiles"].catch_up()
    env = {"LIFECYCLE_DATABASE_URL": database_url}

    shown = lifecycle("projections", "rebuild", "--help", cwd=tmp_path, env=env)
    refused = lifecycle("projections", "rebuild", "profile", cwd=tmp_path, env=env)

    assert shown.returncode == 0
    assert all(name in shown.stdout for name in PROJECTIONS), shown.stdout
    said = assert_refused(refused)[-1]
    assert "'profile'" in said and all(name in said for name in PROJECTIONS), said


def test_the_cli_knows_every_projection_the_service_builds(container: Container) -> None:
    assert sorted(REBUILDABLE) == sorted(container.runners) == sorted(PROJECTIONS)


def _commands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    """Every (sub)command's parser, with its help text as its parent lists it."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((helps.get(name) or "", sub))
                found.extend(_commands(sub))
    return found


def test_every_subcommand_and_option_has_help_text(tmp_path: Path) -> None:
    commands = _commands(build_parser())

    assert {sub.prog for _, sub in commands} >= {
        "lifecycle serve",
        "lifecycle erase",
        "lifecycle projections status",
        "lifecycle projections rebuild",
        "lifecycle audit history",
        "lifecycle audit as-of",
        "lifecycle audit export",
        "lifecycle audit verify",
    }
    for text, sub in commands:
        assert text.strip(), f"{sub.prog} has no help text"
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert (action.help or "").strip(), f"{sub.prog} {action.dest} has no help text"
    serve = lifecycle("serve", "--help", cwd=tmp_path)
    assert serve.returncode == 0 and "--host HOST" in serve.stdout
    assert "address to listen on" in serve.stdout, serve.stdout
