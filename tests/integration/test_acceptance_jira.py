"""The Jira connector passes the acceptance kit (dihub.testing.acceptance) over its
simulator: a small Cloud site (issues, sprints, users)."""

from __future__ import annotations

import pytest

from dihub.testing.acceptance import AcceptanceTests, Scenario
from tests.simulators.jira import Dataset, JiraSimulator
from tests.simulators.jira.server import jira_faults
from tests.simulators.jira.testing import (
    FAST_RETRIES,
    TOKEN,
    TOKEN_ENV,
    config,
    credentials,
    secret_forms,
)


def _faults(sim: JiraSimulator):
    def set_rate(rate: float) -> None:
        sim.faults = jira_faults(rate, seed=3) if rate else None
    return set_rate


class TestJiraAcceptance(AcceptanceTests):
    @pytest.fixture
    def scenario(self):
        ds = Dataset.generate(120, sprints=6, boards=2, users=12, seed=5)
        with JiraSimulator(ds, credentials=credentials()) as sim:
            yield Scenario(source="jira", config=config(sim, top=FAST_RETRIES),
                           expected={"issues": len(ds.by_key), "sprints": len(ds.sprints),
                                     "users": len(ds.users)},
                           secrets=secret_forms(), env={TOKEN_ENV: TOKEN},
                           faults=_faults(sim), kill_at=sim.kill_at, requests=8)
