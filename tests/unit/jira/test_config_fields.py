"""JiraConfig validation and deployment guess; story-point field candidates."""

from __future__ import annotations

import pytest

from dihub.config import parse_config
from dihub.connectors.jira import JiraConfig
from dihub.connectors.jira.fields import story_point_fields
from dihub.errors import ConfigError

from ._data import load


def cfg(**kw) -> JiraConfig:
    return JiraConfig(connector="jira", **{"base_url": "https://acme.atlassian.net", **kw})


@pytest.mark.parametrize("url, cloud", [
    ("https://acme.atlassian.net/", True), ("https://ACME.Atlassian.NET", True),
    ("https://acme.jira.com", True), ("https://jira.acme.com/jira", False),
    ("http://127.0.0.1:8080", False),
])
def test_deployment_is_guessed_from_the_host(url, cloud):
    assert cfg(base_url=url).is_cloud is cloud
    assert cfg(base_url=url, deployment="cloud").is_cloud is True
    assert cfg(base_url=url, deployment="datacenter").is_cloud is False


def test_base_url_is_normalized_and_checked():
    assert cfg(base_url="https://jira.acme.com/jira/").base_url == "https://jira.acme.com/jira"
    for bad in ("acme.atlassian.net", "ftp://x", "https://acme.atlassian.net/rest/api/3"):
        with pytest.raises(ValueError):
            cfg(base_url=bad)


def test_defaults_and_checks():
    c = cfg()
    assert (c.overlap_minutes, c.page_size, c.jql, c.boards) == (10, 100, None, None)
    with pytest.raises(ValueError, match="unknown time zone"):
        cfg(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="must be a date"):
        cfg(start_date="last tuesday")
    with pytest.raises(ValueError):
        cfg(page_size=500)
    assert cfg(projects=[" DIH ", "OPS"]).projects == ["DIH", "OPS"]


def test_config_errors_name_the_file_line_and_key():
    text = ("sources:\n  jira:\n    connector: jira\n    base_url: https://a.atlassian.net\n"
            "    overlap: 5\n")
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert "<config>:5: sources.jira.overlap: unknown key 'overlap'" in str(err.value)


SP = {"id": "customfield_10016", "name": "Story point estimate",
      "schema": {"type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points"}}
LEGACY = {"id": "customfield_10028", "name": "Story Points",
          "schema": {"type": "number",
                     "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float"}}
TEXT = {"id": "customfield_10040", "name": "Story Points", "schema": {"type": "string"}}


def test_every_story_point_field_is_a_candidate_best_first():
    fields = load("rest-api-3/field-list.jira-cli.json") + [TEXT, LEGACY, SP]
    assert story_point_fields(fields) == ["customfield_10016", "customfield_10028"]
    # the recorded site has only Advanced Roadmaps' baseline: not an estimate
    assert story_point_fields(load("rest-api-3/field-list.jira-cli.json")) == []


def test_a_configured_field_is_the_only_candidate():
    fields = [SP, LEGACY]
    assert story_point_fields(fields, "Story Points") == ["customfield_10028"]
    assert story_point_fields(fields, "customfield_10111") == ["customfield_10111"]
    assert story_point_fields(fields, "Storypoints") == []
