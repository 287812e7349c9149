"""The keeper: one small process per running sandbox, so that sandboxes outlive the daemon.

    python -m hyperhive.runtime.keeper <keeper_dir> --ready-fd N

The daemon starts it detached (its own session) and may die at any time; the keeper stays with the
sandbox. It holds `lock` for its whole life, starts the sandbox as its child, writes `keeper.json`, says
"ready" on the fd, then pipes the sandbox's output into the rotated harness log, forwards SIGTERM, SIGINT
and SIGHUP to the sandbox's command, SIGKILLs the whole sandbox on SIGUSR1, and when the sandbox has ended
writes `exit.json` (fsynced) and exits. A daemon notices that exit through a pidfd (see local.py).

It imports nothing heavy: every running agent has one of these.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import resource
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from . import _proc
from ._files import KeeperFiles, read_json, remove, write_json
from ._keeper import Keeper, StartFailed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hyperhive.runtime.keeper")
    parser.add_argument("keeper_dir", type=Path)
    parser.add_argument("--ready-fd", type=int, required=True)
    args = parser.parse_args(argv)
    _close_fds_except(args.ready_fd)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])  # whatever the daemon had blocked
    os.chdir("/")
    files = KeeperFiles(args.keeper_dir)
    ready = os.fdopen(args.ready_fd, "w")
    if _take_lock(files) is None:
        return _report(ready, {"ok": False, "error": "busy"}, 1)
    remove(files.exit, files.keeper)
    _proc.set_child_subreaper()
    orders = read_json(files.launch)
    if orders is None:
        return _report(ready, {"ok": False, "error": f"no orders at {files.launch}"}, 1)
    try:
        keeper = Keeper(orders, files)
        state = keeper.start()
    except StartFailed as exc:
        write_json(files.exit, exc.record.to_dict())
        return _report(ready, {"ok": False, "error": str(exc)}, 1)
    except (RuntimeError, OSError, KeyError, ValueError) as exc:
        return _report(ready, {"ok": False, "error": str(exc)}, 1)
    write_json(files.keeper, state)
    _report(ready, {"ok": True, **state}, 0)
    write_json(files.exit, keeper.wait().to_dict())
    return 0


def _take_lock(files: KeeperFiles) -> int | None:
    fd = os.open(files.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd  # held, open, until this process exits


def _report(ready: TextIO, message: Mapping[str, object], code: int) -> int:
    with contextlib.suppress(OSError):
        ready.write(json.dumps(message) + "\n")
        ready.close()
    return code


def _close_fds_except(keep: int) -> None:
    """The daemon's own descriptors must not live on in a long-lived keeper (a listening socket would
    keep its port; a lock would stay taken)."""
    top = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    top = top if top != resource.RLIM_INFINITY else 65536
    os.closerange(3, keep)
    os.closerange(keep + 1, top)


if __name__ == "__main__":
    code = main()
    sys.stderr.flush()
    # The daemon learns of the end when this process is gone: skip the interpreter's teardown (~20 ms
    # measured); everything that matters is already written and fsynced.
    os._exit(code)
