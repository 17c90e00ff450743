"""The `git` connector: a local clone, read with the git command. No network, no login."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationInfo, field_validator

from dihub.connectors.base import Connector, SourceConfig
from dihub.connectors.git.streams import GitSession, commits


class GitConfig(SourceConfig):
    repo: str = "."                       # path to a clone, bare or not
    branches: list[str] | None = None     # default: every branch, remote branch and tag
    name: str | None = None               # repo name on records; default: the directory name

    @field_validator("repo")
    @classmethod
    def _relative_to_config(cls, v: str, info: ValidationInfo) -> str:
        """A relative path is read from the config file's folder, so cron's cwd doesn't matter."""
        base = (info.context or {}).get("base_dir")
        p = Path(v).expanduser()
        return str(p if p.is_absolute() or base is None else (Path(base) / p).resolve())

    def check_offline(self) -> None:
        """What `dihub config validate` checks beyond the keys: `repo` is a git repository
        (runs `git rev-parse` there; no network). Raises ConfigError with key `repo`."""
        from dihub.connectors.git.client import GitRepo

        GitRepo.open(self.repo)


connector = Connector(
    name="git",
    description="A local git clone (bare or not), via the git command.",
    config_model=GitConfig,
    streams={"commits": commits},
    session=GitSession,
)
