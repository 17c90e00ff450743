"""The GitLab connector passes the acceptance kit (dihub.testing.acceptance) over its
simulator: one small project, every default stream."""

from __future__ import annotations

import pytest

from dihub.testing.acceptance import AcceptanceTests, Scenario
from tests.simulators.gitlab import Dataset, Faults, GitLabSimulator
from tests.support.gitlab import TOKEN, TOKEN_ENV, expected, gitlab_config

PROJECTS = ("group-a/sub/project-a",)


def _faults(sim: GitLabSimulator):
    def set_rate(rate: float) -> None:
        sim.faults = Faults(rate=rate, seed=3, retry_after=0) if rate else None
    return set_rate


class TestGitLabAcceptance(AcceptanceTests):
    @pytest.fixture
    def scenario(self):
        data = Dataset.generate(PROJECTS, commits_per_project=60, mrs_per_project=15,
                                issues_per_project=15, pipelines_per_project=8, seed=4)
        with GitLabSimulator(data, rate_limit=100_000) as sim:
            yield Scenario(source="gitlab", config=gitlab_config(sim.base_url, PROJECTS),
                           expected=expected(data, PROJECTS)["counts"], secrets=[TOKEN],
                           env={TOKEN_ENV: TOKEN}, faults=_faults(sim), kill_at=sim.kill_at,
                           requests=16)
