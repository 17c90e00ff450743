"""The `gitlab` connector: gitlab.com and self-managed GitLab over the REST API (v4).

Streams: commits, merge_requests (-> pull_requests), issues, pipelines (-> builds) and,
when asked for, jobs; each also emits the users it mentions. Login: `dihub auth <source>`
(OAuth device flow or --with-token), or a token in the variable named by `token_env`.
"""

from __future__ import annotations

from dihub.connectors.base import Connector
from dihub.connectors.gitlab.auth import GitLabAuth
from dihub.connectors.gitlab.client import GitLabSession
from dihub.connectors.gitlab.config import GitLabConfig
from dihub.connectors.gitlab.jobs import ENTITY as JOB_ENTITY
from dihub.connectors.gitlab.streams import STREAMS

connector = Connector(
    name="gitlab",
    description="GitLab.com and self-managed GitLab (REST v4): commits, merge requests, "
                "issues, CI/CD pipelines and, optionally, jobs.",
    config_model=GitLabConfig,
    streams=STREAMS,
    auth=GitLabAuth(),
    entities=(JOB_ENTITY,),
    session=GitLabSession,
)

__all__ = ["GitLabConfig", "connector"]
