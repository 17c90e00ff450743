"""The `github` connector: github.com and GitHub Enterprise Server over the REST API.

Streams: commits, pull_requests, issues, workflow_runs (→ builds); each also emits the
users it mentions. Login: `dihub auth <source>` (OAuth device flow or --with-token),
or a token in the environment variable named by `token_env`.
"""

from __future__ import annotations

from dihub.connectors.base import Connector
from dihub.connectors.github.auth import GitHubAuth
from dihub.connectors.github.client import GitHubSession
from dihub.connectors.github.config import GitHubConfig
from dihub.connectors.github.streams import STREAMS

connector = Connector(
    name="github",
    description="GitHub and GitHub Enterprise Server (REST): commits, pull requests, issues "
                "and Actions workflow runs.",
    config_model=GitHubConfig,
    streams=STREAMS,
    auth=GitHubAuth(),
    session=GitHubSession,
)

__all__ = ["GitHubConfig", "connector"]
