"""Status rows on a running hive: `url` points at the agent's page, `needs_update` says when a restart would
run another build (here: a Claude CLI upgraded under an agent a daemon restart adopted)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.core.test_lifecycle import FAST_RESTART, harness_pids, row
from tests.support.hive import HiveProcess, wait_for
from tests.support.postgres import hive_database


def wrapper(path: Path, real: str, note: str) -> None:
    """A CLI that is the real one, as an upgrade in place would leave it: same path, new contents."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"#!/bin/sh\n# {note}\nexec {real} \"$@\"\n")
    tmp.chmod(0o755)
    tmp.replace(path)


def needs_update_events(hive: HiveProcess) -> list[dict[str, object]]:
    found = hive.host.request("events", kinds=["needs_update"])["events"]
    return [e["payload"] | {"agent": e["agent"]} for e in found]


def test_url_and_needs_update_after_a_cli_upgrade(short_tmp: Path, claude_bin: str) -> None:
    cli = short_tmp / "claude"
    wrapper(cli, claude_bin, "version one")
    hive = HiveProcess(short_tmp, env={"HYPERHIVE_CLAUDE": str(cli)})
    hive.start()
    try:
        hive.host.request("spawn", name="alice", config=FAST_RESTART.format(name="alice"))
        wait_for(lambda: row(hive, "alice")["activity"] == "idle")
        status = row(hive, "alice")
        home = hive.host.request("urls")["urls"]["home"]
        assert home and status["url"] == f"{home.rstrip('/')}/agents/alice"
        assert status["needs_update"] is False
        login = hive.host.request("dashboard_url")["url"]
        with httpx.Client(follow_redirects=True) as browser:  # the URL is the agent's page on the dashboard
            browser.get(login)
            page = browser.get(str(status["url"]))
            assert page.status_code == 200 and page.url.path == "/agents/alice"
        (pid,) = harness_pids("alice", hive.settings.state_dir)
        hive.stop()
        wrapper(cli, claude_bin, "version two, upgraded while the daemon was down")
        hive.start()
        assert harness_pids("alice", hive.settings.state_dir) == [pid]  # adopted: still the old build
        status = row(hive, "alice")
        assert status["needs_update"] is True
        assert [(e["agent"], e["what"]) for e in needs_update_events(hive)] == [("alice", ["cli"])]
        hive.host.request("restart", name="alice")
        assert row(hive, "alice")["needs_update"] is False  # a restart runs the new build
        hive.host.request("stop", name="alice")
        assert row(hive, "alice")["needs_update"] is False  # a stopped agent runs nothing
        stored = json.loads(str(_running_build(hive)))
        assert set(stored) == {"config", "harness", "cli", "image"} and stored["image"] is None
    finally:
        hive.stop()


def _running_build(hive: HiveProcess) -> str | None:
    with hive_database(hive.settings) as db:
        value = db.execute("SELECT running_build FROM agents WHERE name = 'alice'").fetchone()[0]
    return str(value) if value is not None else None
