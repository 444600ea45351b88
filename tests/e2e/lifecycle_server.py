"""``lifecycle serve`` as a child process of a test, on a database the test names, under
the manual clock; and an HTTP client that speaks for one of its tokens.

The end-to-end stories and the fault tests start their servers with this module (the
``serve`` fixture of ``conftest.py`` stops every one of them after the test).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

CLOCK_START = "2027-01-31T09:00:00Z"
COMMANDS_SECRET = "e2e-commands-secret-0123456789"
OPS_SECRET = "e2e-ops-secret-0123456789"
API_TOKENS = f"e2e-commands:{COMMANDS_SECRET}:views+commands;e2e-ops:{OPS_SECRET}:ops+views+audit"
LINK_SECRET = "e2e-link-secret-0123456789abcdef"
STARTUP_SECONDS = 60.0
SHUTDOWN_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def lifecycle_command() -> list[str]:
    """``lifecycle`` from the environment this interpreter runs in."""
    script = shutil.which("lifecycle", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "api.cli"]


class LifecycleServer:
    """One ``lifecycle serve`` process at a time on a fixed port: started, killed and
    started again on the same port, its output appended to one log file."""

    def __init__(
        self, database_url: str, directory: Path, name: str = "server", **settings: str
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / f"{name}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
        self.env.update(
            {
                "LIFECYCLE_DATABASE_URL": database_url,
                "LIFECYCLE_CLOCK": "manual",
                "LIFECYCLE_CLOCK_START": CLOCK_START,
                "LIFECYCLE_API_TOKENS": API_TOKENS,
                "LIFECYCLE_LINK_SECRET": LINK_SECRET,
                "PYTHONUNBUFFERED": "1",
                **{f"LIFECYCLE_{key.upper()}": value for key, value in settings.items()},
            }
        )
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> LifecycleServer:
        """Start the process and wait until ``/health`` answers ``ok``."""
        assert not self.running, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*lifecycle_command(), "serve", "--port", str(self.port)],
                env=self.env,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_until_healthy()
        return self

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"lifecycle serve exited with {self.process.returncode} while starting:\n"
                    + self.output()
                )
            try:
                answer = httpx.get(f"{self.base_url}/health", timeout=2.0)
                if answer.status_code == 200 and answer.json()["status"] == "ok":
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"lifecycle serve was not healthy within {STARTUP_SECONDS} s")

    def kill(self) -> int:
        """SIGKILL: the process ends at once, whatever it was doing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=SHUTDOWN_SECONDS)

    def terminate(self) -> int:
        """SIGTERM, then wait for the process to end (killed if it does not in time)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SHUTDOWN_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=SHUTDOWN_SECONDS)
                return -signal.SIGKILL
        return self.process.returncode

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def errors(self) -> list[str]:
        """The log lines at level ERROR or above (the service logs one JSON object a line),
        and each traceback written outside the logs, whole (it names what failed)."""
        found: list[str] = []
        in_traceback = False
        for line in self.output().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                if "Traceback" in line:
                    found.append(line)
                    in_traceback = True
                elif in_traceback:
                    found[-1] += "\n" + line
                continue
            in_traceback = False
            if isinstance(record, dict) and record.get("level") in ("ERROR", "CRITICAL"):
                found.append(line)
        return found


class Client:
    """A calling service with one token, on one server."""

    def __init__(self, base_url: str, secret: str, timeout: float = 30.0) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {secret}"}, timeout=timeout
        )

    def call(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        answer = self.http.request(method, path, **kwargs)
        assert answer.status_code == expected, (method, path, answer.status_code, answer.text)
        return answer.json()

    def close(self) -> None:
        self.http.close()
