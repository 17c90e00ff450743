"""`dihub sync git commits` on real repositories: this project's own clone and generated ones."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from dihub.timeutil import to_iso
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
    """Committer times in UTC (git prints each in its committer's own offset)."""
    out = subprocess.run(["git", "-C", str(repo), "log", *REFS, "--format=%cI"],
                         capture_output=True, text=True, check=True).stdout
    return [to_iso(d) for d in out.split()]


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
    assert "would sync 50 commits" in res.stderr
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


def _commit(repo: Path, name: str, email: str, when: str, message: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
           "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", message],
                   env=env, check=True)


def _jsonl(dihub, *args: str) -> list[dict]:
    out = dihub.run("fetch", "git", *args, "--format", "jsonl", check_code=0).stdout
    return [json.loads(ln) for ln in out.splitlines()]


def test_users_since_finds_who_committed_since_then_with_no_churn(dihub, tmp_path):
    """Users carry updated_at = the latest commit time they were seen at; stable on re-syncs."""
    repo = generate(tmp_path / "repo", 120, branch_every=30, tag_every=60)
    # after the generated history: a newcomer, then a known dev with an older committer date
    _commit(repo, "New Dev", "New.Dev@Example.com", "2030-01-02T00:00:00Z", "late work")
    _commit(repo, "Dev 3", "dev3@example.com", "2030-01-01T00:00:00Z", "back-dated")
    _commit(repo, "New Dev", "new.dev@example.com", "2029-12-31T00:00:00Z", "earlier date")
    dihub.write_config(git_config(repo, batch_size=25))
    dihub.run("sync", "git", "commits", check_code=0)

    recent = _jsonl(dihub, "users", "--since", "2030-01-01")
    assert {(u["user_id"], u["updated_at"]) for u in recent} == {
        ("email:new.dev@example.com", "2030-01-02T00:00:00Z"),
        ("email:dev3@example.com", "2030-01-01T00:00:00Z")}
    older = _jsonl(dihub, "users", "--until", "2030-01-01")
    everyone = {u["user_id"] for u in _jsonl(dihub, "users")}
    assert len(older) + len(recent) == len(everyone) == 26
    assert all(u["updated_at"] < "2024" for u in older)

    again = summary_counts(dihub.run("sync", "git", "commits", check_code=0).stderr)
    assert (again["inserted"], again["updated"]) == (0, 0)
    full = summary_counts(dihub.run("sync", "git", "commits", "--full-refresh",
                                    check_code=0).stderr)
    assert (full["inserted"], full["updated"]) == (0, 0)     # not even batch by batch
    assert full["records"] == 123 and full["unchanged"] >= 123 + 26


def test_identities_without_email_stay_apart_and_commits_keep_them_as_written(dihub,
                                                                              tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    _commit(repo, "Alice", "", "2026-01-01T00:00:00Z", "one")
    _commit(repo, "Bob", "", "2026-01-02T00:00:00Z", "two")
    _commit(repo, "Carol", "Carol@Example.COM", "2026-01-03T00:00:00Z", "three")
    dihub.write_config(git_config(repo))
    dihub.run("sync", "git", "commits", check_code=0)

    users = {u["user_id"]: u for u in _jsonl(dihub, "users")}
    assert set(users) == {"name:Alice", "name:Bob", "email:carol@example.com"}
    assert users["name:Bob"]["display_name"] == "Bob" and users["name:Bob"]["email"] is None
    commits = {c["message"]: c for c in _jsonl(dihub, "commits")}
    assert [(c["author_id"], c["author_name"], c["author_email"], c["committer_name"],
             c["committer_email"]) for c in commits.values()] == [
        ("name:Alice", "Alice", None, "Alice", None),
        ("name:Bob", "Bob", None, "Bob", None),
        ("email:carol@example.com", "Carol", "Carol@Example.COM", "Carol", "Carol@Example.COM")]
    mine = _jsonl(dihub, "commits", "--where", "author_email=Carol@Example.COM")
    assert [c["message"] for c in mine] == ["three"]


def test_table_output_strips_terminal_control_sequences(dihub, tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    message = "paint \x1b[31mred\x1b[0m \x1b]0;title\x07done"
    _commit(repo, "Eve", "eve@example.com", "2026-01-01T00:00:00Z", message)
    dihub.write_config(git_config(repo))
    dihub.run("sync", "git", "commits", check_code=0)

    table = dihub.run("fetch", "git", "commits", check_code=0).stdout
    assert "paint red done" in table
    assert "\x1b" not in table and "\x07" not in table and "title" not in table
    assert [c["message"] for c in _jsonl(dihub, "commits")] == [message]   # stored as is
