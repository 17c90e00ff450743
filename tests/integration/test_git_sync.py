"""`dihub sync git commits` on real repositories: this project's own clone and generated ones."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, git_config, summary_counts
from tests.support.gitrepo import generate, rev_count

REFS = ("--branches", "--remotes", "--tags")


def _fresh_clone(tmp_path: Path) -> Path:
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                      capture_output=True).returncode != 0:
        pytest.skip("the project is not a git checkout with commits")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-local", str(ROOT), str(clone)], check=True)
    return clone


def _commit_dates(repo: Path) -> list[str]:
    out = subprocess.run(["git", "-C", str(repo), "log", *REFS, "--format=%cI"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def test_own_history_sync_is_exact_then_idempotent(dihub, tmp_path):
    clone = _fresh_clone(tmp_path)
    expected = rev_count(clone, *REFS)
    dihub.write_config(git_config(clone))

    first = dihub.run("sync", "git", "commits", check_code=0)
    store = dihub.store()
    assert store.count("commits", "git") == expected
    users = store.count("users", "git")
    assert users >= 1
    assert summary_counts(first.stderr)["inserted"] == expected + users

    again = dihub.run("sync", "git", "commits", check_code=0)
    c = summary_counts(again.stderr)
    assert c["inserted"] == 0 and c["updated"] == 0

    full = dihub.run("sync", "git", "commits", "--full-refresh", check_code=0)
    c = summary_counts(full.stderr)
    assert (c["inserted"], c["updated"]) == (0, 0)
    assert c["unchanged"] == expected + users
    assert store.count("commits", "git") == expected

    out = dihub.run("fetch", "git", "commits", "--format", "jsonl", check_code=0).stdout
    lines = out.splitlines()
    assert len(lines) == expected
    shas = {json.loads(ln)["commit_id"] for ln in lines}
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert head in shas and len(shas) == expected


def test_since_filters_on_commit_time(dihub, tmp_path):
    repo = generate(tmp_path / "repo", 300, branch_every=100, tag_every=150)
    dihub.write_config(git_config(repo))
    dihub.run("sync", "git", "commits", check_code=0)
    dates = sorted(_commit_dates(repo))
    since = dates[len(dates) // 2][:19]        # an exact commit time: inclusive
    want = sum(1 for d in dates if d[:19] >= since)
    out = dihub.run("fetch", "git", "commits", "--since", since, "--format", "jsonl",
                    check_code=0).stdout
    got = [json.loads(ln) for ln in out.splitlines()]
    assert len(got) == want
    assert all(r["timestamp"] >= since + "Z" for r in got)
    until = dihub.run("fetch", "git", "commits", "--until", since, "--format", "jsonl",
                      check_code=0).stdout
    assert len(until.splitlines()) == len(dates) - want


def test_incremental_sync_picks_up_only_new_commits(dihub, tmp_path):
    repo = generate(tmp_path / "repo", 200, branch_every=50)
    dihub.write_config(git_config(repo))
    dihub.run("sync", "git", "commits", check_code=0)
    for i in range(3):
        subprocess.run(["git", "-C", str(repo), "-c", "user.name=New Dev", "-c",
                        "user.email=new@example.com", "commit", "-q", "--allow-empty", "-m",
                        f"new {i}"], check=True)
    res = dihub.run("sync", "git", "commits", check_code=0)
    c = summary_counts(res.stderr)
    assert c["records"] == 3
    assert c["inserted"] == 4          # 3 commits + the new user
    assert dihub.store().count("commits", "git") == rev_count(repo, *REFS) == 203


def test_configured_branches_only(dihub, tmp_path):
    repo = generate(tmp_path / "repo", 300, branch_every=100)
    dihub.write_config(git_config(repo).replace("repo:", "branches: [main]\n    repo:"))
    dihub.run("sync", "git", "commits", check_code=0)
    assert dihub.store().count("commits", "git") == rev_count(repo, "main")
    assert rev_count(repo, "main") < rev_count(repo, *REFS)


def test_bare_clone(dihub, tmp_path):
    repo = generate(tmp_path / "repo", 120, branch_every=40)
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    dihub.write_config(git_config(bare))
    dihub.run("sync", "git", "commits", check_code=0)
    assert dihub.store().count("commits", "git") == rev_count(bare, *REFS)
    doc = next(dihub.store().iter_records("commits", "git"))
    assert doc["repo"] == "bare"


def test_dry_run_writes_nothing(dihub, tmp_path):
    repo = generate(tmp_path / "repo", 50)
    dihub.write_config(git_config(repo))
    res = dihub.run("sync", "git", "commits", "--dry-run", check_code=0)
    assert "would sync 50 records" in res.stderr
    store = dihub.store()
    assert store.count("commits", "git") == 0
    assert store.list_states("git") == []


def test_branch_names_the_default_branch_on_its_own_history(dihub, tmp_path):
    """Tags and merged branches on main's history must not claim main's commits."""
    repo = generate(tmp_path / "repo", 60, branch_every=10, tag_every=20)
    subprocess.run(["git", "-C", str(repo), "branch", "alias-of-main", "main"], check=True)
    dihub.write_config(git_config(repo))
    dihub.run("sync", "git", "commits", check_code=0)
    branch_of = {d["commit_id"]: d["branch"] for d in dihub.store().iter_records("commits")}
    on_main = subprocess.run(["git", "-C", str(repo), "rev-list", "main"], capture_output=True,
                             text=True, check=True).stdout.split()
    assert {branch_of[s] for s in on_main} == {"main"}
    others = set(branch_of) - set(on_main)
    assert others and all(branch_of[s].startswith("feature/") for s in others)
    assert len(branch_of) == rev_count(repo, *REFS)
