"""A builder process a test can kill: builds the image for the packages in argv, printing mmdebstrap's
lines as they come (the test waits for one, then sends SIGKILL)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from hyperhive.images import ImageService


async def main(claude: str, packages: list[str]) -> None:
    service = ImageService(Path("/nonexistent-state"), "bwrap", Path(claude))
    info = await service.ensure(packages, on_line=lambda line: print(line, flush=True))
    print(f"built {info.image_id}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
