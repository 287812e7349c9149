"""The hive's runtime (the Python that runs the harness, its venv, the Claude Code CLI) is bound into every
sandbox read-only from the host; only the shared libraries it loads must come from the image. This finds
them (ldd over the interpreter, its extension modules and the CLI) and the Debian packages that own them
on the host, so the base image carries exactly those and the image never holds the hive itself."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

_LIB = re.compile(r"=>\s+(/\S+)|^\s*(/\S+)\s+\(")
_BATCH = 64


def runtime_files(extra: Iterable[Path] = ()) -> list[Path]:
    """The ELF files the harness may load: the interpreter, the standard library's extension modules (but
    Tk), the venv's, and `extra` (the Claude CLI)."""
    files = [Path(os.path.realpath(sys.executable))]
    for stdlib in Path(sys.base_prefix).glob("lib/python3*/lib-dynload"):
        files.extend(p for p in stdlib.glob("*.so") if not p.name.startswith("_tkinter"))  # no GUI in a sandbox
    for site in Path(sys.prefix).glob("lib/python3*/site-packages"):
        files.extend(p for p in site.rglob("*.so*") if p.is_file())
    files.extend(Path(os.path.realpath(p)) for p in extra)
    return sorted(set(files))


def shared_libraries(files: Iterable[Path]) -> set[str]:
    """Absolute paths of the shared libraries `files` load (ldd resolves the whole closure)."""
    found: set[str] = set()
    batch = [str(f) for f in files]
    for start in range(0, len(batch), _BATCH):
        done = subprocess.run(["ldd", *batch[start:start + _BATCH]], capture_output=True, text=True, check=False)
        for line in done.stdout.splitlines():
            match = _LIB.search(line)
            path = match and (match.group(1) or match.group(2))
            if path and not path.startswith(tuple(str(p) for p in _runtime_roots())):
                found.add(path)
    return found


def owning_packages(libraries: Iterable[str]) -> set[str]:
    """The Debian packages (names without architecture) that own `libraries` on this host; a library no
    package owns (the runtime's own, say) is skipped."""
    candidates: set[str] = set()
    for lib in libraries:
        real = os.path.realpath(lib)
        candidates |= {lib, real, re.sub(r"^/usr/", "/", real), "/usr" + real if not real.startswith("/usr/") else real}
    done = subprocess.run(["dpkg-query", "-S", *sorted(candidates)], capture_output=True, text=True, check=False)
    packages: set[str] = set()
    for line in done.stdout.splitlines():
        owners, _, _path = line.partition(": ")
        for owner in owners.split(", "):
            if not owner.startswith("diversion by"):
                packages.add(owner.split(":")[0].strip())
    return packages


@functools.lru_cache(maxsize=4)
def runtime_packages(cli: Path | None) -> tuple[str, ...]:
    """The packages the base image needs so the bound runtime runs in it (cached per process)."""
    files = runtime_files([cli] if cli else [])
    # A runtime installed under /usr (Debian's own python3, say) is hidden by the image's /usr: then the
    # packages holding it go into the image too, and the harness runs on the image's copy of it.
    in_usr = {str(f) for f in files if f.is_relative_to("/usr")}
    return tuple(sorted(owning_packages(shared_libraries(files) | in_usr)))


def _runtime_roots() -> tuple[Path, ...]:
    return (Path(sys.base_prefix), Path(sys.prefix))
