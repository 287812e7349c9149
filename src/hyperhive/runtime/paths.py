"""Host paths a sandbox needs to see read-only: the system's, and the ones that run this Python."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hyperhive

# Top-level system dirs: shown as they are on the host (on a merged-/usr host /bin, /lib… are symlinks
# into /usr, and stay symlinks inside).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The bits of /etc that programs need to resolve names and users, verify TLS, and find libraries.
SYSTEM_ETC = (
    "/etc/alternatives", "/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/resolv.conf", "/etc/hosts",
    "/etc/host.conf", "/etc/gai.conf", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/ld.so.cache",
    "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/mime.types",
)


def python_paths() -> tuple[Path, ...]:
    """What a sandbox must see to run this interpreter with this hyperhive: the venv, the base install it
    links to, and the source tree of an editable install. Pass them as `SandboxSpec.ro_paths`."""
    found: list[Path] = []
    package_root = Path(os.path.realpath(hyperhive.__file__)).parent.parent
    for path in (Path(sys.prefix), Path(os.path.realpath(sys.base_prefix)), package_root):
        if not any(path == seen or path.is_relative_to(seen) for seen in found):
            found = [seen for seen in found if not seen.is_relative_to(path)]
            found.append(path)
    return tuple(found)
