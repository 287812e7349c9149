"""`hivectl` starts fast because it loads only what a command uses (issue 17: `hivectl send` → reply in the
operator's inbox p50 < 350 ms; the command's own start was most of it). Checked by what a fresh interpreter
has loaded, not by a clock, so the test holds on a loaded machine and a regression fails every time.

And the daemon, which needs every model, builds them all at start (`build_deferred`), so no request pays
for a model built on first use."""

from __future__ import annotations

import json
import subprocess
import sys

# What importing hivectl must not load: the agent.toml schema and repos, the images, the sandbox runtimes,
# asyncio (the blocking client is enough), and the validators of the protocol's models.
HEAVY = ["hyperhive.config.agent_toml", "hyperhive.config.sections", "hyperhive.config.repos", "hyperhive.images",
         "hyperhive.runtime", "asyncio"]

PROBE = """
import json, sys
import {module}
from pydantic import BaseModel
from hyperhive.protocol.fields import _PARSERS, Request{after}
from hyperhive.protocol.models import WireModel
from hyperhive.protocol.replies import Reply

models, pending = [], [Request, Reply, WireModel]
while pending:
    models.append(pending.pop())
    pending.extend(models[-1].__subclasses__())
models = [m for m in models if not m.__pydantic_generic_metadata__["parameters"]]  # a generic base is built anyway
print(json.dumps({{"modules": sorted(sys.modules), "models": len(models),
                  "built": sorted(m.__qualname__ for m in models if m.__pydantic_complete__),
                  "parsers_built": [p.pydantic_complete for p in _PARSERS]}}))
"""


def probe(module: str, *, build: bool = False) -> dict[str, object]:
    code = PROBE.format(module=module, after=", build_deferred\nbuild_deferred()" if build else "")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_importing_hivectl_loads_no_heavy_part_and_builds_no_model() -> None:
    found = probe("hyperhive.cli.hivectl")
    modules = found["modules"]
    assert isinstance(modules, list)
    assert [m for m in HEAVY if m in modules] == []
    assert found["built"] == []  # every verb's request and reply model waits for its first use
    assert found["parsers_built"] == [False]  # hivectl never parses a request line


def test_a_command_builds_only_the_models_it_uses() -> None:
    code = "\n".join([
        "from hyperhive.cli import hivectl",
        "from hyperhive.protocol import host_requests as rq, replies as rp",
        "from hyperhive.protocol.fields import verbs_of",
        "rq.OperatorSend(cmd='send', to='a', body='hi')",
        "rp.Sent.model_validate({'id': 1, 'ids': [1], 'recipients': ['a']})",
        "print(*[m.__name__ for m in verbs_of(rq.HostRequest) if m.__pydantic_complete__])",
    ])
    built = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert built.split() == ["OperatorSend"]


def test_the_daemon_builds_every_model_and_parser_at_start() -> None:
    found = probe("hyperhive.daemon", build=True)
    assert found["parsers_built"] == [True, True]  # host.sock's and the agents' sockets'
    assert found["built"] and len(found["built"]) == found["models"]  # type: ignore[arg-type]
