"""The git connector reads commit dates in UTC from git itself (`--date=format-local` with
TZ=UTC0): the same text timeutil.to_iso gives for git's own `%aI`/`%cI`, whatever offset
each author and committer wrote, across day and year boundaries."""

from __future__ import annotations

import os
import subprocess

from dihub.connectors.git.client import GitRepo
from dihub.timeutil import to_iso
from tests.support.gitrepo import generate

# (author date, committer date) as git stores them: local time and offset
EDGES = [("2025-12-31T23:30:00-12:00", "2026-01-01T05:00:00+14:00"),
         ("2024-02-29T00:10:00+05:45", "2024-02-28T20:00:00-09:30"),
         ("2026-03-29T02:30:00+01:00", "2026-10-25T02:30:00+02:00")]


def _git_dates(repo) -> dict[str, tuple[str, str]]:
    out = subprocess.run(["git", "-C", str(repo), "log", "--branches", "--tags",
                          "--format=%H %aI %cI"], capture_output=True, text=True,
                         check=True).stdout
    return {h: (to_iso(a), to_iso(c)) for h, a, c in (ln.split() for ln in out.splitlines())}


def test_commit_dates_are_git_s_own_in_utc(tmp_path, monkeypatch):
    repo = generate(tmp_path / "repo", 400, branch_every=100, tag_every=200)
    for author, committer in EDGES:
        subprocess.run(["git", "-C", str(repo), "-c", "user.name=Far Away", "-c",
                        "user.email=far@example.com", "commit", "-q", "--allow-empty",
                        "-m", f"at {author}"], check=True,
                       env={**os.environ, "GIT_AUTHOR_DATE": author,
                            "GIT_COMMITTER_DATE": committer})
    monkeypatch.setenv("TZ", "America/St_Johns")     # the caller's zone plays no part
    want = _git_dates(repo)
    branches = subprocess.run(["git", "-C", str(repo), "for-each-ref", "--format=%(refname)",
                               "refs/heads"], capture_output=True, text=True,
                              check=True).stdout.split()
    got = {c["sha"]: (c["authored_at"], c["committed_at"])
           for c in GitRepo.open(repo).log(branches, [])}
    assert got == want
    offsets = {a[19:] for a in subprocess.run(
        ["git", "-C", str(repo), "log", "--branches", "--format=%aI"], capture_output=True,
        text=True, check=True).stdout.split()}
    assert len(offsets) >= 10                        # the history has many zones
    last = GitRepo.open(repo).log(["main"], [])
    assert next(last)["authored_at"] == "2026-03-29T01:30:00Z"
