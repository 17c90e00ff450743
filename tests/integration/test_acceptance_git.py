"""The git connector passes the acceptance kit (dihub.testing.acceptance) over a
generated repository (tests/support/gitrepo.py). It speaks to no server, so the kill and
fault checks, which need one, are skipped by the kit."""

from __future__ import annotations

import subprocess

import pytest

from dihub.testing.acceptance import AcceptanceTests, Scenario
from tests.integration.conftest import git_config
from tests.support.gitrepo import generate, rev_count

REFS = ("--branches", "--remotes", "--tags")


def _people(repo) -> int:
    out = subprocess.run(["git", "-C", str(repo), "log", *REFS, "--format=%ae%n%ce"],
                         capture_output=True, text=True, check=True).stdout
    return len({line.strip().lower() for line in out.splitlines() if line.strip()})


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("repo") / "repo", 300, branch_every=40,
                    tag_every=100)


class TestGitAcceptance(AcceptanceTests):
    @pytest.fixture
    def scenario(self, repo):
        return Scenario(source="git", config=git_config(repo, batch_size=50),
                        expected={"commits": rev_count(repo, *REFS), "users": _people(repo)})
