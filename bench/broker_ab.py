"""Paired send→recv: this checkout's daemon (A) against another tree's (B), their rounds interleaved.

Two real hive-c0re processes run side by side, each with two peers. A round is bench/broker.py's send→recv
(a recv blocked in the daemon, 5 ms of quiet, then a send; timed until the recv returns), and the rounds
alternate A, B, B, A, A, B… so both daemons see the same minute of this machine, and neither always goes
first. On a VM whose wake-ups drift by
a third from one run to the next, comparing whole runs hides a change of 0.1 ms; paired rounds show it.

    .venv/bin/python bench/broker_ab.py (--src DIR | --patch FILE) [--rounds N] [--runs N]

`--src DIR`: B runs from DIR (a `src/` directory, e.g. `git archive <commit> src | tar -x -C /tmp/old`).
`--patch FILE`: B runs from this checkout's committed `src/` with FILE applied (`git apply`), such as the
experiments in bench/variants/.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, header, parser, report
from bench.broker import percentile
from tests.support.hive import HiveProcess

from hyperhive.client import AsyncSocketClient

QUIET_SECONDS = 0.005  # as bench/broker.py: the recv is blocked in the daemon before the send starts


async def interleaved(hives: list[HiveProcess], rounds: int) -> list[list[float]]:
    """Per hive, its send→recv times; round i of every hive runs before round i + 1 of any, the order
    turned about each round."""
    clients = [(AsyncSocketClient(h.agent_socket("a0")), AsyncSocketClient(h.agent_socket("a1"))) for h in hives]
    samples: list[list[float]] = [[] for _ in hives]

    async def recv(receiver: AsyncSocketClient) -> float:
        await receiver.request("recv", wait_seconds=30, max=1, ack=True)
        return time.perf_counter()

    for i in range(rounds):
        order = range(len(hives)) if i % 2 == 0 else reversed(range(len(hives)))  # neither always goes first
        for sender, receiver, times in ((*clients[k], samples[k]) for k in order):
            waiting = asyncio.create_task(recv(receiver))
            await asyncio.sleep(QUIET_SECONDS)
            started = time.perf_counter()
            await sender.request("send", to="a1", body=f"ping {i}")
            times.append(await waiting - started)
    for pair in clients:
        for client in pair:
            await client.close()
    return samples


def one_run(b_src: Path, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hhab-", dir="/tmp") as root:
        for side in "ab":
            (Path(root) / side).mkdir()
        hives = [HiveProcess(Path(root) / "a", env={"PYTHONPATH": str(ROOT / "src")}),
                 HiveProcess(Path(root) / "b", env={"PYTHONPATH": str(b_src.resolve())})]
        try:
            for hive in hives:
                hive.log_level = "WARNING"
                hive.start()
                for name in ("a0", "a1"):
                    hive.host.request("register_peer", name=name)
            a, b = asyncio.run(interleaved(hives, rounds))
        finally:
            for hive in hives:
                hive.stop()
    differences = [y - x for x, y in zip(a, b, strict=True)]
    return {"A send→recv p50": percentile(a, 0.5) * 1e3, "B send→recv p50": percentile(b, 0.5) * 1e3,
            "A send→recv p90": percentile(a, 0.9) * 1e3, "B send→recv p90": percentile(b, 0.9) * 1e3,
            "B minus A, median of paired rounds": statistics.median(differences) * 1e3,
            "rounds B was faster (%)": 100 * sum(d < 0 for d in differences) / len(differences)}


def patched(patch: Path, into: Path) -> Path:
    """This checkout's committed src/ with the patch applied, in `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD", "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    applied = subprocess.run(["git", "apply", str(patch.resolve())], cwd=into, capture_output=True, text=True)
    if applied.returncode:
        sys.exit(f"{patch} does not apply to this checkout's HEAD: {applied.stderr.strip()}")
    return into / "src"


def main() -> None:
    args_parser = parser(__doc__)
    which = args_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--src", type=Path, metavar="DIR", help="B's src/ directory")
    which.add_argument("--patch", type=Path, metavar="FILE", help="B: HEAD's src/ with this patch applied")
    args_parser.add_argument("--rounds", type=int, default=1_000, help="rounds per daemon and run")
    args = args_parser.parse_args()
    header("broker A/B: two real hive-c0re processes, send→recv rounds interleaved")
    print(f"A: {ROOT / 'src'}; B: {args.src or args.patch}")
    with tempfile.TemporaryDirectory(prefix="hhab-src-", dir="/tmp") as tree:
        b_src = args.src if args.src else patched(args.patch, Path(tree))
        runs = []
        for run in range(args.runs):
            runs.append(one_run(b_src, args.rounds))
            print(f"run {run + 1}: " + ", ".join(f"{k} {v:,.3f}" for k, v in runs[-1].items()), flush=True)

    def fmt(key: str, v: float) -> str:
        return f"{v:.0f} %" if "%" in key else f"{v:.3f} ms"

    report(runs, fmt)


if __name__ == "__main__":
    main()
