"""Server processes for the HTTP benchmarks: ``lifecycle serve`` and the bare baseline,
one process per port, started and stopped by us; and CPU readings of them, of
PostgreSQL's processes and of the whole machine."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.common import ROOT, cpu_seconds, log

TOKEN = "bench-secret"
TOKENS = f"bench:{TOKEN}:views+commands+ops+audit"


def free_ports(n: int) -> list[int]:
    import socket

    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def lifecycle_command() -> list[str]:
    """``lifecycle serve`` from the environment this interpreter runs in."""
    script = Path(sys.executable).parent / "lifecycle"
    if script.exists():
        return [str(script), "serve"]
    found = shutil.which("lifecycle")
    if found:
        return [found, "serve"]
    return [sys.executable, "-m", "api.cli", "serve"]


class ServerGroup:
    """Several server processes on one database, one port each."""

    def __init__(self, name: str, commands: Sequence[list[str]], ports: Sequence[int],
                 env: dict[str, str]) -> None:
        self.name = name
        self.commands = list(commands)
        self.ports = list(ports)
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}."))

    @classmethod
    def lifecycle(cls, database_url: str, workers: int, **settings: str) -> ServerGroup:
        """``lifecycle serve --workers N`` on one port: N HTTP processes, and the
        projections and time-driven work in the parent process."""
        ports = free_ports(1)
        env = {
            **os.environ,
            "LIFECYCLE_DATABASE_URL": database_url,
            "LIFECYCLE_API_TOKENS": TOKENS,
            **{f"LIFECYCLE_{k.upper()}": v for k, v in settings.items()},
        }
        commands = [[*lifecycle_command(), "--workers", str(workers), "--port", str(ports[0])]]
        return cls("lifecycle", commands, ports, env)

    @classmethod
    def bare(cls, database_url: str, workers: int) -> ServerGroup:
        """The baseline served the same way: uvicorn's N workers on one port."""
        ports = free_ports(1)
        env = {**os.environ, "BENCH_BARE_DATABASE_URL": database_url,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        commands = [[sys.executable, "-m", "bench.bare_app", "--workers", str(workers),
                     "--port", str(ports[0])]]
        return cls("bare", commands, ports, env)

    @property
    def pids(self) -> list[int]:
        """The processes started and, at the time of asking, all their descendants."""
        return descendants([p.pid for p in self.processes])

    def start(self) -> None:
        # The first process creates the tables; the others start once it answers.
        for n, command in enumerate(self.commands):
            out = (self.logdir / f"server-{n}.log").open("wb")
            self.processes.append(
                subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=out, stderr=out)
            )
            self._wait_ready(self.ports[n], self.processes[-1])
        log(f"{self.name}: {len(self.processes)} processes on ports {self.ports} (logs in {self.logdir})")

    def _wait_ready(self, port: int, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{self.name} server exited with {process.returncode};"
                                   f" see {self.logdir}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} server on port {port} did not answer; see {self.logdir}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.processes.clear()
        shutil.rmtree(self.logdir, ignore_errors=True)

    def __enter__(self) -> ServerGroup:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- CPU readings -------------------------------------------------------------------------


def descendants(pids: Sequence[int]) -> list[int]:
    """``pids`` and every process below them (from ``/proc``)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended while we looked
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def postgres_pids(url: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [int(r[0]) for r in conn.execute("SELECT pid FROM pg_stat_activity")]


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return float(sum(fields) - idle), float(sum(fields))


def _cpu_of(pids: Sequence[int]) -> dict[int, float]:
    readings = {}
    for pid in pids:
        try:
            readings[pid] = cpu_seconds(pid)
        except OSError:  # a backend that ended between the listing and the reading
            continue
    return readings


@dataclass
class CpuReading:
    servers: float
    postgres: float
    client: float
    machine: float
    cores: int
    labels: tuple[str, str] = ("servers", "load generator")

    def text(self) -> str:
        others = max(0.0, self.machine - self.servers - self.postgres - self.client)
        servers, client = self.labels
        return (f"cores busy: {servers} {self.servers:.2f}, PostgreSQL {self.postgres:.2f},"
                f" {client} {self.client:.2f}, other work on the machine {others:.2f}"
                f" (of {self.cores})")


class CpuMeter:
    """CPU used over a phase, in cores: by the given processes (and by this process's
    children that ended and were waited for during it), by PostgreSQL's processes, by
    this process, and by the whole machine."""

    def __init__(self, server_pids: Sequence[int], url: str,
                 labels: tuple[str, str] = ("servers", "load generator")) -> None:
        self.server_pids = list(server_pids)
        self.url = url
        self.labels = labels

    def __enter__(self) -> CpuMeter:
        self._pg = _cpu_of(postgres_pids(self.url))
        self._servers = _cpu_of(self.server_pids)
        times = os.times()
        self._children = times.children_user + times.children_system
        self._client = time.process_time()
        self._machine = _machine_busy()
        self._began = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.monotonic() - self._began
        pg = _cpu_of(list(self._pg))
        servers = _cpu_of(self.server_pids)
        times = os.times()
        children = times.children_user + times.children_system - self._children
        busy, total = _machine_busy()
        cores = os.cpu_count() or 1
        self.reading = CpuReading(
            servers=(sum(servers[p] - self._servers[p] for p in servers if p in self._servers)
                     + children) / seconds,
            postgres=sum(pg[p] - self._pg[p] for p in pg) / seconds,
            client=(time.process_time() - self._client) / seconds,
            machine=(busy - self._machine[0]) / (total - self._machine[1]) * cores,
            cores=cores,
            labels=self.labels,
        )
