"""Totals the upstream tells (`git rev-list --count` here) reach the progress output, and a
batch written while a signal waits is written and counted once."""

from __future__ import annotations

import json
import subprocess
import sys

from dihub.store.sqlite import SQLiteStore
from tests.integration.conftest import ROOT, git_config
from tests.integration.test_signals import SIGNAL_IN_WRITE
from tests.support.gitrepo import generate, rev_count


def test_git_reports_how_many_commits_a_pass_reads(dihub, tmp_path):
    repo = generate(tmp_path / "repo", 45, branch_every=10, tag_every=20)
    dihub.write_config(git_config(repo, batch_size=10))
    res = dihub.run("--log-format", "json", "sync", "git", "commits", check_code=0)
    docs = [json.loads(ln) for ln in res.stderr.splitlines()]
    [total] = [d for d in docs if "to read" in d["message"]]
    expected = rev_count(repo, "--branches", "--tags")
    assert total["total"] == expected and total["partition"] == "git/commits"
    assert total["message"] == f"git/commits: {expected} commits to read"
    # only what is new is counted the next time
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=N", "-c", "user.email=n@x",
                    "commit", "-q", "--allow-empty", "-m", "one more"], check=True)
    res = dihub.run("--log-format", "json", "sync", "git", "commits", check_code=0)
    [total] = [json.loads(ln) for ln in res.stderr.splitlines() if "to read" in ln]
    assert total["total"] == 1


def test_a_batch_written_as_a_signal_arrives_is_not_written_again(tmp_path):
    """The signal waits for the write; the stop's own flush must not write the same batch a
    second time (it was audited twice, counted as unchanged)."""
    db = tmp_path / "s.db"
    proc = subprocess.run([sys.executable, "-c", SIGNAL_IN_WRITE.format(sig="INT"), str(db)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130, proc.stderr
    store = SQLiteStore(db)
    batches = [a for a in store.query_audit(source="src") if a.action == "batch"]
    assert len(batches) == 3 and sum(a.records for a in batches) == 30
    [metrics] = store.query_metrics(source="src")
    assert (metrics.inserted, metrics.unchanged) == (30, 0)
