"""The Slack connector passes the acceptance kit (dihub.testing.acceptance) over its
simulator: a small workspace (channels, users, messages with thread replies)."""

from __future__ import annotations

import pytest

from dihub.testing.acceptance import AcceptanceTests, Scenario
from tests.simulators.slack import SlackSimulator, Workspace, slack_faults
from tests.simulators.slack.testing import TOKEN, TOKEN_ENV, config_yaml


def _faults(sim: SlackSimulator):
    def set_rate(rate: float) -> None:
        sim.faults = slack_faults(rate, seed=3) if rate else None
    return set_rate


class TestSlackAcceptance(AcceptanceTests):
    @pytest.fixture
    def scenario(self):
        ws = Workspace.generate(channels=3, messages=120, users=6, seed=21)
        counts = ws.counts()
        with SlackSimulator(ws) as sim:
            yield Scenario(source="slack", config=config_yaml(sim.api_url),
                           expected={"slack_events": counts["events"],
                                     "channels": len(ws.channels), "users": len(ws.users)},
                           secrets=[TOKEN], env={TOKEN_ENV: TOKEN},
                           faults=_faults(sim), kill_at=sim.kill_at, requests=20)
