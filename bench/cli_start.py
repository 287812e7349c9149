"""How long `hivectl` takes to start: CPU time (user + sys, which the machine's load barely changes) and wall
time, the median of N fresh interpreters, for importing `hyperhive.cli.hivectl`, `hivectl --help`, and
`hivectl send` to a socket nobody serves (start-up, parsing, the failed connect: all a real send does
before its request is on the wire). `--src` points at another checkout's `src` to compare before and after.

    .venv/bin/python bench/cli_start.py [--runs 9] [--src DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "import hyperhive.cli.hivectl": ["-c", "import hyperhive.cli.hivectl"],
    "hivectl --help": ["-m", "hyperhive.cli.hivectl", "--help"],
    "hivectl send (no daemon)": ["-m", "hyperhive.cli.hivectl", "--socket", "/nonexistent/host.sock",
                                 "send", "a", "hi"],
}


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU, wall) seconds of one run."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(argv, env=env, capture_output=True, check=False)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the hyperhive sources to start")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    print(f"date {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; commit {commit.stdout.strip()}; src {args.src}; "
          f"nproc {os.cpu_count()}; loadavg {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    env = {**os.environ, "PYTHONPATH": str(args.src)}
    for label, argv in CASES.items():
        timed([sys.executable, *argv], env)  # the first run writes the bytecode caches
        runs = [timed([sys.executable, *argv], env) for _ in range(args.runs)]
        cpu, wall = (statistics.median(x) * 1000 for x in zip(*runs, strict=True))
        print(f"  {label:30s} CPU p50 {cpu:5.0f} ms   wall p50 {wall:6.0f} ms   (n={args.runs})")
    print(f"loadavg at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
