"""The approved commit as a git bundle: how a config change reaches the node that runs the agent when it was
proposed on another (a hive over several hosts), through the database and never a shared filesystem.

`make_bundle` writes a v2 bundle (gitformat-bundle: a header naming one ref, then a pack) of one commit and
its whole history, taken from the sending node's applied repo; whole, so that it needs nothing the receiver
may lack. `import_bundle` treats what it reads as hostile: it bounds the size before touching the disk,
accepts only the exact header this module writes (one head: the agent's own ref, at the approval's commit;
no prerequisites), lets `git bundle verify` check it too, and unpacks the pack with `unpack-objects --strict`
(every object checked, every link resolved) into the applied repo under no ref. Only the caller's
`proposal/<id>` tag, made after this succeeds, makes the commit reachable: a refused bundle leaves nothing
that anything points to."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from ._git import git_out, run_git
from .applied import AppliedRepo
from .errors import BadBundle, GitFailed, TooLarge

# A config repo's whole history is a few KiB of text; this is far above any honest one and keeps a database
# row (and the receiving node's memory) bounded.
MAX_BUNDLE_BYTES = 8 * 1024 * 1024
_SIGNATURE = b"# v2 git bundle\n"
_MAX_HEADER = 4096
_HEAD = re.compile(rb"^([0-9a-f]{40}) (refs/hyperhive/config/[A-Za-z0-9._-]+)$")


def bundle_ref(agent: str) -> str:
    """The one ref a bundle for `agent` names (agent names are checked before they reach here)."""
    return f"refs/hyperhive/config/{agent}"


def make_bundle(applied: AppliedRepo, sha: str) -> bytes:
    """A bundle of commit `sha` (in the applied repo) and its history; TooLarge past MAX_BUNDLE_BYTES."""
    full = applied.resolve_commit(sha)
    pack = run_git(applied.git_dir(), "pack-objects", "--revs", "--stdout", "-q", stdin=f"{full}\n".encode()).stdout
    data = _SIGNATURE + f"{full} {bundle_ref(applied.name)}\n\n".encode() + pack
    if len(data) > MAX_BUNDLE_BYTES:
        raise TooLarge(f"commit {full[:12]} with its history is over {MAX_BUNDLE_BYTES // 2**20} MiB as a bundle "
                       f"({applied.where})")
    return data


def import_bundle(applied: AppliedRepo, data: bytes, sha: str) -> str:
    """Unpack the bundle's commit `sha` (the full sha the approval names) into the applied repo, under no ref;
    return it. Raises BadBundle, saying why, for anything but a bundle this hive made for this agent and sha."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BadBundle(f"the bundle is {len(data)} bytes, over the {MAX_BUNDLE_BYTES // 2**20} MiB limit")
    pack_at = _check_header(data, applied.name, sha)
    applied.ensure()
    git_dir = applied.git_dir()
    with tempfile.TemporaryDirectory(prefix="hh-bundle-") as tmp:
        path = Path(tmp) / "config.bundle"
        path.write_bytes(data)
        verified = run_git(git_dir, "bundle", "verify", "-q", str(path), check=False)
        if verified.returncode != 0:
            raise BadBundle(f"git bundle verify refused it: {_words(verified.stderr)}")
    unpacked = run_git(git_dir, "unpack-objects", "-q", "--strict", stdin=data[pack_at:], check=False)
    if unpacked.returncode != 0:
        raise BadBundle(f"its pack is corrupt: {_words(unpacked.stderr)}")
    try:
        kind = git_out(git_dir, "cat-file", "-t", sha)
    except GitFailed:
        raise BadBundle(f"it does not hold commit {sha[:12]}") from None
    if kind != "commit":
        raise BadBundle(f"{sha[:12]} is a {kind} in it, not a commit")
    return sha


def _check_header(data: bytes, agent: str, sha: str) -> int:
    """The offset of the pack after a header of exactly one head, `<sha> refs/hyperhive/config/<agent>`."""
    if not data.startswith(_SIGNATURE):
        raise BadBundle("it is not a v2 git bundle")
    end = data.find(b"\n\n", 0, _MAX_HEADER)
    if end < 0:
        raise BadBundle(f"its header does not end within {_MAX_HEADER} bytes")
    lines = data[len(_SIGNATURE):end].split(b"\n")
    if len(lines) != 1:
        raise BadBundle(f"it names {len(lines)} refs or prerequisites; a config bundle names exactly one ref")
    head = _HEAD.fullmatch(lines[0])
    if head is None:
        shown = lines[0][:80].decode("utf-8", "replace")
        raise BadBundle(f"its head {shown!r} is not a ref of the form <sha> refs/hyperhive/config/<agent>")
    if head[2].decode() != bundle_ref(agent):
        raise BadBundle(f"it names {head[2].decode()!r}, outside the refs of {agent!r}")
    if head[1].decode() != sha:
        raise BadBundle(f"it carries {head[1].decode()[:12]}, not the approved commit {sha[:12]}")
    if not data.startswith(b"PACK", end + 2):
        raise BadBundle("no pack follows its header")
    return end + 2


def _words(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text if len(text) <= 400 else text[:400] + "…"
