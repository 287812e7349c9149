"""What a command inside a bwrap sandbox sees: one sandbox runs a probe script once per module and writes
what it found to its state dir; each test checks one promise of docs/runtime.md against it."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hyperhive.runtime import Mount, SandboxSpec, SandboxSpecError
from hyperhive.runtime.bwrap import BwrapRuntime
from hyperhive.runtime.local import LocalConfig
from hyperhive.runtime.paths import python_paths
from tests.support.needs import require_bwrap

from .conftest import PYTHON, SpecFactory

pytestmark = pytest.mark.bwrap

PROBE = r"""
import errno, json, os, socket
facts = {"pid": os.getpid(), "cwd": os.getcwd(), "env": dict(os.environ), "hostname": socket.gethostname()}
facts["pid1"] = open("/proc/1/cmdline", "rb").read().split(b"\0")[0].decode()
facts["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
facts["root"] = sorted(os.listdir("/"))
facts["etc"] = sorted(os.listdir("/etc"))
facts["host_home"] = sorted(os.listdir(HOST_HOME)) if os.path.isdir(HOST_HOME) else None
facts["tmp"] = sorted(os.listdir("/tmp"))
facts["outside_marker"] = os.path.exists(OUTSIDE)
facts["caps"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
facts["net"] = sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:])
def attempt(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
facts["write_home"] = attempt("/hive/state/written")
facts["write_usr"] = attempt("/usr/hh-probe")
facts["write_root"] = attempt("/hh-probe")
facts["write_sockets"] = attempt("/run/hive/hh-probe")
facts["write_tmp"] = attempt("/tmp/hh-probe")
facts["write_ro_mount"] = attempt("/data/ro/new")
facts["write_rw_mount"] = attempt("/data/rw/new")
facts["read_ro_mount"] = open("/data/ro/hello.txt").read()
s = socket.socket(socket.AF_UNIX)
s.connect("/run/hive/mcp.sock")
facts["socket_reply"] = s.recv(100).decode()
with open("/hive/state/facts.json", "w") as f:
    json.dump(facts, f)
"""
ENV = {"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin", "HH_GIVEN": "exactly this", "EMPTY": ""}


def _serve_one_hello(path: Path) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(30)

    def serve() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"hello from the host")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def probe() -> Iterator[dict[str, Any]]:
    require_bwrap()
    root = Path(tempfile.mkdtemp(prefix="hh-", dir="/tmp"))
    try:
        yield asyncio.run(_run_probe(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def _run_probe(root: Path) -> dict[str, Any]:
    (root / "outside.txt").write_text("the sandbox must not see this")
    (root / "ro").mkdir()
    (root / "ro" / "hello.txt").write_text("read me")
    (root / "rw").mkdir()
    sockets = root / "run" / "agents" / "probe"
    sockets.mkdir(parents=True)
    server = _serve_one_hello(sockets / "mcp.sock")
    state = root / "state" / "probe"
    script = PROBE.replace("HOST_HOME", repr(str(Path.home()))).replace("OUTSIDE", repr(str(root / "outside.txt")))
    spec = SandboxSpec(name="probe", argv=(PYTHON, "-c", script), state_dir=state, socket_dir=sockets,
                       log_path=root / "logs" / "harness.log", env=ENV, ro_paths=python_paths(),
                       mounts=(Mount(root / "ro", "/data/ro"), Mount(root / "rw", "/data/rw", writable=True)))
    runtime = BwrapRuntime(LocalConfig(root / "run"))
    handle = await runtime.create(spec)
    await runtime.start(handle)
    ended = await asyncio.wait_for(runtime.wait_exit(handle), 30)
    server.join(5)
    log = "\n".join(await runtime.logs(handle, 30))
    assert ended.returncode == 0, f"the probe failed ({ended.describe()}):\n{log}"
    facts: dict[str, Any] = json.loads((state / "facts.json").read_text())
    facts["host_rw_file"] = (root / "rw" / "new").read_text() if (root / "rw" / "new").exists() else None
    await runtime.destroy(handle)
    return facts


def test_state_dir_is_home_cwd_and_writable(probe: dict[str, Any]) -> None:
    assert probe["write_home"] == "ok"
    assert probe["cwd"] == "/hive/state"
    assert probe["env"]["HOME"] == "/hive/state"


def test_system_dirs_and_root_are_read_only(probe: dict[str, Any]) -> None:
    assert probe["write_usr"] == "EROFS"
    assert probe["write_root"] == "EROFS"


def test_nothing_else_of_the_host_is_visible(probe: dict[str, Any]) -> None:
    allowed_top = {"bin", "data", "dev", "etc", "hive", "lib", "lib32", "lib64", "libx32", "proc", "run", "sbin", "tmp",
                   "usr"}  # data: the test's own bind mounts
    allowed_top |= {path.parts[1] for path in python_paths()}  # the venv and the interpreter, read-only
    assert set(probe["root"]) <= allowed_top
    assert "shadow" not in probe["etc"] and "passwd" in probe["etc"]
    assert probe["outside_marker"] is False
    home = Path.home()
    visible_in_home = {p.relative_to(home).parts[0] for p in python_paths() if p.is_relative_to(home)}
    assert set(probe["host_home"] or []) == visible_in_home, "only what ro_paths name may show in the host home"


def test_tmp_is_private_and_writable(probe: dict[str, Any]) -> None:
    # Read-only paths that live under the host's /tmp (a checkout in /tmp) show as their mount points only.
    mount_points = {p.parts[2] for p in python_paths() if p.is_relative_to("/tmp") and len(p.parts) > 2}
    assert set(probe["tmp"]) <= mount_points
    assert probe["write_tmp"] == "ok"
    assert not Path("/tmp/hh-probe").exists()


def test_own_pid_namespace_and_no_capabilities(probe: dict[str, Any]) -> None:
    assert probe["pid"] == 2  # bwrap's init is pid 1
    assert probe["pid1"].endswith("bwrap")
    assert len(probe["pids"]) <= 3
    assert int(probe["caps"], 16) == 0
    assert probe["hostname"] == "h-probe"


def test_socket_dir_is_connectable_and_read_only(probe: dict[str, Any]) -> None:
    assert probe["socket_reply"] == "hello from the host"
    assert probe["write_sockets"] == "EROFS"


def test_environment_is_exactly_the_spec_plus_home(probe: dict[str, Any]) -> None:
    # bwrap itself sets PWD when it changes to the home.
    assert probe["env"] == {**ENV, "HOME": "/hive/state", "PWD": "/hive/state"}


def test_private_network_has_only_loopback(probe: dict[str, Any]) -> None:
    assert probe["net"] == ["lo"]


def test_bind_mounts_ro_and_rw(probe: dict[str, Any]) -> None:
    assert probe["read_ro_mount"] == "read me"
    assert probe["write_ro_mount"] == "EROFS"
    assert probe["write_rw_mount"] == "ok"
    assert probe["host_rw_file"] == "x"


async def test_host_network_shares_the_hosts_interfaces(bwrap_runtime: BwrapRuntime, make_spec: SpecFactory) -> None:
    host_interfaces = sorted(line.split(":")[0].strip() for line in Path("/proc/net/dev").read_text().splitlines()[2:])
    script = "print(sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]))"
    handle = await bwrap_runtime.create(make_spec([PYTHON, "-c", script], network="host"))
    await bwrap_runtime.start(handle)
    assert (await bwrap_runtime.wait_exit(handle)).returncode == 0
    assert str(host_interfaces) in await bwrap_runtime.logs(handle, 5)


@pytest.mark.parametrize("target", ["/", "/run/hive", "/run/hive/x", "/proc", "/sys/fs", "/dev/shm", "/hive",
                                    "/hive/state", "//proc/x", "relative", "/a/../proc"])
async def test_reserved_mount_targets_are_refused(
    bwrap_runtime: BwrapRuntime, make_spec: SpecFactory, short_tmp: Path, target: str
) -> None:
    spec = make_spec(["/bin/true"], mounts=(Mount(short_tmp, target),))
    with pytest.raises(SandboxSpecError, match="mounts\\[0\\] target"):
        await bwrap_runtime.create(spec)
    assert not (short_tmp / "run" / "sandboxes" / "alice").exists()


async def test_mount_inside_home_is_allowed(
    bwrap_runtime: BwrapRuntime, make_spec: SpecFactory, short_tmp: Path
) -> None:
    (short_tmp / "project").mkdir()
    (short_tmp / "project" / "README").write_text("project file")
    project = Mount(short_tmp / "project", "/hive/state/project")
    spec = make_spec(["/bin/cat", "/hive/state/project/README"], mounts=(project,))
    handle = await bwrap_runtime.create(spec)
    await bwrap_runtime.start(handle)
    assert (await bwrap_runtime.wait_exit(handle)).returncode == 0
    assert "project file" in await bwrap_runtime.logs(handle, 5)
