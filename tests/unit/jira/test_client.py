"""JiraClient against the simulator in this process: paging, changelog completion, site
discovery and the errors it rewrites."""

from __future__ import annotations

import math
from datetime import timedelta

import httpx
import pytest

from dihub.connectors.jira import JiraConfig
from dihub.connectors.jira.auth import BearerAuth
from dihub.connectors.jira.client import JiraClient, JqlError
from dihub.connectors.jira.jql import search_jql
from dihub.connectors.jira.normalize import merge_changelog, sprint_board_ids
from dihub.connectors.session import Once
from dihub.errors import ConfigError, FatalError
from dihub.http import HttpClient
from tests.simulators.jira import SP_FIELD, SP_LEGACY, SPRINT_FIELD, Dataset, JiraSimulator
from tests.simulators.jira.testing import EMAIL, TOKEN, credentials

FIELDS = ["summary", "status", "updated"]


@pytest.fixture(scope="module")
def sim():
    ds = Dataset.generate(260, sprints=9, seed=17, long_changelogs=0.3)
    with JiraSimulator(ds, credentials=credentials()) as s:
        yield s


def client_for(sim: JiraSimulator, **kw) -> JiraClient:
    cloud = sim.dataset.cloud
    cfg = JiraConfig(connector="jira", base_url=sim.base_url,
                     deployment="cloud" if cloud else "datacenter", **kw)
    auth = httpx.BasicAuth(EMAIL, TOKEN) if cloud else BearerAuth(TOKEN)
    return JiraClient(HttpClient(sim.base_url, source="jira", auth=auth,
                                 rate_limit_style="jira"), cfg, "jira")


def test_cloud_search_follows_next_page_tokens(sim):
    sim.stats.reset()
    zone = sim.dataset.zone
    pages = list(client_for(sim).search_cloud(search_jql(None, ["DIH"], None, zone), FIELDS))
    keys = [i["key"] for p in pages for i in p.issues]
    want = [i.key for i in sim.dataset.issues if i.project == "DIH"]
    assert sorted(keys) == sorted(want) and len(set(keys)) == len(keys)
    assert len(pages) == math.ceil(len(want) / 100) == sim.stats.requests
    updated = [p.issues[-1]["fields"]["updated"] for p in pages]
    assert all(a <= b for a, b in zip(updated, updated[1:], strict=False))


def test_truncated_changelogs_are_completed_with_the_fewest_pages(sim):
    client = client_for(sim)
    long = [i for i in sim.dataset.issues if len(i.histories) > 140][:3]
    assert long
    for issue in long:
        page = next(client.search_cloud(f'key = {issue.key} AND updated >= "2000/01/01"',
                                        FIELDS))
        embedded = page.issues[0]["changelog"]
        assert len(embedded["histories"]) == 40 < embedded["total"] == len(issue.histories)
        sim.stats.reset()
        rest = client.changelog(str(issue.id), embedded)
        assert sim.stats.requests == math.ceil((len(issue.histories) - 40) / 100)
        merged = merge_changelog(embedded, [rest])
        assert [h["id"] for h in merged] == [h["id"] for h in issue.histories]
    assert client.changelog("99999999") is None            # deleted meanwhile


def test_site_discovery_zone_and_fields(sim):
    site = client_for(sim).site(Once())
    assert site.zone_name == "America/New_York" and site.zone_known
    assert site.story_points_fields == (SP_FIELD, SP_LEGACY)
    assert site.sprint_field == SPRINT_FIELD
    assert {SP_FIELD, SP_LEGACY, SPRINT_FIELD, "updated", "status"} <= set(site.fields())
    assert client_for(sim, timezone="Asia/Tokyo").site(Once()).zone_name == "Asia/Tokyo"
    assert client_for(sim, story_points_field="Story Points").site(
        Once()).story_points_fields == (SP_LEGACY,)
    with pytest.raises(ConfigError, match="story_points_field"):
        client_for(sim, story_points_field="Velocity").site(Once())


def test_boards_with_sprints_skip_kanban(sim):
    boards = client_for(sim).boards()
    assert [b["type"] for b in boards].count("kanban") == 1
    assert sprint_board_ids(boards) == ["1", "2", "3"]
    sprints = [s for r, _ in client_for(sim).board_sprints("3") for s in r.data["values"]]
    assert len(sprints) == len(sim.dataset.board_sprints(3))


def test_rejected_jql_and_removed_search_are_explained(sim):
    client = client_for(sim)
    with pytest.raises(JqlError) as err:
        list(client.search_cloud("project = NOPE", FIELDS))
    assert "The value 'NOPE' does not exist" in str(err.value)
    assert "JQL: project = NOPE" in str(err.value) and err.value.exit_code == 2
    with pytest.raises(FatalError, match="410 Gone: Jira has removed this API") as gone:
        client.get("/rest/api/3/search", {"jql": "project = DIH"})
    assert "/rest/api/3/search/jql" in gone.value.hint


def test_data_center_paging_restarts_at_the_newest_minute():
    ds = Dataset.generate(330, sprints=3, seed=5, deployment="datacenter", bulk_edit=120)
    with JiraSimulator(ds, credentials=credentials(cloud=False)) as sim:
        client = client_for(sim)
        zone = ds.zone
        seen: list[str] = []
        for n, page in enumerate(client.search_dc(
                lambda lower: search_jql(None, None, lower, zone), None, FIELDS, zone)):
            seen += [i["key"] for i in page.issues]
            if n == 1:      # an issue read on the first page is edited: it moves to the end
                first = ds.by_key[seen[0]]
                ds.change(first.key, at=ds.end + timedelta(days=1), summary="edited")
        assert sorted(set(seen)) == sorted(ds.by_key)
        assert seen.count(first.key) == 2 and len(seen) == 331
        queries = [r.query for r in sim.stats.log]
    assert any("startAt=100" in q for q in queries)             # inside the bulk minute
