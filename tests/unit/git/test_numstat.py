"""git commits carry their size from `git log --numstat` (no API call): files changed,
lines added and removed; binary files count as changed files without lines; merges have
no size of their own."""

from __future__ import annotations

import subprocess

from dihub.connectors.git.client import GitRepo
from dihub.connectors.git.normalize import normalize_commit


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=A", "-c", "user.email=a@x.example",
                    *args], check=True, capture_output=True)


def test_commit_sizes(tmp_path):
    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "f.txt").write_text("a\nb\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    _git(repo, "mv", "f.txt", "g.txt")                  # a rename: counted as delete + add
    (repo / "g.txt").write_text("a\nc\nd\n")
    (repo / "b.bin").write_bytes(b"\0bin")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "two\n\nwith a body\n2\t3\tnot a numstat line")
    _git(repo, "checkout", "-qb", "side", "HEAD~1")
    (repo / "s.txt").write_text("x\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "side")
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "empty")

    got = {c["message"].split("\n")[0]: (c.get("files_changed"), c.get("additions"),
                                         c.get("deletions"))
           for c in GitRepo.open(str(repo)).log(["main"], [])}
    assert got == {
        "one": (1, 2, 0),
        # f.txt: -2; g.txt: +3; b.bin: binary, no lines
        "two": (3, 3, 2),
        "side": (1, 1, 0),
        "merge side": (None, None, None),
        "empty": (0, 0, 0),
    }
    raw = next(c for c in GitRepo.open(str(repo)).log(["main"], [])
               if c["message"].startswith("two"))
    assert raw["message"] == "two\n\nwith a body\n2\t3\tnot a numstat line\n"
    commit = normalize_commit(raw, "git", "r")[0]
    assert (commit.files_changed, commit.additions, commit.deletions) == (3, 3, 2)
