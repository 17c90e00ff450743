"""What `sync` says and does in small corners: per-entity counts in the closing line, a
stream named twice runs once, a tag is not a branch, no store under a missing HOME."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.integration.conftest import git_config
from tests.support.gitrepo import generate


def _summary(stderr: str) -> str:
    return [ln for ln in stderr.splitlines() if ": synced " in ln][-1]


def test_closing_line_counts_each_entity(dihub, tmp_path):
    """25 authors wrote 73 commits: the line says 73 commits and 25 users, not "73 records
    ... 98 inserted"."""
    repo = generate(tmp_path / "repo", 73, branch_every=1000)
    dihub.write_config(git_config(repo))
    res = dihub.run("sync", "git", "commits", check_code=0)
    line = _summary(res.stderr)
    assert ": synced 73 commits in 1 partition(s) (1 ok); " in line
    assert "commits: 73 inserted, 0 updated, 0 unchanged" in line
    assert "users: 25 inserted" in line
    assert "records" not in line
    again = dihub.run("sync", "git", "commits", "--full-refresh", check_code=0)
    line = _summary(again.stderr)
    assert "synced 73 commits" in line and "commits: 0 inserted, 0 updated, 73 unchanged" in line


def test_a_stream_named_twice_runs_once(dihub, tmp_path):
    repo = generate(tmp_path / "repo", 12)
    dihub.write_config(git_config(repo))
    res = dihub.run("--log-format", "json", "sync", "git", "commits", "commits", check_code=0)
    docs = [json.loads(ln) for ln in res.stderr.splitlines()]
    assert sum("starting" in d["message"] for d in docs) == 1
    [summary] = [d for d in docs if d["event"] == "summary"]
    assert summary["partitions"] == {"ok": 1} and summary["records"] == 12
    runs = {m.run_id for m in dihub.store().query_metrics(source="git")}
    assert len(dihub.store().query_metrics(source="git")) == 1 and len(runs) == 1


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_tag_is_not_a_branch(dihub, tmp_path):
    """A commit only the tag `v1` reaches (its branch was deleted) has no branch and
    `tag: v1`; commits main also reaches keep `branch: main`; a re-sync writes nothing."""
    repo = generate(tmp_path / "repo", 20, tag_every=10)
    base = _git(repo, "rev-parse", "main~5")
    _git(repo, "checkout", "-q", "-b", "release", base)
    for i in range(3):
        (repo / "rel.txt").write_text(f"{i}\n")
        _git(repo, "add", "rel.txt")
        _git(repo, "-c", "user.name=R", "-c", "user.email=r@example.com", "commit", "-q",
             "-m", f"release fix {i}")
    _git(repo, "tag", "-a", "-m", "release 1", "v1")
    _git(repo, "checkout", "-q", "main")
    _git(repo, "branch", "-D", "release")
    only_tag = set(_git(repo, "rev-list", "v1", "^main").split())
    assert len(only_tag) == 3
    dihub.write_config(git_config(repo))
    dihub.run("sync", "git", "commits", check_code=0)
    docs = {d["commit_id"]: d for d in dihub.store().iter_records("commits", "git")}
    assert len(docs) == 23
    for sha in only_tag:
        assert docs[sha]["branch"] is None and docs[sha]["tag"] == "v1"
    rest = [d for s, d in docs.items() if s not in only_tag]
    assert {d["branch"] for d in rest} == {"main"}     # v10 on main does not claim them
    assert all("tag" not in d for d in rest)
    res = dihub.run("--log-format", "json", "sync", "git", "commits", "--full-refresh",
                    check_code=0)
    [summary] = [json.loads(ln) for ln in res.stderr.splitlines() if '"summary"' in ln]
    assert summary["inserted"] == summary["updated"] == 0 and summary["records"] == 23


def test_a_missing_home_is_refused_naming_store_uri(dihub, tmp_path):
    """HOME=/nonexistent (system users in cron) and no store.uri: exit 2 naming store.uri;
    nothing is created under the missing home."""
    repo = generate(tmp_path / "repo", 5)
    dihub.write_config(git_config(repo))
    home = tmp_path / "nonexistent"
    env = {k: v for k, v in dihub.env.items()
           if k not in ("DIHUB_STORE_URI", "XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    env["HOME"] = str(home)
    for args in (("sync", "git", "commits"), ("status",)):
        proc = subprocess.run(dihub.argv(*args), env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert f"{dihub.config}: store.uri: " in proc.stderr
        assert f"home folder {home}, which does not exist" in proc.stderr
        assert "DIHUB_STORE_URI" in proc.stderr and "Traceback" not in proc.stderr
        assert not home.exists()
    env["DIHUB_STORE_URI"] = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    proc = subprocess.run(dihub.argv("sync", "git", "commits"), env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not home.exists() and (tmp_path / "elsewhere.db").exists()
    assert os.path.getsize(tmp_path / "elsewhere.db") > 0
