"""GitRepo.contained: which ref tips a tip reaches. A first pass asks
`for-each-ref --merged`, a later one walks `rev-list tip --not known`: both must name
the same tips (branches merged or not, lightweight and annotated tags, a tag on a side
branch)."""

from __future__ import annotations

import subprocess

from dihub.connectors.git.client import GitRepo
from tests.support.gitrepo import generate


def _git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def _reaches(repo, tip: str, sha: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", sha, tip],
                          check=False).returncode == 0


def test_a_first_pass_and_a_later_one_name_the_same_tips(tmp_path):
    repo = generate(tmp_path / "repo", 400, branch_every=30, tag_every=70)
    side = _git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/").split()
    side = [b for b in side if b != "main"]
    _git(repo, "tag", "-a", "-m", "annotated on main", "annotated", "main~5")
    _git(repo, "tag", "-a", "-m", "annotated on a side branch", "side-tag", side[-1])
    _git(repo, "branch", "old", "main~100")
    git = GitRepo.open(repo)
    found = git.tips(None)
    tip = _git(repo, "rev-parse", "main")
    candidates = [s for s in found if s != tip]
    first = git.contained(tip, candidates, [])
    expected = {s for s in candidates if _reaches(repo, tip, s)}
    assert first == expected
    assert 0 < len(first) < len(candidates)       # some tips are inside, some are not
    assert _git(repo, "rev-parse", "annotated^{commit}") in first
    assert _git(repo, "rev-parse", "old") in first
    # a later pass: what `known` reaches is left out, the rest found by walking
    known = [_git(repo, "rev-parse", "main~150")]
    later = git.contained(tip, candidates, known)
    assert later == {s for s in expected if not _reaches(repo, known[0], s)}
    assert later < first
