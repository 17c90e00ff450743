"""`sources.<name>` keys of a GitLab (gitlab.com or self-managed) source."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from dihub.connectors.base import SourceConfig, known_streams, parse_start_date

STREAM_NAMES = ("commits", "merge_requests", "issues", "pipelines", "jobs")
DEFAULT_STREAMS = ("commits", "merge_requests", "issues", "pipelines")
_PATH = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+")
_GROUP = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)*")


class GitLabConfig(SourceConfig):
    base_url: str = "https://gitlab.com"       # the instance; the API is {base_url}/api/v4
    projects: list[str] = []                   # group/sub/project paths or numeric ids
    groups: list[str] = []                     # every project of these groups and subgroups
    include_archived: bool = False             # groups: archived projects too
    branches: list[str] | None = None          # commits: the default branch when unset
    token_env: str | None = None               # env var holding a token (CI, cron)
    client_id: str | None = None               # OAuth application for `dihub auth <source>`
    scopes: str | list[str] | None = None      # device-flow scopes; default "read_api"
    start_date: str | None = None              # nothing updated before this is fetched
    commit_overlap_minutes: float = Field(5, ge=0)
    updated_overlap_seconds: float = Field(10, ge=0)
    project_cache_hours: float = Field(24, ge=0)   # project id/default branch kept this long

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if v.endswith("/api/v4"):
            v = v[: -len("/api/v4")]
        if not re.match(r"https?://[^/\s]+", v):
            raise ValueError("must be an http(s) URL such as https://gitlab.com or "
                             "https://gitlab.example.com")
        return v

    @field_validator("projects", mode="before")
    @classmethod
    def _projects(cls, v: list) -> list[str]:
        out = []
        for item in v or []:
            name = str(item).strip().strip("/")
            if not (name.isdigit() or _PATH.fullmatch(name)):
                raise ValueError(f"{item!r} is not a project path (group/project) or id")
            out.append(name)
        return out

    @field_validator("groups", mode="before")
    @classmethod
    def _groups(cls, v: list) -> list[str]:
        out = []
        for item in v or []:
            name = str(item).strip().strip("/")
            if not (name.isdigit() or _GROUP.fullmatch(name)):
                raise ValueError(f"{item!r} is not a group path or id")
            out.append(name)
        return out

    _start = field_validator("start_date", mode="before")(
        classmethod(lambda cls, v: parse_start_date(v)))

    @field_validator("streams")
    @classmethod
    def _streams(cls, v: list[str] | None) -> list[str] | None:
        return known_streams(v, STREAM_NAMES)

    @model_validator(mode="after")
    def _something_to_sync(self) -> GitLabConfig:
        if not self.projects and not self.groups:
            raise ValueError("set `projects: [group/project, ...]` and/or `groups: [group, ...]`")
        return self

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v4"
