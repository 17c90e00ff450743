"""`sources.<name>` keys of a GitHub (github.com or Enterprise Server) source."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from dihub.connectors.base import SourceConfig, parse_start_date

STREAM_NAMES = ("commits", "pull_requests", "issues", "workflow_runs", "reviews")
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


class GitHubConfig(SourceConfig):
    base_url: str = "https://api.github.com"   # GHES: https://HOST/api/v3
    repos: list[str] = []                      # owner/repo
    orgs: list[str] = []                       # every repository of these organizations
    branches: list[str] | None = None          # commits: default branch when unset
    token_env: str | None = None               # env var holding a token (CI, cron)
    client_id: str | None = None               # OAuth app for `dihub auth <source>`
    scopes: str | list[str] | None = None      # device-flow scopes; default "repo read:org"
    start_date: str | None = None              # nothing updated before this is fetched
    commit_overlap_minutes: float = Field(5, ge=0)
    runs_lookback_days: float = Field(3, ge=0)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if not re.match(r"https?://[^/\s]+", v):
            raise ValueError("must be an http(s) URL such as https://api.github.com or "
                             "https://HOST/api/v3")
        return v

    @field_validator("repos")
    @classmethod
    def _repos(cls, v: list[str]) -> list[str]:
        for name in v:
            if not _REPO.fullmatch(name.strip()):
                raise ValueError(f"{name!r} is not owner/repo")
        return [n.strip() for n in v]

    @field_validator("orgs")
    @classmethod
    def _orgs(cls, v: list[str]) -> list[str]:
        for name in v:
            if not _OWNER.fullmatch(name.strip()):
                raise ValueError(f"{name!r} is not an organization login")
        return [n.strip() for n in v]

    _start = field_validator("start_date", mode="before")(
        classmethod(lambda cls, v: parse_start_date(v)))

    @field_validator("streams")
    @classmethod
    def _streams(cls, v: list[str] | None) -> list[str] | None:
        unknown = [s for s in v or [] if s not in STREAM_NAMES]
        if unknown:
            raise ValueError(f"unknown stream(s) {', '.join(unknown)}; "
                             f"known: {', '.join(STREAM_NAMES)}")
        return v

    @model_validator(mode="after")
    def _something_to_sync(self) -> GitHubConfig:
        if not self.repos and not self.orgs:
            raise ValueError("set `repos: [owner/repo, ...]` and/or `orgs: [org, ...]`")
        return self
