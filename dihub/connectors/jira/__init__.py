"""The `jira` connector: Jira Cloud (REST v3) and Data Center (REST v2), plus the Agile API.

Streams: `issues` (issues with story points, sprint ids and status transitions from
the changelog; their people as `users`), `sprints` (per board) and `users`.
See client.py for the endpoints and paging, streams.py for cursors, auth.py for login.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from dihub.connectors.base import Connector, SourceConfig, parse_start_date
from dihub.connectors.jira.auth import JiraAuth
from dihub.connectors.jira.client import JiraSession
from dihub.connectors.jira.streams import issues, sprints, users

CLOUD_HOST_SUFFIXES = (".atlassian.net", ".jira.com", ".atlassian-us-gov-mod.net")


class JiraConfig(SourceConfig):
    base_url: str                                   # https://your-site.atlassian.net
    deployment: Literal["cloud", "datacenter"] | None = None   # default: from the host
    email: str | None = None                        # Cloud: the account of the API token
    token_env: str | None = None                    # env var with the API token / PAT (CI)
    jql: str | None = None                          # ANDed with the cursor condition
    projects: list[str] | None = None               # → project in (...)
    boards: list[int] | None = None                 # default: every board with sprints
    story_points_field: str | None = None           # field id or name; default: discovered
    sprint_field: str | None = None                 # field id or name; default: discovered
    overlap_minutes: int = Field(10, ge=0, le=24 * 60)
    timezone: str | None = None                     # JQL date zone; default: the account's
    start_date: str | None = None                   # first sync: issues updated since
    page_size: int = Field(100, ge=1, le=100)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL such as https://your-site.atlassian.net")
        if "/rest/" in parts.path + "/":
            raise ValueError("must be the site root (without /rest/...)")
        return v.strip().rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as "
                             "Europe/Berlin or UTC)") from None
        return v

    _start = field_validator("start_date", mode="before")(
        classmethod(lambda cls, v: parse_start_date(v)))

    @field_validator("projects")
    @classmethod
    def _projects(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not all(str(p).strip() for p in v):
            raise ValueError("project keys must not be empty")
        return [str(p).strip() for p in v] if v is not None else None

    @property
    def is_cloud(self) -> bool:
        if self.deployment is not None:
            return self.deployment == "cloud"
        host = (urlsplit(self.base_url).hostname or "").lower()
        return host.endswith(CLOUD_HOST_SUFFIXES)


connector = Connector(
    name="jira",
    description="Jira Cloud (REST v3) or Data Center (REST v2): issues with transitions, "
                "story points and sprints; sprints per board; users.",
    config_model=JiraConfig,
    streams={"issues": issues, "sprints": sprints, "users": users},
    auth=JiraAuth(),
    session=JiraSession,
)
