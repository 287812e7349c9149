"""Config between nodes through the database: the approved commit travels as a git bundle stored with the
approval, and the agent's node deploys exactly that commit; a bundle is hostile input (size bounded, only the
agent's own ref at the approved sha, pack checked), refused with a clear reason and nothing half-deployed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hyperhive.config import AppliedRepo, BadBundle, ProposedRepo
from hyperhive.config.bundles import MAX_BUNDLE_BYTES, bundle_ref, import_bundle, make_bundle
from tests.config.helpers import commit_file, with_model


def sent_bundle(root: Path, edits: int = 1) -> tuple[bytes, str]:
    """A bundle made on the "sending" node: alice's proposed repo, a commit, imported and bundled."""
    proposed = ProposedRepo(root / "n1", "alice")
    proposed.seed("test agent")
    text = (proposed.path / "agent.toml").read_text()
    sha = ""
    for i in range(edits):
        sha = commit_file(proposed, with_model(text, f"claude-sonnet-4-{5 + i % 2}"), f"edit {i}")
    applied = AppliedRepo(root / "n1", "alice")
    applied.import_commit(proposed, sha)
    started = time.perf_counter()
    data = make_bundle(applied, sha)
    print(f"bundle of {edits + 1} commits: {len(data)} bytes in {(time.perf_counter() - started) * 1000:.1f} ms")
    return data, sha


def test_a_bundle_carries_the_commit_to_a_repo_that_never_saw_it(short_tmp: Path) -> None:
    data, sha = sent_bundle(short_tmp, edits=3)
    receiver = AppliedRepo(short_tmp / "n2", "alice")
    assert import_bundle(receiver, data, sha) == sha
    assert receiver.read_config_at(sha).name == "alice"  # the commit and its tree are whole on n2
    assert receiver.ref_sha(bundle_ref("alice")) is None  # unpacked under no ref: only a proposal tag names it


@pytest.mark.parametrize("tamper, words", [
    (lambda d, s: d[:-40], "corrupt"),  # a truncated pack
    (lambda d, s: d[:200] + bytes(b ^ 0xFF for b in d[200:260]) + d[260:], "corrupt"),  # flipped bytes in the pack
    (lambda d, s: d.replace(b"refs/hyperhive/config/alice", b"refs/hyperhive/config/bobby"), "outside the refs"),
    (lambda d, s: d.replace(b"refs/hyperhive/config/alice", b"refs/heads/main"), "not a ref of the form"),
    (lambda d, s: d.replace(b"\n\n", f"\n-{s} prerequisite\n\n".encode(), 1), "exactly one ref"),
    (lambda d, s: d.replace(b"# v2 git bundle", b"# v3 git bundle"), "not a v2 git bundle"),
    (lambda d, s: b"x" * (MAX_BUNDLE_BYTES + 1), "over the 8 MiB limit"),
])
def test_a_bad_bundle_is_refused_and_nothing_is_kept(short_tmp: Path, tamper: object, words: str) -> None:
    data, sha = sent_bundle(short_tmp)
    receiver = AppliedRepo(short_tmp / "n2", "alice")
    with pytest.raises(BadBundle, match=words):
        import_bundle(receiver, tamper(data, sha), sha)  # type: ignore[operator]
    assert not receiver.exists() or receiver.ref_sha(sha) is None  # nothing of it is in use


def test_a_bundle_for_another_commit_is_refused(short_tmp: Path) -> None:
    data, sha = sent_bundle(short_tmp)
    other = "0" * 40
    with pytest.raises(BadBundle, match="not the approved commit"):
        import_bundle(AppliedRepo(short_tmp / "n2", "alice"), data, other)
