"""`sources.<name>` keys of a GitHub (github.com or Enterprise Server) source."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dihub.connectors.base import SourceConfig, known_streams, parse_start_date

STREAM_NAMES = ("commits", "pull_requests", "issues", "workflow_runs", "reviews")
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


class GitHubAppConfig(BaseModel):
    """`app:`: authenticate as a GitHub App, one installation token per organization.

    The private key (PEM) comes from the variable named by `private_key_env`, else the
    file `private_key_file`, else the keyring (`dihub auth <source> --private-key-file`).
    """

    model_config = ConfigDict(extra="forbid")

    app_id: str = Field(min_length=1)          # the app ID, or its client ID (Iv1..., Iv23...)
    private_key_env: str | None = None
    private_key_file: str | None = None
    # an installation token is replaced when less than this is left of it (GitHub issues
    # them for an hour); never more than half the token's lifetime
    refresh_margin_s: float = Field(300, ge=0)

    @field_validator("app_id", mode="before")
    @classmethod
    def _app_id(cls, v: object) -> object:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        if isinstance(v, str) and not re.fullmatch(r"[0-9]+|Iv[A-Za-z0-9._-]+", v.strip()):
            raise ValueError("must be the app's numeric ID or its client ID (Iv...)")
        return v.strip() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _one_key_source(self) -> GitHubAppConfig:
        if self.private_key_env and self.private_key_file:
            raise ValueError("set `private_key_env` or `private_key_file`, not both")
        return self


class GitHubConfig(SourceConfig):
    base_url: str = "https://api.github.com"   # GHES: https://HOST/api/v3
    repos: list[str] = []                      # owner/repo
    orgs: list[str] = []                       # every repository of these organizations
    branches: list[str] | None = None          # commits: default branch when unset
    token_env: str | None = None               # env var holding a token (CI, cron)
    app: GitHubAppConfig | None = None         # a GitHub App instead of a token
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
        return known_streams(v, STREAM_NAMES)

    @model_validator(mode="after")
    def _something_to_sync(self) -> GitHubConfig:
        if not self.repos and not self.orgs:
            raise ValueError("set `repos: [owner/repo, ...]` and/or `orgs: [org, ...]`")
        if self.app is not None and self.token_env:
            raise ValueError("`app` and `token_env` are two ways to authenticate: keep one")
        return self
