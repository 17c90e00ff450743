"""A local Slack Web API simulator for integration tests and benchmarks.

    from tests.simulators.slack import SlackSimulator, Workspace, slack_faults

    ws = Workspace.generate(channels=3, messages=200, seed=7)
    with SlackSimulator(ws, faults=slack_faults(0.05)) as sim:
        ...  # point the connector's base_url at sim.api_url

See tests/simulators/slack/README.md.
"""

from .api import DEFAULT_SCOPES
from .data import BOT, DEPLOY_BOT, TEAM, Channel, Workspace, ts_of, us_of
from .server import SLACK_FAULT_KINDS, RateLimits, SlackSimulator, slack_faults

__all__ = ["BOT", "DEFAULT_SCOPES", "DEPLOY_BOT", "SLACK_FAULT_KINDS", "TEAM", "Channel",
           "RateLimits", "SlackSimulator", "Workspace", "slack_faults", "ts_of", "us_of"]
