"""A filter that can match nothing because it is invalid is a usage error (exit 2) that
names the valid values, never an empty listing with exit 0."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import git_config


def _usage_error(dihub, *args: str) -> str:
    p = dihub.run(*args, check_code=2)
    assert p.stdout == "" and "Traceback" not in p.stderr
    return p.stderr


@pytest.fixture
def configured(dihub, tmp_path):
    dihub.write_config(git_config(tmp_path) + "  tracker:\n    connector: jira\n"
                       "    base_url: https://jira.example.com\n")
    return dihub


def test_fetch_entity_the_source_does_not_produce(configured):
    err = _usage_error(configured, "fetch", "git", "pull_requests")
    assert "'git' (git connector) has no pull_requests records" in err
    assert "Entities of git: commits, users" in err
    err = _usage_error(configured, "fetch", "tracker", "commits", "--format", "json")
    assert "Entities of tracker: issues, users, sprints" in err


def test_audit_outcome_entity_and_source(configured):
    err = _usage_error(configured, "audit", "--outcome", "bogus")
    assert "--outcome 'bogus'" in err and "ok, failed, skipped, warning, retried" in err
    err = _usage_error(configured, "audit", "--entity", "comits")
    assert "--entity 'comits'" in err and "commits" in err and "slack_events" in err
    err = _usage_error(configured, "audit", "--source", "nope", "--format", "json")
    assert "--source 'nope': unknown source" in err and "git, tracker" in err
    assert json.loads(configured.run("audit", "--outcome", "retried", "--format", "json",
                                     check_code=0).stdout) == []


def test_status_and_metrics_source_and_stream(configured):
    err = _usage_error(configured, "status", "--source", "nope")
    assert "--source 'nope': unknown source" in err and "git, tracker" in err
    assert str(configured.config) in err
    err = _usage_error(configured, "metrics", "--source", "nope")
    assert "git, tracker" in err
    err = _usage_error(configured, "metrics", "--source", "git", "--stream", "issues")
    assert "--stream 'issues'" in err and "Use one of: commits" in err
    err = _usage_error(configured, "metrics", "--stream", "nope")
    assert "commits" in err and "sprints" in err
    assert json.loads(configured.run("status", "--source", "tracker", "--format", "json",
                                     check_code=0).stdout) == []


@pytest.mark.parametrize("args, expected", [
    (("fetch", "git", "commits", "--since", ""), "--since: empty; give a date"),
    (("fetch", "git", "commits", "--until", " "), "--until: empty; give a date"),
    (("audit", "--since", ""), "--since: empty; give a date"),
    (("fetch", "git", "commits", "--fields", ""), "--fields '': give comma-separated"),
    (("fetch", "git", "commits", "--fields", " , "), "Fields of commits: _id, source"),
    (("fetch", "git", "commits", "--where", "=x"), "--where '=x': use FIELD=VALUE"),
])
def test_empty_or_unknown_filter_values(configured, args, expected):
    assert expected in _usage_error(configured, *args)
