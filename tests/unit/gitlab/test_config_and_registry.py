"""The GitLab source config, and the connector as `dihub connectors` lists it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from dihub.connectors.gitlab.config import GitLabConfig
from dihub.connectors.registry import load_connector
from dihub.models.records import ENTITIES


def test_base_url_is_the_instance_and_the_api_is_under_api_v4():
    cfg = GitLabConfig(connector="gitlab", base_url="https://gitlab.example.com/api/v4/",
                       projects=["group/sub/project", 42], groups=["group/sub"])
    assert cfg.base_url == "https://gitlab.example.com"
    assert cfg.api_url == "https://gitlab.example.com/api/v4"
    assert cfg.projects == ["group/sub/project", "42"] and cfg.include_archived is False
    assert GitLabConfig(connector="gitlab", groups=["g"]).base_url == "https://gitlab.com"


@pytest.mark.parametrize("keys, says", [
    ({}, "projects"),
    ({"projects": ["no-namespace"]}, "not a project path"),
    ({"projects": ["g/p"], "streams": ["pull_requests"]}, "unknown stream"),
    ({"projects": ["g/p"], "base_url": "gitlab.com"}, "http(s) URL"),
])
def test_bad_configs_say_what_to_fix(keys, says):
    with pytest.raises(ValidationError) as err:
        GitLabConfig(connector="gitlab", **keys)
    assert says in str(err.value)


def test_dihub_connectors_lists_gitlab_with_its_streams_and_jobs_entity():
    from dihub.cli.app import app

    connector = load_connector("gitlab")
    assert list(connector.streams) == ["commits", "merge_requests", "issues", "pipelines",
                                       "jobs"]
    assert "jobs" in ENTITIES
    out = CliRunner().invoke(app, ["connectors"]).output
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("gitlab")]
    assert [r[1] for r in rows] == list(connector.streams)
    assert rows[1][2].startswith("pull_requests") and rows[3][2].startswith("builds")
