"""The GitHub connector passes the acceptance kit (dihub.testing.acceptance) over its
simulator: one small repository, every default stream."""

from __future__ import annotations

import pytest

from dihub.testing.acceptance import AcceptanceTests, Scenario
from tests.simulators.github import Dataset, Faults, GitHubSimulator
from tests.support.github import TOKEN, TOKEN_ENV, expected, github_config

REPOS = ("octo-org/repo-a",)


def _faults(sim: GitHubSimulator):
    def set_rate(rate: float) -> None:
        sim.faults = Faults(rate=rate, seed=3, retry_after=0) if rate else None
    return set_rate


class TestGitHubAcceptance(AcceptanceTests):
    @pytest.fixture
    def scenario(self):
        data = Dataset.generate(REPOS, commits_per_repo=60, prs_per_repo=15, issues_per_repo=15,
                                runs_per_repo=8, seed=4)
        with GitHubSimulator(data, rate_limit=100_000) as sim:
            yield Scenario(source="github", config=github_config(sim.api_url, REPOS),
                           expected=expected(data, REPOS)["counts"], secrets=[TOKEN],
                           env={TOKEN_ENV: TOKEN}, faults=_faults(sim), kill_at=sim.kill_at,
                           requests=8)
