"""Crash safety (SIGKILL mid-run, then rerun) and overlapping cron runs (lease)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.integration.conftest import Dihub, git_config, summary_counts
from tests.support.gitrepo import generate, rev_count

pytestmark = pytest.mark.slow

REFS = ("--branches", "--remotes", "--tags")


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("big") / "repo", 20_000)


def _snapshot(store) -> dict[str, dict[str, str]]:
    """Every stored record's signature, by entity and id (ingested_at excluded)."""
    return {entity: {d["_id"]: d["raw_signature"] for d in store.iter_records(entity, "git")}
            for entity in ("commits", "users")}


def _wait_for_store(d: Dihub, proc, pred, timeout=120.0):
    """Poll the running sync's store until pred(store) holds; None if the process ended first."""
    deadline = time.monotonic() + timeout
    store = None
    while time.monotonic() < deadline and proc.poll() is None:
        if store is None and d.db.exists():
            store = d.store()
        if store is not None and pred(store):
            return store
        time.sleep(0.02)
    return None


def test_sigkill_mid_run_then_rerun_equals_uninterrupted(big_repo, tmp_path):
    clean = Dihub(tmp_path / "clean")
    clean.write_config(git_config(big_repo, batch_size=500))
    clean.run("sync", "git", "commits", check_code=0)
    expected = _snapshot(clean.store())
    assert len(expected["commits"]) == rev_count(big_repo, *REFS) == 20_000

    crashed = Dihub(tmp_path / "crashed")
    crashed.write_config(git_config(big_repo, batch_size=500))
    proc = crashed.popen("sync", "git", "commits")
    store = _wait_for_store(crashed, proc, lambda s: s.count("commits", "git") >= 4000)
    assert store is not None, "the sync finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = store.count("commits", "git")
    assert 4000 <= partial < 20_000
    state = store.get_state("git", "commits", "*")
    assert state.cursor["done"] <= partial      # never past what was written

    # The killed run's lease is still recorded, but its process is gone: the rerun on the
    # same host takes the lease over at once instead of waiting for it to expire.
    assert store.get_state("git", "commits", "*").lease_owner
    rerun = crashed.run("sync", "git", "commits", check_code=0)
    counts = summary_counts(rerun.stderr)
    assert counts["records"] < 20_000           # resumed from the checkpoint, not from zero
    assert _snapshot(crashed.store()) == expected
    assert crashed.store().count("commits", "git") == 20_000


def test_overlapping_runs_one_works_other_exits_75(big_repo, tmp_path):
    d = Dihub(tmp_path)
    d.write_config(git_config(big_repo, batch_size=200))
    first = d.popen("sync", "git", "commits")
    store = _wait_for_store(d, first, lambda s: any(st.lease_owner for st in s.list_states()))
    assert store is not None, "the first run ended before taking its lease"
    holder = store.list_states("git")[0].lease_owner
    second = d.run("sync", "git", "commits")
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 75, second.stderr
    assert f"pid {first.pid}" in holder
    assert holder in second.stderr
    assert d.store().count("commits", "git") == 20_000
