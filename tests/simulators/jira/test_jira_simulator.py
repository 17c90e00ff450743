"""Checks of the Jira simulator itself: the facts the connector's tests rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dihub.timeutil import parse
from tests.simulators.jira import Dataset, JiraSimulator, RateLimit, jira_faults
from tests.simulators.jira.testing import EMAIL, TOKEN, credentials

JQL = 'updated >= "2000/01/01 00:00" ORDER BY updated ASC'


@pytest.fixture(scope="module")
def sim():
    with JiraSimulator(Dataset.generate(230, sprints=9, seed=3, long_changelogs=0.2),
                       credentials=credentials()) as s:
        yield s


@pytest.fixture(scope="module")
def http(sim):
    with httpx.Client(base_url=sim.base_url, auth=(EMAIL, TOKEN)) as c:
        yield c


def test_the_dataset_is_deterministic_and_consistent():
    a, b = Dataset.generate(300, seed=4), Dataset.generate(300, seed=4)
    assert [i.fields["updated"] for i in a.issues] == [i.fields["updated"] for i in b.issues]
    for issue in a.issues:
        exp = a.expected(issue)
        assert exp["updated_at"] >= max([t[3] for t in exp["transitions"]], default="")
        if exp["transitions"]:
            assert exp["transitions"][-1][1] == issue.status
        assert parse(issue.fields["updated"]) == issue.updated.replace(
            microsecond=issue.updated.microsecond // 1000 * 1000)


def test_search_jql_token_paging_is_tied_to_the_query(http, sim):
    seen, token = [], None
    while True:
        params = {"jql": JQL, "maxResults": 100, "fields": "updated"}
        if token:
            params["nextPageToken"] = token
        body = http.get("/rest/api/3/search/jql", params=params).json()
        seen += [i["key"] for i in body["issues"]]
        if body["isLast"]:
            assert "nextPageToken" not in body
            break
        token = body["nextPageToken"]
    assert len(seen) == len(set(seen)) == 230
    other = http.get("/rest/api/3/search/jql", params={"jql": "project = DIH",
                                                         "nextPageToken": token})
    assert other.status_code == 400 and "invalid or expired" in other.text
    bare = http.get("/rest/api/3/search/jql", params={"jql": JQL}).json()["issues"][0]
    assert set(bare) == {"expand", "id", "self"}                # default fields: id only


def test_jql_dates_are_read_in_the_accounts_zone(http, sim):
    issue = sim.dataset.issues[0]
    local = issue.updated.astimezone(sim.dataset.zone)
    at = local.strftime("%Y/%m/%d %H:%M")

    def keys(jql: str) -> set[str]:
        return {i["key"] for i in http.get("/rest/api/3/search/jql", params={
            "jql": jql, "fields": "updated", "maxResults": 100}).json()["issues"]}

    assert issue.key in keys(f'key = {issue.key} AND updated >= "{at}"')
    later = (local + timedelta(minutes=1)).strftime("%Y/%m/%d %H:%M")
    assert issue.key not in keys(f'key = {issue.key} AND updated >= "{later}"')


def test_changelog_pages_and_removed_search(http, sim):
    issue = max(sim.dataset.issues, key=lambda i: len(i.histories))
    page = http.get(f"/rest/api/3/issue/{issue.key}/changelog",
                    params={"startAt": 0, "maxResults": 500}).json()
    assert page["maxResults"] == 100 and page["total"] == len(issue.histories)
    assert page["isLast"] is False and "startAt=100" in page["nextPage"]
    assert http.get("/rest/api/3/search", params={"jql": JQL}).status_code == 410
    assert http.get("/rest/api/2/search", params={"jql": JQL}).status_code == 410


def test_credentials_are_checked(sim):
    with httpx.Client(base_url=sim.base_url) as c:
        assert c.get("/rest/api/3/myself").status_code == 401
        assert c.get("/rest/api/3/myself", auth=(EMAIL, "nope")).status_code == 401
        assert c.get("/rest/api/3/myself",
                     headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401


def test_rate_limit_answers_like_jira():
    ds = Dataset.generate(5, sprints=3)
    with JiraSimulator(ds, rate_limit=RateLimit(2, window_s=30)) as s, httpx.Client() as c:
        codes = [c.get(f"{s.base_url}/rest/api/3/myself") for _ in range(3)]
        s.rate_limit.next_window()                  # the next window starts at once
        after = [c.get(f"{s.base_url}/rest/api/3/myself").status_code for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert after == [200, 200, 429]
    h = codes[-1].headers
    assert int(h["retry-after"]) >= 1 and h["ratelimit-reason"] == "jira-burst-based"
    reset = datetime.fromisoformat(h["x-ratelimit-reset"].replace("Z", "+00:00"))
    assert reset > datetime.now(UTC)


def test_faults_are_deterministic_for_a_seed():
    def kinds():
        with JiraSimulator(Dataset.generate(5, sprints=3),
                           faults=jira_faults(0.5, seed=8, kinds=("500", "503"))) as s, \
                httpx.Client() as c:
            for _ in range(20):
                c.get(f"{s.base_url}/rest/api/3/field")
            return [r.fault for r in s.stats.log]
    first = kinds()
    assert first == kinds() and {"500", "503"} <= set(first)


def test_data_center_reads_epoch_milliseconds_and_serves_comments():
    ds = Dataset.generate(120, sprints=3, seed=5, deployment="datacenter")
    with JiraSimulator(ds, credentials=credentials(cloud=False)) as s, httpx.Client(
            base_url=s.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        def keys(jql: str) -> list[str]:
            body = c.get("/rest/api/2/search", params={"jql": jql, "maxResults": 1000,
                                                        "fields": "updated"}).json()
            return [i["key"] for i in body["issues"]]

        everything = keys("updated > 0 order by updated asc")
        middle = sorted(ds.issues, key=lambda i: i.updated)[60]
        millis = int(middle.updated.timestamp() * 1000)
        after = keys(f"updated > {millis} order by updated asc")
        commented = [i for i in ds.issues
                     if i.updated > (i.history_times[-1] if i.history_times else i.created)]
        quiet = next(i for i in ds.issues if i not in commented)
        page = c.get(f"/rest/api/2/issue/{commented[0].id}/comment",
                     params={"startAt": 0, "maxResults": 100}).json()
        none = c.get(f"/rest/api/2/issue/{quiet.key}/comment").json()
        missing = c.get("/rest/api/2/issue/NOPE-1/comment")
        cloud_path = c.get(f"/rest/api/3/issue/{quiet.key}/comment")
    assert everything == [i.key for i in sorted(ds.issues, key=lambda i: i.updated)]
    cut = datetime.fromtimestamp(millis / 1000, UTC)
    assert set(after) == {i.key for i in ds.issues if i.updated > cut}
    assert 0 < len(after) < len(everything)
    assert 0 < len(commented) < len(ds.issues)
    assert page["total"] == 1 and page["startAt"] == 0 and page["maxResults"] == 100
    comment = page["comments"][0]
    assert comment["updated"] == commented[0].fields["updated"]
    assert isinstance(comment["body"], str) and comment["author"]["key"]
    assert none == {"startAt": 0, "maxResults": 50, "total": 0, "comments": []}
    assert missing.status_code == 404 and cloud_path.status_code == 404
