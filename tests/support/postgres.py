"""A real PostgreSQL server for the suite: `initdb` in a temp dir, listening on loopback and on a Unix
socket in that dir, started with `pg_ctl -w` (which returns once the server accepts connections) and
stopped at the end of the session. No system service, no mock."""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from .needs import unavailable


def postgres_bindir() -> Path | None:
    """The newest PostgreSQL server binaries Debian installed (`postgresql-NN`)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def _as_server_user() -> list[str]:
    """initdb and postgres refuse to run as root: drop to the `postgres` user Debian's package makes."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        unavailable("PostgreSQL", "no `postgres` system user to run the test server as (apt install postgresql)")
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresServer:
    def __init__(self) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            unavailable("PostgreSQL", "no server binaries in /usr/lib/postgresql/*/bin (apt install postgresql)")
        assert bindir is not None
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="hh-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._names = itertools.count(1)
        self._sudo = _as_server_user()
        if self._sudo:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run([*self._sudo, *args], check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "hive", "--auth=trust", "-E", "UTF8",
                  "--no-instructions")
        self.start_server()

    def start_server(self) -> None:
        """Start the server and return once it accepts connections (pg_ctl -w waits for that; the bound only
        says when to give up, with the server's own log in the error)."""
        # syncfs: crash recovery syncs the file system once, not each of the many test databases' files
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c max_connections=200 "
                   "-c recovery_init_sync_method=syncfs")
        log = self.root / "server.log"
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(log),
                      "-o", options, "-w", "-t", "600", "start")
        except subprocess.CalledProcessError as exc:
            tail = log.read_text(errors="replace")[-4000:] if log.exists() else "(no server log)"
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr!r}\n--- server.log ---\n{tail}") from exc

    def stop_server(self) -> None:
        """Stop at once, as a crash would (immediate: clients cut off, crash recovery at the next start). A
        checkpoint first keeps that recovery short: the session's server has made hundreds of databases, each
        written whole into the WAL (PostgreSQL 15's CREATE DATABASE), and replaying them all under load took
        past pg_ctl's bound once."""
        with contextlib.suppress(psycopg.OperationalError), psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute("CHECKPOINT")  # (a server already down has nothing to replay from us)
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop_server()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://hive@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
