"""The issues stream's normalize step: story points from the first field that has a
value, and issues that vanished while their changelog was read are skipped."""

from __future__ import annotations

import logging

import pytest

from dihub.connectors.jira.client import JiraSession, Site
from dihub.connectors.jira.streams import SKIP, _normalize_issue
from dihub.connectors.stream import Context
from dihub.errors import SkippableRecord
from dihub.models import Issue

from ._data import load

SITE = Site(zone=None, zone_name="UTC", zone_known=True,  # type: ignore[arg-type]
            story_points_fields=("customfield_10016", "customfield_10105"),
            sprint_field="customfield_10102")


def ctx() -> JiraSession:
    """A run's session whose Site is SITE (normalize reads the run's Site from it)."""
    session = JiraSession(Context(source="jira", config=None, run_id="r",
                                  log=logging.getLogger("t")))
    session.site.setdefault(SITE)
    return session


def test_story_points_come_from_the_first_field_with_a_value():
    raw = load("agile-1.0/sprint-issues.go-jira.json")["issues"][0]   # 13.0 in ..10105
    issue = _normalize_issue(raw, ctx(), "*")[0]
    assert isinstance(issue, Issue) and issue.story_points == 13.0
    raw["fields"]["customfield_10016"] = 3
    assert _normalize_issue(raw, ctx(), "*")[0].story_points == 3.0


def test_an_issue_gone_while_reading_its_changelog_is_skipped():
    raw = load("agile-1.0/sprint-issues.go-jira.json")["issues"][0]
    raw[SKIP] = "Jira issue AR-86 disappeared (404)"
    with pytest.raises(SkippableRecord, match="disappeared"):
        _normalize_issue(raw, ctx(), "*")
