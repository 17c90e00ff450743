"""Bodies read into the shapes of shapes.py give exactly the records that bodies read
whole give: over the real payloads in tests/data/jira and the simulator's answers."""

from __future__ import annotations

import json

import httpx
import pytest

from dihub.connectors.jira.client import BULK_PAGE
from dihub.connectors.jira.normalize import compact_histories, merge_changelog, normalize_issue
from dihub.connectors.jira.shapes import (
    BULK_CHANGELOG_PAGE,
    ISSUE_CHANGELOG_PAGE,
    search_page_for,
)
from dihub.errors import SkippableRecord
from dihub.jsoncodec import decode_json, reading
from tests.simulators.jira import SPRINT_FIELD, Dataset, JiraSimulator
from tests.simulators.jira.testing import EMAIL, TOKEN, credentials

from ._data import load
from .test_client import client_for

SP = "customfield_10016"
FIELDS = ["summary", "status", "issuetype", "priority", "assignee", "reporter", "created",
          "updated", "resolutiondate", "project", "labels", SP, "customfield_10020"]
SEARCHES = ["rest-api-3/search-jql.openapi-example.json",
            "rest-api-3/search-legacy.openapi-example.json",
            "rest-api-3/search-jql.page1-next-token.jira-cli.json",
            "rest-api-3/search-jql.page2-last.jira-cli.json",
            "agile-1.0/sprint-issues.go-jira.json"]


def read(body: bytes, shape=None):
    if shape is None:
        return decode_json(body)
    with reading(shape):
        return decode_json(body)


def outcome(raw, histories=None, sprint_field="customfield_10020"):
    """The records of one issue, or the reason it is skipped."""
    try:
        return normalize_issue(raw, "jira", story_points_field=SP, sprint_field=sprint_field,
                               histories=histories)
    except SkippableRecord as exc:
        return ("skipped", str(exc))


def keys(value) -> set[str]:
    """Every key path in a decoded body (list positions left out)."""
    out: set[str] = set()

    def walk(v, at):
        if isinstance(v, dict):
            for k, x in v.items():
                out.add(f"{at}.{k}")
                walk(x, f"{at}.{k}")
        elif isinstance(v, list):
            for x in v:
                walk(x, at)
    walk(value, "")
    return out


@pytest.mark.parametrize("name", SEARCHES)
def test_a_search_page_read_through_its_shape_gives_the_same_records(name):
    body = json.dumps(load(name)).encode()
    whole, shaped = read(body), read(body, search_page_for(FIELDS))
    assert len(shaped["issues"]) == len(whole["issues"]) > 0
    for n, (w, s) in enumerate(zip(whole["issues"], shaped["issues"], strict=True)):
        assert outcome(s) == outcome(w)
        if "id" not in w:                      # the jira-cli pages: records once given one
            w, s = {"id": str(n + 1), **w}, {"id": str(n + 1), **s}
            assert outcome(s) == outcome(w)
            assert not isinstance(outcome(w), tuple)
    assert keys(shaped) < keys(whole)          # the shape left something out
    assert not any(k.endswith(("avatarUrls", "iconUrl", ".self")) for k in keys(shaped))


def test_custom_fields_are_read_whole_and_unnamed_ones_not_at_all():
    raw = {"issues": [{"id": "1", "key": "A-1", "fields": {
        "customfield_10020": [{"id": 7, "name": "S 7", "goal": "g"}], SP: 5.0,
        "customfield_99999": {"big": "x" * 100}, "status": {"name": "Done", "self": "u"}}}]}
    shaped = read(json.dumps(raw).encode(), search_page_for(FIELDS))
    fields = shaped["issues"][0]["fields"]
    assert fields == {"customfield_10020": [{"id": 7, "name": "S 7", "goal": "g"}], SP: 5.0,
                      "status": {"name": "Done"}}


def test_a_body_of_another_form_is_read_whole():
    raw = {"issues": [{"id": "1", "key": "A-1", "fields": {}, "changelog": {
        "total": 1, "histories": [{"id": "5", "created": "2025-01-01T00:00:00.000+0000",
                                   "author": "someone", "items": []}]}}], "isLast": True}
    body = json.dumps(raw).encode()
    assert read(body, search_page_for(FIELDS)) == raw
    assert read(b'{"errorMessages": ["no"]}', BULK_CHANGELOG_PAGE) == {}   # no named key


def test_a_changelog_page_read_through_its_shape_gives_the_same_records():
    embedded = load("rest-api-3/issue-changelog-embedded.openapi-example.json")
    page = json.dumps(load("rest-api-3/issue-changelog-page.openapi-example.json")).encode()
    whole, shaped = read(page), read(page, ISSUE_CHANGELOG_PAGE)
    assert (shaped["startAt"], shaped["total"], shaped["isLast"]) == (2, 5, False)
    raw = {"id": "10", "key": "TT-1", "fields": {}, "changelog": embedded}
    assert outcome(raw, merge_changelog(embedded, [shaped["values"]])) == \
        outcome(raw, merge_changelog(embedded, [whole["values"]]))
    assert keys(shaped) < keys(whole)


@pytest.fixture(scope="module")
def sim():
    ds = Dataset.generate(120, sprints=6, seed=23, long_changelogs=0.3)
    with JiraSimulator(ds, credentials=credentials()) as s:
        yield s


def bulk_whole(sim, ids: list[str], fields: list[str]) -> dict[str, list[dict]]:
    """The simulator's bulk changelog answer for `ids`, every page read whole."""
    out: dict[str, list[dict]] = {}
    body = {"issueIdsOrKeys": ids, "maxResults": BULK_PAGE, "fieldIds": fields}
    with httpx.Client(base_url=sim.base_url, auth=httpx.BasicAuth(EMAIL, TOKEN)) as http:
        while True:
            page = http.post("/rest/api/3/changelog/bulkfetch", json=body).json()
            for log in page["issueChangeLogs"]:
                out.setdefault(log["issueId"], []).extend(log["changeHistories"])
            if not page.get("nextPageToken"):
                return out
            body["nextPageToken"] = page["nextPageToken"]


def test_bulk_changelogs_read_through_the_shape_give_the_same_records(sim):
    fields = ["status", SPRINT_FIELD]
    issues = sim.dataset.issues
    ids = [str(i.id) for i in issues]
    whole = bulk_whole(sim, ids, fields)
    got = client_for(sim).bulk_changelogs(ids, fields, SPRINT_FIELD)
    assert set(got) == set(whole) and sum(map(len, whole.values())) > 1000
    assert any("avatarUrls" in h["author"] for h in whole[ids[0]])
    for issue in issues:
        iid = str(issue.id)
        # what the search embeds (the newest 40), completed with the bulk answer
        raw = {"id": iid, "key": issue.key, "fields": {},
               "changelog": {"total": len(issue.histories), "histories": issue.histories[-40:]}}
        kept = {**raw, "changelog": {**raw["changelog"], "histories": compact_histories(
            issue.histories[-40:], SPRINT_FIELD)}}
        want = outcome(raw, merge_changelog(raw["changelog"], [whole.get(iid, [])]),
                       SPRINT_FIELD)
        assert outcome(kept, merge_changelog(kept["changelog"], [got.get(iid, [])]),
                       SPRINT_FIELD) == want
        for h in got.get(iid, []):
            assert set(h) <= {"id", "created", "author", "items"}
            assert set(h.get("author") or {}) <= {"accountId", "displayName", "accountType",
                                                 "emailAddress", "key", "name"}


def test_cloud_search_reads_its_pages_through_the_shape(sim):
    client = client_for(sim)
    page = next(client.search_cloud('updated >= "2000/01/01"', FIELDS))
    history = next(h for i in page.issues for h in i["changelog"]["histories"])
    assert "avatarUrls" not in history["author"] and "self" not in history["author"]
    assert "iconUrl" not in page.issues[0]["fields"]["status"]
    # and the shape does not outlive the request
    assert decode_json(b'{"issues": [{"self": "u"}]}') == {"issues": [{"self": "u"}]}
