"""``lifecycle audit ...`` on each store, and the stand-alone docs/verify_export.py that
auditors run on an export file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api.cli import main
from commands import subscriptions
from commands.context import Caller
from commands.purchases import CompletedPurchase
from commands.services import Services

VERIFY_SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "verify_export.py"


@pytest.fixture
def bought(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    services: Services,
    buy: Callable[..., CompletedPurchase],
) -> CompletedPurchase:
    """A subscription with usage recorded, on the database the CLI is pointed at."""
    monkeypatch.setenv("LIFECYCLE_DATABASE_URL", database_url)
    done = buy()
    subscriptions.record_usage(services, Caller.of("tests"), done.subscription.id, 5, 0)
    return done


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    status = main(["audit", *argv])
    out, err = capsys.readouterr()
    return status, json.loads(out) if out.strip().startswith(("{", "[")) else out, err


def run_script(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFY_SCRIPT), *argv], capture_output=True, text=True, timeout=60
    )


def export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    file = tmp_path / "export.ndjson"
    status, _, err = run_cli(capsys, "export", str(file))
    assert status == 0, err
    return file


def test_cli_history_prints_every_event_of_the_subscription(
    bought: CompletedPurchase, capsys: pytest.CaptureFixture[str]
) -> None:
    status, events, _ = run_cli(capsys, "history", "subscriptions", str(bought.subscription.id))

    assert status == 0
    assert [(e["version"], e["type"]) for e in events] == [(1, "Started"), (2, "UsageRecorded")]


def test_cli_as_of_prints_the_subscription_at_that_instant(
    bought: CompletedPurchase, capsys: pytest.CaptureFixture[str]
) -> None:
    status, state, _ = run_cli(
        capsys, "as-of", "subscription", str(bought.subscription.id), "2030-01-01T00:00:00Z"
    )

    assert status == 0
    assert state["version"] == 2 and state["usage"]["responses"] == 5


def test_cli_as_of_before_the_subscription_existed_fails(
    bought: CompletedPurchase, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run_cli(
        capsys, "as-of", "subscriptions", str(bought.subscription.id), "2020-01-01T00:00:00Z"
    )

    assert status != 0
    assert "did not exist" in err


def test_cli_export_writes_one_line_per_event_with_a_progress_bar(
    bought: CompletedPurchase, services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "export.ndjson"
    status, _, err = run_cli(capsys, "export", str(file))

    lines = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
    assert status == 0
    assert [line["position"] for line in lines] == list(range(1, services.head() + 1))
    assert f"{len(lines)}/{len(lines)} events" in err


def test_cli_verify_of_the_database_is_ok(
    bought: CompletedPurchase, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    status, result, _ = run_cli(capsys, "verify")

    assert status == 0
    assert result["ok"] is True and result["events"] == services.head()


def test_cli_verify_of_an_export_file_is_ok_and_names_the_databases_head_hash(
    bought: CompletedPurchase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = export(tmp_path, capsys)
    _, in_database, _ = run_cli(capsys, "verify")

    status, result, _ = run_cli(capsys, "verify", str(file))

    assert status == 0
    assert result == {"ok": True, "events": in_database["events"], "head_hash": in_database["head_hash"]}


def test_shipped_script_says_ok_for_an_export(
    bought: CompletedPurchase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = export(tmp_path, capsys)

    checked = run_script(str(file))

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok:")


def test_shipped_script_fails_after_a_line_is_edited(
    bought: CompletedPurchase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = export(tmp_path, capsys)
    lines = file.read_text(encoding="utf-8").splitlines()
    edited = [line.replace('"responses":5', '"responses":50') for line in lines]
    assert edited != lines
    file.write_text("\n".join(edited) + "\n", encoding="utf-8")

    checked = run_script(str(file))

    assert checked.returncode != 0
    assert "NOT OK" in checked.stderr


def test_shipped_script_fails_after_a_line_is_removed(
    bought: CompletedPurchase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = export(tmp_path, capsys)
    lines = file.read_text(encoding="utf-8").splitlines()
    file.write_text("\n".join(lines[:2] + lines[3:]) + "\n", encoding="utf-8")

    checked = run_script(str(file))

    assert checked.returncode != 0
    assert "line 3" in checked.stderr


def test_the_script_printed_in_docs_audit_md_is_the_shipped_script() -> None:
    page = (VERIFY_SCRIPT.parent / "audit.md").read_text(encoding="utf-8")
    printed = page.split("```python\n", 1)[1].split("```", 1)[0]

    assert printed == VERIFY_SCRIPT.read_text(encoding="utf-8")
    assert len(printed.splitlines()) <= 10
