"""Resuming an interrupted pass at the page it stopped at: the issues stream's saved
next request (Cloud nextPageToken, Data Center startAt), its fallbacks, and the paged
sprints and users streams. The stream's fetch runs in this process against the
simulator; a pass is "interrupted" by stopping the iteration after a page, as the
engine leaves it (the state holds that page's cursor)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from dihub.connectors.jira import JiraConfig, connector
from dihub.connectors.jira.client import JiraSession
from dihub.connectors.jira.jql import jql_date, lower_bound
from dihub.connectors.jira.streams import issue_pages, sprint_pages, user_pages
from dihub.connectors.stream import Context, Page
from dihub.models import SyncState
from tests.simulators.jira import Dataset, JiraSimulator
from tests.simulators.jira.testing import EMAIL, TOKEN, TOKEN_ENV, credentials

SEARCH = ("/search/jql", "/rest/api/2/search")


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def ctx_for(sim: JiraSimulator, **kw) -> JiraSession:
    """A new run's session (the streams get the session the engine opens)."""
    cloud = sim.dataset.cloud
    cfg = JiraConfig(connector="jira", base_url=sim.base_url, token_env=TOKEN_ENV,
                     deployment="cloud" if cloud else "datacenter",
                     email=EMAIL if cloud else None, **kw)
    return connector.open(Context(source="jira", config=cfg, run_id="r",
                                  log=logging.getLogger("t")))


def state(cursor=None, stream: str = "issues") -> SyncState:
    return SyncState(source="jira", stream=stream, partition="*", cursor=cursor)


def run(pages: Iterator[Page], stop_after: int | None = None) -> tuple[list[str], object]:
    """The issue ids read and the last cursor, stopping after `stop_after` pages."""
    ids, cursor = [], None
    for n, page in enumerate(pages, 1):
        ids += [str(i.get("id")) for i in page.items]
        if page.moves_cursor:
            cursor = page.cursor
        if n == stop_after:
            pages.close()
            break
    return ids, cursor


def searches(sim: JiraSimulator) -> list[dict[str, list[str]]]:
    return [parse_qs(r.query) for r in sim.stats.log if r.path.endswith(SEARCH)]


@pytest.fixture(scope="module")
def cloud():
    # 60 issues, 20 of them edited in one minute: page boundaries inside that minute
    ds = Dataset.generate(60, sprints=3, seed=3, bulk_edit=20, long_changelogs=0.1)
    with JiraSimulator(ds, credentials=credentials()) as sim:
        yield sim


def test_cloud_resumes_with_the_saved_token_and_no_discovery(cloud):
    ctx = ctx_for(cloud, page_size=5)
    clean, final = run(issue_pages(ctx, "*", state()))
    assert sorted(clean) == sorted(str(i.id) for i in cloud.dataset.issues)
    assert isinstance(final, str)                          # a finished pass: plain cursor

    for stop in (1, 6, 9):                                 # 6 and 9: in the bulk minute
        ctx = ctx_for(cloud, page_size=5)
        first, cursor = run(issue_pages(ctx, "*", state()), stop_after=stop)
        resume = cursor["resume"]
        assert set(resume) == {"lower", "token", "jql", "site"}
        cloud.stats.reset()
        rest, final2 = run(issue_pages(ctx_for(cloud, page_size=5), "*", state(cursor)))
        assert first + rest == clean                       # each issue once, same order
        assert final2 == final
        # no /myself or /field: the pass's site came with the checkpoint; the first
        # search is the request the interrupted run would have sent next
        routes = {r.route.split("/")[-1] for r in cloud.stats.log}
        assert routes <= {"jql", "changelog", "bulkfetch"}
        assert searches(cloud)[0]["nextPageToken"] == [resume["token"]]
        assert len(searches(cloud)) == 12 - stop


def test_a_refused_token_or_a_changed_query_searches_from_updated(cloud):
    ctx = ctx_for(cloud, page_size=5)
    first, cursor = run(issue_pages(ctx, "*", state()), stop_after=3)
    updated = cursor["updated"]

    bad = {**cursor, "resume": {**cursor["resume"], "token": "expired"}}
    cloud.stats.reset()
    rest, final = run(issue_pages(ctx_for(cloud, page_size=5), "*", state(bad)))
    assert set(first) | set(rest) == {str(i.id) for i in cloud.dataset.issues}
    assert isinstance(final, str)
    refused, again = searches(cloud)[:2]
    assert refused["nextPageToken"] == ["expired"] and "nextPageToken" not in again
    since = jql_date(lower_bound(updated, None, 10), cloud.dataset.zone)
    assert f'updated >= "{since}"' in again["jql"][0]     # `updated` - overlap

    cloud.stats.reset()                                    # `jql:` changed meanwhile
    ctx = ctx_for(cloud, page_size=5, jql="project = DIH")
    rest, _ = run(issue_pages(ctx, "*", state(cursor)))
    query = searches(cloud)[0]
    assert "nextPageToken" not in query and query["jql"][0].startswith("(project = DIH)")
    assert f'updated >= "{since}"' in query["jql"][0]
    assert all(i in {str(x.id) for x in cloud.dataset.issues if x.project == "DIH"}
               for i in rest)

    cloud.stats.reset()                                    # `story_points_field` changed:
    ctx = ctx_for(cloud, page_size=5, story_points_field="Story Points")
    run(issue_pages(ctx, "*", state(cursor)), stop_after=1)
    assert cloud.stats.by_route["GET /rest/api/{v}/field"] == 1   # rediscovered


def test_a_string_cursor_from_an_older_dihub_still_works(cloud):
    ctx = ctx_for(cloud, page_size=100)
    newest = max(i.updated for i in cloud.dataset.issues)
    cloud.stats.reset()
    _, final = run(issue_pages(ctx, "*", state(newest.strftime("%Y-%m-%dT%H:%M:%SZ"))))
    assert final == newest.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(searches(cloud)) == 1


def test_data_center_resumes_at_start_at_inside_a_bulk_minute():
    ds = Dataset.generate(50, sprints=3, seed=4, bulk_edit=25, deployment="datacenter")
    with JiraSimulator(ds, credentials=credentials(cloud=False)) as sim:
        clean, final = run(issue_pages(ctx_for(sim, page_size=5), "*", state()))
        assert sorted(clean) == sorted(str(i.id) for i in ds.issues)
        clean_queries = [(q["jql"], q["startAt"]) for q in searches(sim)]
        for stop in range(1, len(clean_queries), 2):
            sim.stats.reset()
            first, cursor = run(issue_pages(ctx_for(sim, page_size=5), "*", state()),
                                stop_after=stop)
            sim.stats.reset()
            rest, final2 = run(issue_pages(ctx_for(sim, page_size=5), "*", state(cursor)))
            assert first + rest == clean, stop            # nothing twice, nothing missed
            assert final2 == final
            # exactly the requests the uninterrupted pass made after that page
            assert [(q["jql"], q["startAt"]) for q in searches(sim)] == \
                clean_queries[stop:], stop
        assert any(q[1] != ["0"] for q in clean_queries)  # startAt grew in the bulk minute


def test_sprints_and_users_continue_at_the_next_page():
    ds = Dataset.generate(5, sprints=120, boards=1, users=2300, seed=2)
    with JiraSimulator(ds, credentials=credentials()) as sim:
        ctx = ctx_for(sim)
        pages = list(sprint_pages(ctx, "1", state(stream="sprints")))
        assert [p.cursor for p in pages] == [{"start_at": 50}, {"start_at": 100}, None]
        sim.stats.reset()
        rest = list(sprint_pages(ctx, "1", state({"start_at": 100}, "sprints")))
        assert [len(p.items) for p in rest] == [20] and rest[-1].cursor is None
        assert parse_qs(sim.stats.log[0].query)["startAt"] == ["100"]

        pages = list(user_pages(ctx, "*", state(stream="users")))
        assert [p.cursor for p in pages] == [{"start_at": 1000}, {"start_at": 2000},
                                             {"start_at": len(ds.users)}, None]
        sim.stats.reset()
        rest = list(user_pages(ctx, "*", state({"start_at": 2000}, "users")))
        assert sum(len(p.items) for p in rest) == len(ds.users) - 2000
        assert rest[-1].cursor is None and sim.stats.requests == 2


def test_a_data_center_checkpoint_lists_only_issues_the_next_query_returns_again():
    from datetime import UTC, datetime, timedelta

    from dihub.connectors.jira.client import SEEN_KEPT, _seen_again

    lower = datetime(2025, 6, 1, 10, 0, 30, tzinfo=UTC)
    old = {"1": "2025-06-01T09:50:00.000+0000", "2": "2025-06-01T09:58:59.000+0000"}
    bulk = {str(100 + n): (lower + timedelta(seconds=n % 20)).strftime(
        "%Y-%m-%dT%H:%M:%S.000+0000") for n in range(SEEN_KEPT + 500)}
    kept = _seen_again({**old, **bulk, "3": "2025-06-01T09:59:40.000+0000"}, lower)
    assert "1" not in kept and "2" not in kept and len(kept) == SEEN_KEPT
    dropped = [bulk[k] for k in set(bulk) - set(kept)]
    assert len(dropped) == 500 and max(dropped) <= min(kept.values())   # the newest kept
    assert _seen_again({"3": "2025-06-01T09:59:40.000+0000"}, lower) == \
        {"3": "2025-06-01T09:59:40.000+0000"}             # the minute before: kept


def test_an_unreadable_checkpoint_searches_from_updated(cloud):
    newest = max(i.updated for i in cloud.dataset.issues).strftime("%Y-%m-%dT%H:%M:%SZ")
    for resume in ({"lower": "not a time", "token": "x", "jql": "y"}, "garbage",
                   {"lower": None, "token": 5}):
        cloud.stats.reset()
        _, final = run(issue_pages(ctx_for(cloud), "*",
                                   state({"updated": newest, "resume": resume})))
        assert final == newest
        assert [q.get("nextPageToken") for q in searches(cloud)] == [None]
