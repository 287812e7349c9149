"""SQLite plumbing: one writer thread that group-commits, and reader threads on their own connections.

All writes go through one thread and one connection (the model of datasette's database.py): a job is a
function of a connection. The writer takes every job queued at that moment, runs them in one
`BEGIN IMMEDIATE` transaction (each in its own savepoint, so one failing job fails alone), commits, and
only then resolves the jobs' futures — an answered write is on disk. Batching is what turns one fsync
per message into one fsync per burst.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
# Called in the answer's loop with the job's result (None when it failed) as soon as its batch is known:
# before the answer's awaiters run, and even when the answer was cancelled meanwhile.
OnDone = Callable[[Any], None]
# (the job, its answer, the answer's loop, whether it may run twice: a function of the connection alone, its
# hook)
Job = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop, bool,
            OnDone | None]
Outcome = tuple[Any, BaseException | None]


@dataclass
class Where:
    """A WHERE clause made of the conditions that apply (`sql` is empty when none does), with its arguments."""

    conditions: list[str] = field(default_factory=list)
    args: list[object] = field(default_factory=list)

    def add(self, condition: str, *args: object) -> Where:
        self.conditions.append(condition)
        self.args += args
        return self

    def add_in(self, column: str, values: Sequence[object]) -> Where:
        return self.add(f"{column} IN ({','.join('?' * len(values))})", *values)

    def when(self, condition: str, value: object | None) -> Where:
        """`condition` on `value`, when there is one (a filter left out is None)."""
        return self if value is None else self.add(condition, value)

    def either(self, first: str, second: str, name: str | None) -> Where:
        """Rows where `name` is in either column (sender or recipient, asker or target), when there is one."""
        return self if name is None else self.add(f"({first} = ? OR {second} = ?)", name, name)

    def newest(self, conn: sqlite3.Connection, select: str, limit: int) -> list[sqlite3.Row]:
        """The newest `limit` rows of `select` ("SELECT … FROM table") that match, newest first."""
        return conn.execute(f"{select} {self.sql} ORDER BY id DESC LIMIT ?", (*self.args, limit)).fetchall()

    @property
    def sql(self) -> str:
        return f"WHERE {' AND '.join(self.conditions)}" if self.conditions else ""


MAX_BATCH = 512


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is fsynced, so an answered write survives power loss, not only a kill -9.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    return conn


class SQLiteDatabase:
    def __init__(self, path: Path, readers: int = 2) -> None:
        self.path = path
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="hive-db-read")

    def start(self, prepare: Callable[[sqlite3.Connection], object]) -> None:
        """Open the writer connection, run `prepare` (migrations) on it, then start the writer thread."""
        conn = connect(self.path)
        prepare(conn)
        self._writer = threading.Thread(target=self._write_loop, args=(conn,), name="hive-db-write", daemon=True)
        self._writer.start()

    def stop(self) -> None:
        if self._writer is not None:
            self._jobs.put(None)
            self._writer.join()
            self._writer = None
        self._readers.shutdown(wait=True)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    async def write(self, fn: Callable[[sqlite3.Connection], T], *, replayable: bool = False) -> T:
        return await self.submit(fn, replayable=replayable)

    def submit(self, fn: Callable[[sqlite3.Connection], T], *, replayable: bool = False,
               on_done: Callable[[T | None], None] | None = None) -> asyncio.Future[T]:
        """Queue a write job now; the future resolves once its batch is committed. `replayable`: the job
        touches nothing but the connection, so a batch it is in may run it again (see _run_batch). `on_done`
        gets the result (None if the job failed) in the same loop turn the batch is settled in, one turn
        before a done-callback would, and runs even if the future was cancelled."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, future, loop, replayable, on_done))
        return future

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, fn)

    def _run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return fn(conn)

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < MAX_BATCH:
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    batch.append(job)
                self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Job]) -> None:
        """One transaction. A lone job, or a batch of replayable jobs (the broker's sends, acks), runs without
        savepoints: two statements less per job, each a trip through sqlite3 and a hand-over of the GIL with
        the event loop. Should one of the batch fail, it is rolled back and run again, a savepoint per job."""
        outcomes: list[Outcome] | None = None
        try:
            if len(batch) == 1 or all(job[3] for job in batch):
                outcomes = _run_unguarded(conn, batch)
            if outcomes is None:
                outcomes = _run_guarded(conn, batch)
        except sqlite3.Error as exc:
            log.exception("write transaction failed; %d jobs fail with it", len(batch))
            _roll_back(conn)
            outcomes = [(None, exc)] * len(batch)
        # One wake-up per event loop for the whole batch: each call_soon_threadsafe writes the loop's
        # self-pipe and makes this thread and the loop's trade the GIL once more.
        settled: dict[asyncio.AbstractEventLoop, list[Settled]] = {}
        for (_, future, loop, _, on_done), (result, error) in zip(batch, outcomes, strict=True):
            settled.setdefault(loop, []).append((future, result, error, on_done))
        for loop, answers in settled.items():
            loop.call_soon_threadsafe(_settle, answers)


Settled = tuple["asyncio.Future[Any]", Any, BaseException | None, OnDone | None]


def _run_unguarded(conn: sqlite3.Connection, batch: list[Job]) -> list[Outcome] | None:
    """The jobs in one transaction without savepoints. When one fails, the transaction is rolled back: a
    lone job's failure is its answer; a batch answers None, to be run again guarded."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        results = [job[0](conn) for job in batch]
    except Exception as exc:
        _roll_back(conn)
        return [(None, exc)] if len(batch) == 1 else None
    conn.execute("COMMIT")
    return [(result, None) for result in results]


def _run_guarded(conn: sqlite3.Connection, batch: list[Job]) -> list[Outcome]:
    """The jobs in one transaction, each in its own savepoint: one job's failure is that job's answer."""
    outcomes: list[Outcome] = []
    conn.execute("BEGIN IMMEDIATE")
    for fn, *_ in batch:
        conn.execute("SAVEPOINT job")
        try:
            outcomes.append((fn(conn), None))
            conn.execute("RELEASE job")
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            outcomes.append((None, exc))
    conn.execute("COMMIT")
    return outcomes


def _roll_back(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _settle(answers: list[Settled]) -> None:
    for future, result, error, on_done in answers:
        if on_done is not None:
            try:
                on_done(None if error is not None else result)
            except Exception:  # a hook's bug must not keep the batch's other answers from their callers
                log.exception("a write's completion hook failed")
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
