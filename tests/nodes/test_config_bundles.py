"""Config between nodes through the database: the approved commit travels as a git bundle stored with the
approval, and the agent's node deploys exactly that commit; a bundle is hostile input (size bounded, only the
agent's own ref at the approved sha, pack checked), refused with a clear reason and nothing half-deployed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from hyperhive.config import HOST_TOML, AppliedRepo, BadBundle, ProposedRepo, TagKind
from hyperhive.config.bundles import MAX_BUNDLE_BYTES, bundle_ref, import_bundle, make_bundle
from hyperhive.core.hive import Hive
from hyperhive.core.states import ObservedState
from hyperhive.protocol import MANAGER_NAME
from hyperhive.store import ApprovalRecord, Store
from tests.config.helpers import commit_file, with_model
from tests.support.configs import commit_agent_toml
from tests.support.hive import settings_for
from tests.support.postgres import PostgresServer


async def test_a_bundle_is_stored_with_its_approval_on_both_backends(store: Store) -> None:
    record = await store.add_approval("apply_commit", "alice", "hm1nd", commit_ref="abc1234", fetched_sha="a" * 40,
                                      description="", payload={}, status="pending", at=1.0, node="n2")
    assert record.node == "n2" and await store.get_approval_bundle(record.id) is None
    raw = bytes(range(256)) * 4  # binary, with NULs: stored as bytes, not text
    await store.put_approval_bundle(record.id, "a" * 40, raw)
    await store.put_approval_bundle(record.id, "b" * 40, raw[::-1])  # a second put replaces the first
    assert await store.get_approval_bundle(record.id) == ("b" * 40, raw[::-1])
    await store.drop_approval_bundle(record.id)
    assert await store.get_approval_bundle(record.id) is None
    resolved = await store.resolve_approval(record.id, "approved", None, 2.0)
    assert resolved is not None and resolved.node == "n2"


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
    data, _ = sent_bundle(short_tmp)
    other = "0" * 40
    with pytest.raises(BadBundle, match="not the approved commit"):
        import_bundle(AppliedRepo(short_tmp / "n2", "alice"), data, other)


# --- two nodes on one PostgreSQL database, each with its own state dir ---------------------------------

AGENT = """name = "alice"
description = "a test agent"
role = "agent"
model = "{model}"
allowed_recipients = []

[restart]
delay_seconds = 0.2
max_restarts = 3
window_seconds = 60
stop_timeout_seconds = 5
"""
OLD, NEW = "claude-sonnet-4-5", "claude-opus-4-1"


@pytest.fixture
async def nodes(short_tmp: Path, postgres_server: PostgresServer) -> AsyncIterator[tuple[Hive, Hive]]:
    """n2 runs alice (spawned there); n1, where the manager edits alice's config, started after."""
    url = postgres_server.new_database()
    async with AsyncExitStack() as stack:
        n2 = await stack.enter_async_context(Hive(settings_for(short_tmp / "n2", database=url, node="n2")))
        await n2.deployments.spawn_now("alice", "a test agent", AGENT.format(model=OLD))
        n1 = await stack.enter_async_context(Hive(settings_for(short_tmp / "n1", database=url, node="n1")))
        try:
            yield n1, n2
        finally:
            await n2.supervisor.stop_agent("alice")


async def propose_on_n1(n1: Hive) -> tuple[ApprovalRecord, str]:
    """What hm1nd on n1 does: commit in its proposed repo of alice (on n1's disk only) and ask to apply it."""
    ProposedRepo(n1.settings.state_dir, "alice").init_from_template(AGENT.format(model=OLD))
    sha = commit_agent_toml(n1.settings.state_dir, "alice", AGENT.format(model=NEW), "a bigger model")
    record = await n1.deployments.request_apply_commit(MANAGER_NAME, "alice", sha, "a bigger model")
    assert (record.status, record.node) == ("pending", "n2"), record
    return record, sha


async def finished(hive: Hive, approval_id: int) -> ApprovalRecord:
    """The approval once its work is done, woken by the node's change feed (never a blind sleep)."""
    changes = hive.registry.changes.subscribe()
    try:
        async with asyncio.timeout(90):
            while (row := await hive.store.get_approval(approval_id)) is None or row.done_at is None:
                await changes.next_batch()
            return row
    finally:
        changes.close()


@pytest.mark.parametrize("approver", ["n1", "n2"])
async def test_a_change_proposed_on_n1_and_approved_on_either_is_deployed_by_n2(
        nodes: tuple[Hive, Hive], approver: str) -> None:
    n1, n2 = nodes
    before = AppliedRepo(n2.settings.state_dir, "alice").deployed_sha()
    record, sha = await propose_on_n1(n1)
    stored = await n1.store.get_approval_bundle(record.id)
    assert stored is not None and stored[0] == sha  # the commit travels with the approval, in the database
    assert not AppliedRepo(n2.settings.state_dir, "alice").has_commit(sha)  # n2 has never seen it
    await (n1 if approver == "n1" else n2).approvals.approve(record.id)  # one row update; only n2 deploys
    done = await finished(n2, record.id)
    assert (done.status, done.note) == ("approved", f"deployed {sha[:12]}"), done
    on_n2 = AppliedRepo(n2.settings.state_dir, "alice")
    assert on_n2.deployed_sha() == sha != before and TagKind.DEPLOYED in on_n2.marks(record.id)
    assert (await n2.configs.config_of("alice")).model == NEW  # alice runs the new config, on n2
    assert AppliedRepo(n1.settings.state_dir, "alice").deployed_sha() is None  # n1 deployed nothing
    assert (await n1.store.get_agent("alice")).deployed_sha == sha  # type: ignore[union-attr]
    assert await n1.store.get_approval_bundle(record.id) is None  # dropped once deployed


@pytest.mark.parametrize("spoil, words", [
    (lambda data: data[:-64], "its pack is corrupt"),
    (lambda data: data + b"\0" * MAX_BUNDLE_BYTES, "over the 8 MiB limit"),
])
async def test_a_corrupt_or_oversized_bundle_is_refused_and_nothing_is_deployed(
        nodes: tuple[Hive, Hive], spoil: Callable[[bytes], bytes], words: str) -> None:
    n1, n2 = nodes
    on_n2 = AppliedRepo(n2.settings.state_dir, "alice")
    before, approved_at = on_n2.deployed_sha(), time.monotonic()
    record, sha = await propose_on_n1(n1)
    stored = await n1.store.get_approval_bundle(record.id)
    assert stored is not None
    await n1.store.put_approval_bundle(record.id, sha, spoil(stored[1]))  # what a hostile writer could store
    await n1.approvals.approve(record.id)
    done = await finished(n2, record.id)
    assert done.status == "failed" and done.note is not None, done
    assert f"the config bundle of approval #{record.id} is refused" in done.note and words in done.note
    assert on_n2.deployed_sha() == before and on_n2.marks(record.id) == frozenset()  # nothing names it
    assert (await n2.configs.config_of("alice")).model == OLD
    assert n2.registry.observed_state("alice") is ObservedState.RUNNING
    assert n2.registry.connected_since("alice", 0) and not n2.registry.connected_since("alice", approved_at)


async def test_a_change_approved_while_n2_is_down_is_deployed_when_it_is_back(
        short_tmp: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database()
    n2_settings = settings_for(short_tmp / "n2", database=url, node="n2")
    async with Hive(n2_settings) as n2:
        await n2.deployments.spawn_now("alice", "a test agent", AGENT.format(model=OLD))
    async with Hive(settings_for(short_tmp / "n1", database=url, node="n1")) as n1:
        record, sha = await propose_on_n1(n1)
        await n1.approvals.approve(record.id)
        await n1.approvals.drained()
        waiting = await n1.store.get_approval(record.id)
        assert waiting is not None and (waiting.status, waiting.done_at) == ("approved", None)  # n1 left it to n2
        async with Hive(n2_settings) as n2:  # back: resumes the work naming it
            try:
                done = await finished(n2, record.id)
                assert (done.status, done.note) == ("approved", f"deployed {sha[:12]}"), done
                assert AppliedRepo(n2.settings.state_dir, "alice").deployed_sha() == sha
            finally:
                await n2.supervisor.stop_agent("alice")


async def test_the_agents_node_checks_the_change_against_its_own_host_policy(nodes: tuple[Hive, Hive]) -> None:
    """n1 (no host.toml) accepts the bigger model; n2's host.toml does not allow it: n2 refuses to deploy."""
    n1, n2 = nodes
    (n2.settings.state_dir / HOST_TOML).write_text(f'allowed_models = ["{OLD}"]\n')
    on_n2 = AppliedRepo(n2.settings.state_dir, "alice")
    before = on_n2.deployed_sha()
    record, _ = await propose_on_n1(n1)
    await n1.approvals.approve(record.id)
    done = await finished(n2, record.id)
    assert done.status == "failed" and f"model: {NEW!r} is not allowed on this host" in (done.note or ""), done
    assert on_n2.deployed_sha() == before and on_n2.marks(record.id) == frozenset()
    assert (await n2.configs.config_of("alice")).model == OLD


async def test_on_one_node_no_bundle_is_made(hive: Hive) -> None:
    """SQLite, one node: the agent's node is the proposing one, so the change deploys as before, bundle-less."""
    await hive.deployments.spawn_now("alice", "a test agent", AGENT.format(model=OLD))
    try:
        sha = commit_agent_toml(hive.settings.state_dir, "alice", AGENT.format(model=NEW), "a bigger model")
        record = await hive.deployments.request_apply_commit(MANAGER_NAME, "alice", sha, "a bigger model")
        assert record.node == hive.settings.node and await hive.store.get_approval_bundle(record.id) is None
        await hive.approvals.approve(record.id)
        await hive.approvals.drained()
        done = await hive.store.get_approval(record.id)
        assert done is not None and (done.status, done.note) == ("approved", f"deployed {sha[:12]}"), done
    finally:
        await hive.supervisor.stop_agent("alice")
