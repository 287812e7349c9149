"""A stand-in for hive-c0re in kill -9 stories: starts one sandbox, prints its handle (the readiness signal),
then waits to be killed.

    python -m tests.runtime._fake_daemon <runtime_dir> <kind> <spec as JSON>
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from hyperhive.runtime import SandboxSpec
from hyperhive.runtime.auto import make_runtime
from hyperhive.runtime.local import LocalConfig


async def main(runtime_dir: str, kind: str, spec_json: str) -> None:
    runtime = make_runtime(kind, LocalConfig(Path(runtime_dir)))
    handle = await runtime.create(SandboxSpec.from_dict(json.loads(spec_json)))
    await runtime.start(handle)
    print(handle.to_json(), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
