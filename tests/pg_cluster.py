"""A throwaway PostgreSQL cluster of our own: initdb in a temporary directory, start
on a free loopback port, stop, start again on the same port, remove.

Used by the tests that stop the database under a running service and by the
benchmarks (``bench/``), which need a cluster with production durability settings.
As root, the server runs as the ``postgres`` user, as PostgreSQL requires.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


def _bindir() -> Path:
    configured = os.environ.get("LIFECYCLE_PG_BINDIR")
    if configured:
        return Path(configured)
    default = Path("/usr/lib/postgresql/15/bin")
    if (default / "initdb").exists():
        return default
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=True)
        return Path(out.stdout.strip())
    raise RuntimeError("PostgreSQL 15 is not installed (no /usr/lib/postgresql/15/bin, no pg_config)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """``durable=False`` trades crash safety for speed (tests); ``durable=True`` keeps
    PostgreSQL's defaults (fsync, synchronous commit), as a production server has."""

    def __init__(self, *, durable: bool = False, settings: dict[str, str] | None = None) -> None:
        self.bindir = _bindir()
        self.as_root = os.geteuid() == 0
        self.directory = Path(tempfile.mkdtemp(prefix="lifecycle-pgc."))
        self.data = self.directory / "data"
        self.logfile = self.directory / "postgres.log"
        self.port = free_port()
        self.durable = durable
        self.settings = dict(settings or {})
        self._initialised = False
        if self.as_root:
            shutil.chown(self.directory, "postgres", "postgres")
        self.directory.chmod(0o700)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command, cwd=self.directory, capture_output=True, text=True, check=check
        )

    def _initdb(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--no-locale", "--no-sync",
        )
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.directory}'",
            "max_connections": "200",
        }
        if not self.durable:
            conf.update({"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"})
        conf.update(self.settings)
        with (self.data / "postgresql.conf").open("a") as f:
            for key, value in conf.items():
                f.write(f"{key} = {value}\n")
        self._initialised = True

    def start(self) -> None:
        if not self._initialised:
            self._initdb()
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.logfile),
            "-o", f"-p {self.port}", "-w", "-t", "60", "start",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not come up; see {self.logfile}")

    def stop(self, mode: str = "fast") -> None:
        """``fast`` disconnects clients and shuts down cleanly; ``immediate`` is a crash."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
                      check=False)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
