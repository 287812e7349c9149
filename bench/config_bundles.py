"""What carrying config between nodes as git bundles adds to an approval (docs/multi-host.md).

On one node (SQLite, or an agent whose node is the proposing one) the only addition is one `git rev-parse`
when the approved work starts (is its `proposal/<id>` tag here, i.e. was it checked here?) and one agent-row
read when it is proposed. Across nodes: making the bundle on the proposing node, storing and reading it in the
database, and importing it (checks + `git bundle verify` + `unpack-objects --strict`) on the agent's node.
Real git, a config repo with a seed and `--commits` commits of agent.toml, a real SQLite store.

    .venv/bin/python bench/config_bundles.py [--runs 3] [--commits 20]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as `bench/config_bundles.py`, as the others

from bench._common import header, parser, report

from hyperhive.config import AppliedRepo, ProposedRepo, TagKind
from hyperhive.config._git import run_git
from hyperhive.config.bundles import import_bundle, make_bundle
from hyperhive.config.repos import tag_ref
from hyperhive.store.sqlite import SQLiteStore

REPEAT = 20


def timed(fn: Callable[[], object]) -> float:
    """Median wall time of REPEAT calls, in ms."""
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def one_run(commits: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="hh-bench-") as tmp:
        root = Path(tmp)
        proposed = ProposedRepo(root / "n1", "alice")
        proposed.seed("bench agent")
        git_dir = proposed.git_dir()
        text = (proposed.path / "agent.toml").read_text()
        for i in range(commits):
            (proposed.path / "agent.toml").write_text(text + f"\n# edit {i}\n")
            run_git(git_dir, "commit", "-qam", f"edit {i}", work_tree=proposed.path)
        sha = proposed.head()
        assert sha is not None
        applied = AppliedRepo(root / "n1", "alice")
        applied.import_commit(proposed, sha)
        applied.tag_proposal(1, sha)
        data = make_bundle(applied, sha)
        receiver = AppliedRepo(root / "n2", "alice")
        receiver.ensure()  # the agent's node has its applied repo from the agent's spawn

        def receive() -> None:
            import_bundle(receiver, data, sha)

        figures = {
            "proposal tag check (every approval)": timed(lambda: applied.ref_sha(tag_ref(TagKind.PROPOSAL, 1))),
            "make_bundle (proposing node)": timed(lambda: make_bundle(applied, sha)),
            "import_bundle (agent's node)": timed(receive),
            "bundle size (bytes)": float(len(data)),
        }
        figures["store put+get (SQLite)"] = asyncio.run(store_round_trip(root / "hive.db", data))
        return figures


async def store_round_trip(path: Path, data: bytes) -> float:
    store = SQLiteStore(path)
    await store.open()
    try:
        record = await store.add_approval("apply_commit", "alice", "hm1nd", commit_ref=None, fetched_sha=None,
                                          description="", payload={}, status="pending", at=time.time(), node="n2")
        times = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            await store.put_approval_bundle(record.id, "0" * 40, data)
            await store.get_approval_bundle(record.id)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)
    finally:
        await store.close()


def main() -> None:
    args = parser(__doc__)
    args.add_argument("--commits", type=int, default=20, help="commits in the config repo's history")
    options = args.parse_args()
    header(f"config bundles: a config repo of {options.commits + 1} commits")
    runs = [one_run(options.commits) for _ in range(options.runs)]
    report(runs, lambda key, value: f"{value:.0f}" if "bytes" in key else f"{value:.1f} ms")


if __name__ == "__main__":
    main()
