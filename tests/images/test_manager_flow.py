"""The original's defining loop, end to end on real parts (bubblewrap, the Claude CLI against the scripted
API, mmdebstrap images): the operator asks hm1nd for an agent that renders SVG; hm1nd asks for a config
repo (approval 1), adds `librsvg2-bin` to the new agent's packages with its own Bash tool and asks for the
apply (approval 2, whose card shows the package and the image size); once approved, the agent's next turn
runs rsvg-convert."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.test_sandboxed_agents import end_hive, start_hive
from tests.support import api_replies as reply
from tests.support.hive import HiveProcess, wait_for
from tests.support.images import build_test_image
from tests.support.reaper import acting_as_init
from tests.support.scripted_api import ApiRequest, ScriptedApi, after_tool

pytestmark = [pytest.mark.bwrap, pytest.mark.claude, pytest.mark.timeout(900)]
INIT = "mcp__hyperhive__request_init_config"
APPLY = "mcp__hyperhive__request_apply_commit"
ADD_PACKAGE = ("cd $HIVE_CONFIGS_DIR/iris && sed -i '1i packages = [\"librsvg2-bin\"]' agent.toml && "
               "git add agent.toml && git -c user.name=hm1nd -c user.email=hm1nd@hive commit -qm 'iris renders SVG' "
               "&& git rev-parse HEAD")
RENDER = "(rsvg-convert --version; echo exit=$?) > /hive/state/render.txt 2>&1"


@pytest.fixture
def hive(short_tmp: Path, claude_bin: str) -> Iterator[tuple[HiveProcess, ScriptedApi]]:
    build_test_image(claude_bin, ["librsvg2-bin"])  # cached per machine
    (short_tmp / "api").mkdir()
    with acting_as_init(), ScriptedApi(unix_socket=short_tmp / "api" / "api.sock") as api:
        running = start_hive(short_tmp / "hive", {"HYPERHIVE_MANAGER": "on", "HYPERHIVE_CLAUDE": claude_bin,
                                                  "CLAUDE_CODE_MAX_RETRIES": "0", **api.unix_env()})
        try:
            yield running, api
        finally:
            end_hive(running)


def script(api: ScriptedApi) -> None:
    def apply_what_bash_printed(req: ApiRequest) -> reply.Reply:
        sha = re.findall(r"\b[0-9a-f]{40}\b", " ".join(str(r.content) for r in req.tool_results))[-1]
        return reply.tool_use(APPLY, {"agent": "iris", "commit_ref": sha, "description": "iris renders SVG"})

    api.on("an agent that renders SVG", reply.tool_use(INIT, {"name": "iris", "description": "renders SVG"}))
    api.on("config_ready", reply.tool_use("Bash", {"command": ADD_PACKAGE, "description": "add librsvg2-bin"}))
    api.on("please render", reply.tool_use("Bash", {"command": RENDER, "description": "render"}))
    api.on(lambda req: any(r.name == "Bash" and re.search(r"\b[0-9a-f]{40}\b", str(r.content))
                           for r in req.tool_results), apply_what_bash_printed)
    api.on(after_tool("Bash"), reply.text("rendered"))
    api.on(lambda req: True, reply.text("noted"))  # events and tool results that need no action


def pending_of(hive: HiveProcess, kind: str) -> dict[str, object] | None:
    found = hive.host.request("pending", status="pending", kind=kind)["approvals"]
    return dict(found[0]) if found else None


def built_card(hive: HiveProcess) -> dict[str, object] | None:
    """The pending apply_commit once its image is built: what the operator's card shows."""
    found = pending_of(hive, "apply_commit")
    details = found["details"] if found else None
    return found if isinstance(details, dict) and details.get("image_build") == "built" else None


def test_the_manager_adds_a_package_through_two_approvals_and_the_agent_uses_it(
    hive: tuple[HiveProcess, ScriptedApi],
) -> None:
    proc, api = hive
    script(api)
    wait_for(lambda: (proc.settings.agent_socket_dir("hm1nd") / "manager.sock").exists(), timeout=60)
    proc.host.request("send", to="hm1nd", body="please make me an agent that renders SVG, named iris")
    init = wait_for(lambda: pending_of(proc, "init_config"), timeout=120)
    proc.host.request("approve", id=init["id"])  # approval 1: the config repo
    # The row is stored with its diff before the image is built; the card is the row once built (its
    # details say so and its diff ends with the image line).
    apply = wait_for(lambda: built_card(proc), timeout=180)
    assert apply["agent"] == "iris" and apply["requested_by"] == "hm1nd"
    diff = str(apply["diff"])
    # Against the seeded template (not the empty tree): the one line hm1nd added, then the image line.
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert added == ['+packages = ["librsvg2-bin"]'], diff
    assert re.search(r"^image \S+: \+librsvg2-bin; [\d.]+ MB on disk beyond the base$", diff, re.M), diff
    assert float(apply["details"]["image_size_mb"]) > 1  # type: ignore[index]
    proc.host.request("approve", id=apply["id"])  # approval 2: the package
    wait_for(lambda: any(r["name"] == "iris" and r["activity"] == "idle"
                         for r in proc.host.request("agent_status")["agent_statuses"]), timeout=120)
    proc.host.request("send", to="iris", body="please render")
    out = proc.settings.state_dir / "agents" / "iris" / "state" / "render.txt"
    wait_for(lambda: out.exists() and "exit=" in out.read_text(), timeout=120)
    assert "rsvg-convert version" in out.read_text() and "exit=0" in out.read_text()
