"""The plain values of the runtime interface, and the rotating log, without running a sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperhive.core.logs import tail_lines as core_tail_lines
from hyperhive.runtime import ExitInfo, Limits, Mount, SandboxHandle, SandboxSpec, SandboxSpecError
from hyperhive.runtime.logfile import RotatingLog, tail_lines
from hyperhive.runtime.spec import check_spec, target_problem


def _spec(tmp: Path, **fields: object) -> SandboxSpec:
    values: dict[str, object] = {"name": "alice", "argv": ("/bin/true",), "state_dir": tmp / "s",
                                 "socket_dir": tmp / "r", "log_path": tmp / "l" / "harness.log", **fields}
    return SandboxSpec(**values)  # type: ignore[arg-type]


def test_spec_round_trips_through_json(tmp_path: Path) -> None:
    spec = _spec(tmp_path, env={"A": "1"}, ro_paths=(tmp_path,), mounts=(Mount(tmp_path, "/data", True),),
                 limits=Limits(memory_mb=5, pids=3), network="host")
    assert SandboxSpec.from_dict(spec.to_dict()) == spec


def test_handle_and_exit_round_trip() -> None:
    handle = SandboxHandle("bwrap", "alice", "/run/hyperhive/sandboxes/alice")
    assert SandboxHandle.from_json(handle.to_json()) == handle
    info = ExitInfo(None, 9, 1.5, requested=True)
    assert ExitInfo.from_dict(info.to_dict()) == info
    assert info.describe() == "killed by SIGKILL"
    assert ExitInfo(3, None, 0.0).describe() == "exited with code 3"
    assert ExitInfo(None, None, 0.0, detail="lost").describe() == "ended (lost)"


@pytest.mark.parametrize(("fields", "message"), [
    ({"argv": ()}, "argv is empty"),
    ({"env": {"A=B": "x"}}, "not a valid variable"),
    ({"env": {"A": "nul\0"}}, "not a valid variable"),
    ({"ro_paths": (Path("/no/such/path"),)}, "does not exist"),
    ({"network": "bridge"}, "network must be"),
])
def test_bad_specs_are_refused(tmp_path: Path, fields: dict[str, object], message: str) -> None:
    with pytest.raises(SandboxSpecError, match=message):
        check_spec(_spec(tmp_path, **fields))


@pytest.mark.parametrize("target", ["/data", "/hive/state/project", "/opt/x", "/runs", "/procfs"])
def test_ordinary_targets_are_allowed(target: str) -> None:
    assert target_problem(target) is None


def test_log_rotates_keeps_backups_and_never_splits_a_line(tmp_path: Path) -> None:
    path = tmp_path / "harness.log"
    log = RotatingLog(path, max_bytes=50, backups=2)
    for index in range(40):
        log.write(f"line {index:02d}\n".encode())  # 8 bytes each: 6 lines a file
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["harness.log", "harness.log.1", "harness.log.2"]
    assert all(p.stat().st_size <= 50 for p in tmp_path.iterdir())
    assert all(p.read_text().endswith("\n") for p in tmp_path.iterdir())
    tail = tail_lines(path, 7)
    assert tail == [f"line {i:02d}" for i in range(33, 40)]
    assert core_tail_lines(path, 7) == tail
    assert tail_lines(path, 100)[0] == "line 24"  # 6 lines a file, 3 files: lines before 24 are gone


def test_a_line_longer_than_a_file_is_split(tmp_path: Path) -> None:
    path = tmp_path / "harness.log"
    log = RotatingLog(path, max_bytes=10, backups=5)
    log.write(b"x" * 25 + b"\n")
    log.close()
    assert "".join(tail_lines(path, 10)) == "x" * 25
    assert all(p.stat().st_size <= 10 for p in tmp_path.iterdir())


def test_log_appends_across_keepers(tmp_path: Path) -> None:
    path = tmp_path / "harness.log"
    for run in range(2):
        log = RotatingLog(path, max_bytes=1000)
        log.write(f"run {run}\n".encode())
        log.close()
    assert tail_lines(path, 5) == ["run 0", "run 1"]
