"""Following the harness log (what `hivectl logs -f` does): every byte once, in order, across rotations,
woken by inotify within milliseconds of a write, and an end when the log's directory goes."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from hyperhive.runtime.logfile import RotatingLog, tail_lines
from hyperhive.runtime.logfollow import LogFollower


@pytest.mark.parametrize("backups", [2, 0])
def test_appends_are_pushed_once_each_across_rotations(short_tmp: Path, backups: int) -> None:
    path = short_tmp / "logs" / "harness.log"
    log = RotatingLog(path, max_bytes=120, backups=backups)
    log.write(b"before 1\nbefore 2\n")
    written: list[bytes] = []
    with LogFollower(path) as follower:
        got = b""
        for n in range(40):  # ~10 rotations
            line = f"line {n:02d} {'x' * 20}\n".encode()
            log.write(line)
            written.append(line)
            started = time.monotonic()
            assert follower.wait(timeout=5), "the directory vanished"
            assert time.monotonic() - started < 1, "woken by the write, not by a timeout"
            got += follower.read()
        assert got == b"".join(written)
        assert path.with_name("harness.log.2").exists() or not backups  # it did rotate, more than once
    log.close()


def test_tail_is_what_came_before_following_began(short_tmp: Path) -> None:
    path = short_tmp / "harness.log"
    log = RotatingLog(path, max_bytes=40, backups=3)
    for n in range(8):
        log.write(f"old {n}\n".encode())
    with LogFollower(path) as follower:
        log.write(b"new\n")
        assert follower.tail(5) == ["old 3", "old 4", "old 5", "old 6", "old 7"]
        assert follower.tail(5) == tail_lines(path, 6)[:5]  # the same view as the daemon's tail
        assert follower.read() == b"new\n"
    log.close()


def test_a_log_that_does_not_exist_yet_is_read_from_its_start(short_tmp: Path) -> None:
    path = short_tmp / "harness.log"
    with LogFollower(path) as follower:
        assert follower.tail(10) == [] and follower.read() == b""
        log = RotatingLog(path)
        log.write(b"first\n")
        assert follower.wait(timeout=5)
        assert follower.read() == b"first\n"
        log.close()


def test_following_ends_when_the_directory_is_removed(short_tmp: Path) -> None:
    path = short_tmp / "logs" / "harness.log"
    log = RotatingLog(path)
    log.write(b"one\n")
    chunks: list[bytes] = []
    with LogFollower(path) as follower:
        reader = threading.Thread(target=lambda: chunks.extend(follower.follow()))
        reader.start()
        log.write(b"two\n")
        log.close()
        shutil.rmtree(path.parent)  # the agent was purged
        reader.join(10)
        assert not reader.is_alive() and follower.gone
    assert b"".join(chunks) == b"two\n"


def test_a_missing_directory_is_an_error(short_tmp: Path) -> None:
    with pytest.raises(FileNotFoundError):
        LogFollower(short_tmp / "nowhere" / "harness.log")
