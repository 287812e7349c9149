"""A real PostgreSQL server for the suite: `initdb` in a temp dir, listening on loopback and on a Unix
socket in that dir, started with `pg_ctl -w` (which returns once the server accepts connections) and
stopped at the end of the session. No system service, no mock.

`HYPERHIVE_TEST_DATABASE=postgresql` runs the whole suite on it: every hive a test starts (see
`settings_for` in tests/support/hive.py) gets a fresh database of its own, made from a template database
migrated once per session (CREATE DATABASE … TEMPLATE: 0.3 s a database on a loaded 2-core machine, against 0.5 s
for an empty one migrated)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg

from hyperhive.config.settings import HiveSettings

from .needs import unavailable

BACKENDS = ("sqlite", "postgresql")
SUITE_BACKEND = os.environ.get("HYPERHIVE_TEST_DATABASE") or "sqlite"
if SUITE_BACKEND not in BACKENDS:
    raise RuntimeError(f"HYPERHIVE_TEST_DATABASE must be one of {BACKENDS}, not {SUITE_BACKEND!r}")
_TEMPLATE = "hive_template"


def on_postgres() -> bool:
    """Whether this run puts every hive on the suite's PostgreSQL server (HYPERHIVE_TEST_DATABASE)."""
    return SUITE_BACKEND == "postgresql"


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
        self._template_ready = False
        self._by_root: dict[Path, str] = {}  # a hive's state root -> its database (as its hive.db file would be)
        self.made: list[str] = []  # databases made for hives, in order (the fixture drops each test's own)
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
        # syncfs: crash recovery syncs the file system once, not each of the many test databases' files.
        # fsync=off: the tests stop the server as a crash would (all its processes at once), never the
        # machine, so what the server wrote is in the page cache either way; flushing it to the disk only
        # made each CREATE DATABASE and checkpoint wait on a disk the whole machine shares.
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c max_connections=300 "
                   "-c recovery_init_sync_method=syncfs -c fsync=off")
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

    def new_database(self, *, migrated: bool = False) -> str:
        """A fresh database, empty or (`migrated`) with the hive's schema in place; returns its URL."""
        if migrated:
            self._make_template()
        name = f"t{os.getpid()}_{next(self._names)}"
        template = f' TEMPLATE "{_TEMPLATE}"' if migrated else ""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{template}')
        return self.url(name)

    def database_for(self, root: Path) -> str:
        """The database of the hive whose state lives under `root`: fresh at the first ask, the same one after
        (a hive restarted on the same state dir finds its state, as it would in its SQLite file)."""
        if root not in self._by_root:
            self._by_root[root] = self.new_database(migrated=True)
            self.made.append(self._by_root[root])
        return self._by_root[root]

    def drop_databases(self, urls: list[str]) -> None:
        """Drop the given databases, ending any session still on one (a daemon the test left behind)."""
        gone = set(urls)
        self._by_root = {root: url for root, url in self._by_root.items() if url not in gone}
        self.made = [url for url in self.made if url not in gone]
        with contextlib.suppress(psycopg.OperationalError), psycopg.connect(self.url(), autocommit=True) as conn:
            for url in urls:
                conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def _make_template(self) -> None:
        """Migrate the template database once: the hive's own migrations (migrate_postgres), as a node does."""
        if self._template_ready:
            return
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{_TEMPLATE}"')  # a half-made one from a failed try
            conn.execute(f'CREATE DATABASE "{_TEMPLATE}"')
        # its own thread: the first ask may come from inside a running event loop (an async test)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _migrate(self.url(_TEMPLATE))).result()
        self._template_ready = True


async def _migrate(url: str) -> None:
    from psycopg.rows import dict_row

    from hyperhive.store._pg_db import migrate_postgres

    async with await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row) as conn:
        await migrate_postgres(conn)


class SuiteDatabases:
    """Where the hives of a PostgreSQL run get their databases: the session's server, once it is up."""

    server: PostgresServer | None = None

    @classmethod
    def for_root(cls, root: Path) -> str:
        """`root`'s database on a PostgreSQL run; "" (the SQLite file in its state dir) otherwise."""
        if not on_postgres():
            return ""
        assert cls.server is not None, "the PostgreSQL run's server starts with the session (tests/support/fixtures.py)"
        return cls.server.database_for(root)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def hive_database(settings: HiveSettings) -> Iterator[Any]:
    """The hive's own database opened beside it, the test's back door for writing the past or reading a
    column no verb shows: its SQLite file, or its PostgreSQL database on that run. Statements use `?`
    placeholders on both; the connection commits each statement. Yields a DB-API connection."""
    if not settings.database:
        sqlite = sqlite3.connect(settings.db_path, isolation_level=None, check_same_thread=False)
        try:
            yield sqlite
        finally:
            sqlite.close()
        return
    with psycopg.connect(settings.database, autocommit=True) as conn:
        yield _QmarkConnection(conn)


class _QmarkConnection:
    """A psycopg connection that takes sqlite3's `?` placeholders (tests write one statement for both)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> psycopg.Cursor[Any]:
        # without parameters psycopg runs the text as is: several statements (a function and its trigger) in one
        qmarks = re.sub(r"('[^']*')|\?", lambda m: m.group(1) or "%s", sql)  # not a `?` inside a quoted string
        return self.conn.execute(qmarks, params or None)  # type: ignore[arg-type]
