"""`failed` (the restart policy gave up) survives a daemon restart: the agent is not started again."""

from __future__ import annotations

import os
import signal

from tests.core.test_lifecycle import harness_pids, operator_events, row
from tests.support.hive import HiveProcess, wait_for

NO_RESTARTS = """name = "{name}"
description = "gives up at the second crash"
role = "agent"
model = "claude-sonnet-4-5"
allowed_recipients = []
[restart]
policy = "on-failure"
delay_seconds = 0.2
max_restarts = 1
window_seconds = 60
stop_timeout_seconds = 5
"""


def test_failed_is_kept_across_a_daemon_restart(hive_proc: HiveProcess) -> None:
    hive_proc.host.request("spawn", name="alice", config=NO_RESTARTS.format(name="alice"))
    state = hive_proc.settings.state_dir
    (pid,) = wait_for(lambda: harness_pids("alice", state))
    os.kill(pid, signal.SIGKILL)  # restarted once
    (pid,) = wait_for(lambda: [p for p in harness_pids("alice", state) if p != pid])
    os.kill(pid, signal.SIGKILL)  # one crash too many
    wait_for(lambda: operator_events(hive_proc, "agent_failed"))
    assert row(hive_proc, "alice")["state"] == "failed"
    hive_proc.stop()
    hive_proc.start()  # ready only after the supervisor decided what to bring back
    status = row(hive_proc, "alice")
    assert (status["state"], status["failed"], status["running"]) == ("failed", True, False)
    assert not harness_pids("alice", state)
    hive_proc.host.request("start", name="alice")  # the operator may start it again, by hand
    assert row(hive_proc, "alice")["state"] == "running"
    wait_for(lambda: harness_pids("alice", state))
    hive_proc.stop()
    hive_proc.start()  # and running is what it is again after a restart
    assert row(hive_proc, "alice")["state"] == "running"
    hive_proc.host.request("stop", name="alice")
    wait_for(lambda: not harness_pids("alice", state))
