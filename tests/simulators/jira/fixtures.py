"""Shapes the simulator copies: the recorded Jira payloads in tests/data/jira
(their sources are listed in tests/data/jira/README.md).

Every generated object starts as a deep copy of a fixture object, and only its
identity and values are overwritten, so keys the connector ignores stay there.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "data" / "jira"
SITE = "https://dihub-sim.atlassian.net"        # swapped for the server's base URL on output
FIXTURE_SITES = ("https://your-domain.atlassian.net", "https://example.atlassian.net",
                 "https://jira.com", "https://test.jira.org")


@cache
def _load(name: str) -> Any:
    payload = json.loads((DATA / name).read_text(encoding="utf-8"))
    if isinstance(payload, dict) and "request" in payload and "body" in payload:
        return payload["body"]
    return payload


def load(name: str) -> Any:
    """A fresh copy of a fixture body, with its site URLs pointing at SITE."""
    text = json.dumps(_load(name))
    for site in FIXTURE_SITES:
        text = text.replace(site, SITE)
    return json.loads(text)


def user_template() -> dict[str, Any]:
    """A Cloud user (changelog author): accountId, avatarUrls, displayName, emailAddress..."""
    return load("rest-api-3/issue-changelog-page.openapi-example.json")["values"][0]["author"]


def dc_user_template() -> dict[str, Any]:
    """A Data Center user (name/key, no accountId)."""
    return load("agile-1.0/sprint-issues.go-jira.json")["issues"][0]["fields"]["assignee"]


def history_template() -> dict[str, Any]:
    return load("rest-api-3/issue-changelog-page.openapi-example.json")["values"][0]


def issue_template() -> dict[str, Any]:
    """The search/jql example issue (ED-1): its non-generated fields are kept."""
    return load("rest-api-3/search-jql.openapi-example.json")["issues"][0]


def go_jira_fields() -> dict[str, Any]:
    """status (with statusCategory), priority, issuetype, project, resolution shapes."""
    return load("agile-1.0/sprint-issues.go-jira.json")["issues"][0]["fields"]


def board_template() -> dict[str, Any]:
    return load("agile-1.0/board-list.openapi-example.json")["values"][0]


def sprint_template() -> dict[str, Any]:
    return load("agile-1.0/board-sprints.openapi-example.json")["values"][0]


def field_list() -> list[dict[str, Any]]:
    """The recorded field lists (summary, description, fixVersions, the JPO "Original
    story points", timespent); the simulator adds its custom fields."""
    return (load("rest-api-3/field-list.openapi-example.json")
            + load("rest-api-3/field-list.jira-cli.json"))


def copy_of(obj: Any) -> Any:
    return copy.deepcopy(obj)
