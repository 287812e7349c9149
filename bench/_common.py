"""What every benchmark prints beside its figures (the machine, its load, the date, the commit) and the
median-of-runs that docs/benchmarks.md quotes (`--runs N`)."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def idle_states() -> str:
    """How an idle CPU waits for its next wake-up: on a VM that halts at once (guest halt polling off), every
    hop of a request after a quiet spell pays the host's wake-up, which latency figures carry."""
    cpuidle = Path("/sys/devices/system/cpu/cpuidle/current_driver")
    poll = Path("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
    driver = cpuidle.read_text().strip() if cpuidle.exists() else "none"
    return f"cpuidle {driver}" + (f", guest_halt_poll_ns {poll.read_text().strip()}" if poll.exists() else "")


def commit() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                          text=True, check=False)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return (done.stdout.strip() or "unknown") + (" (with uncommitted changes)" if dirty else "")


def header(title: str) -> None:
    """The lines that make a figure comparable: machine, load, date, commit."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# {title}")
    print(f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}; "
          f"load average {load}; {idle_states()}")
    print(f"date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; commit {commit()}")


def parser(doc: str | None) -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    made.add_argument("--runs", type=int, default=3, help="runs of the whole benchmark; the median is printed")
    return made


def median_of_runs(runs: Sequence[dict[str, float]]) -> dict[str, tuple[float, float, float]]:
    """Per figure: (median, lowest, highest) over the runs."""
    return {key: (statistics.median(r[key] for r in runs), min(r[key] for r in runs), max(r[key] for r in runs))
            for key in runs[0]}


def report(runs: Sequence[dict[str, float]], fmt: Callable[[str, float], str]) -> None:
    """One line per figure: the median of the runs, the range in brackets."""
    print(f"median of {len(runs)} run(s), range in brackets:")
    for key, (mid, low, high) in median_of_runs(runs).items():
        print(f"  {key}: {fmt(key, mid)} ({fmt(key, low)} to {fmt(key, high)})")
