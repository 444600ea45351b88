"""``lifecycle serve --workers N``: several HTTP processes on one port, the projections
and the time-driven work in the serving command's own process.

What must hold: commands answered by any worker reach the views; a scrape of any
worker counts the requests of all of them; SIGTERM stops every process and exits 0;
a killed parent leaves no worker behind; the manual clock, which lives in one
process, is refused.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from api.app import ORPHAN_GRACE_SECONDS, PARENT_CHECK_SECONDS
from lifecycle_server import COMMANDS_SECRET, OPS_SECRET, Client, LifecycleServer, lifecycle_command

pytestmark = pytest.mark.e2e

COMMANDS = 40


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # a process that ended while we looked
            continue
        # The command name, in parentheses, may hold spaces: the parent pid follows it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def workers_of(server: LifecycleServer) -> list[int]:
    """The serving processes among the children (not multiprocessing's resource tracker)."""
    pids = []
    for pid in children_of(server.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            pids.append(pid)
    return pids


def gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        time.sleep(0.1)
    return False


def counted(metrics: str, command: str) -> float:
    match = re.search(
        r'^lifecycle_commands_total\{command="' + command + r'",outcome="ok"\} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    return float(match.group(1)) if match else 0.0


def test_workers_share_the_port_the_views_and_the_counts(
    postgres_url: str, serve: Callable[..., LifecycleServer]
) -> None:
    server = serve(postgres_url, clock="system", workers="2")
    workers = workers_of(server)
    assert len(workers) == 2
    commands = Client(server.base_url, COMMANDS_SECRET)
    ops = Client(server.base_url, OPS_SECRET)
    opened = []
    for n in range(COMMANDS):
        # A new connection each time: the kernel hands connections to either worker.
        answer = httpx.post(
            f"{server.base_url}/v1/accounts",
            json={"email": f"w{n}@example.com", "name": "Wu", "username": f"w{n}", "kind": "free"},
            headers={"Authorization": f"Bearer {COMMANDS_SECRET}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        opened.append(answer.json())

    last = max(opened, key=lambda o: o["position"])
    profile = commands.call(
        "GET", f"/v1/profiles/{last['account_id']}", params={"min_position": last["position"]}
    )
    assert profile["account_id"] == last["account_id"]
    for _ in range(4):  # whichever worker answers the scrape
        answer = ops.http.get("/metrics")
        assert answer.status_code == 200
        assert counted(answer.text, "open_account") == COMMANDS
    health = commands.call("GET", "/health")
    assert health["status"] == "ok"
    assert all(p["lag"] == 0 for p in health["projections"].values())
    commands.close()
    ops.close()

    assert server.terminate() == 0
    assert gone(workers, within=5)
    assert server.errors() == []


def test_a_killed_parent_leaves_no_worker_behind(
    postgres_url: str, serve: Callable[..., LifecycleServer]
) -> None:
    server = serve(postgres_url, clock="system", workers="2")
    workers = workers_of(server)
    assert len(workers) == 2
    server.kill()
    assert gone(workers, within=PARENT_CHECK_SECONDS + ORPHAN_GRACE_SECONDS + 5)


def test_the_manual_clock_is_served_by_one_process(postgres_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    env.update(LIFECYCLE_DATABASE_URL=postgres_url, LIFECYCLE_CLOCK="manual")
    done = subprocess.run(
        [*lifecycle_command(), "serve", "--workers", "2", "--port", "0"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "--workers 1" in done.stderr
