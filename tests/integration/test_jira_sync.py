"""`dihub sync jira` end to end against the Jira simulator (Cloud): an exact sync of
5,000 issues with changelogs and 50 sprints on 3 boards, then an incremental re-sync."""

from __future__ import annotations

import math
from datetime import timedelta
from urllib.parse import parse_qs

import pytest

from dihub.timeutil import parse
from tests.integration.conftest import summary_counts
from tests.simulators.jira import Dataset, JiraSimulator
from tests.simulators.jira.testing import (
    TOKEN,
    TOKEN_ENV,
    config,
    credentials,
    issue_mismatches,
    sprint_mismatches,
    user_mismatches,
)

SEARCH = "GET /rest/api/3/search/jql"
CHANGELOG = "GET /rest/api/{v}/issue/{id}/changelog"


@pytest.fixture(scope="module")
def big() -> Dataset:
    # 5,000 issues, ~4% with changelogs longer than the 40 a search embeds (up to 260
    # histories: three changelog pages), 130 issues bulk-edited in one minute, 50 sprints
    # on 3 scrum boards plus a kanban board, the searching account in New York.
    return Dataset.generate(5000, sprints=50, boards=3, seed=7, bulk_edit=130)


def _queries(sim: JiraSimulator, route: str) -> list[dict[str, list[str]]]:
    return [parse_qs(r.query) for r in sim.stats.log if f"{r.method} {r.route}" == route]


def test_exact_sync_of_5000_issues_then_incremental(dihub, big):
    ds = big
    dihub.env[TOKEN_ENV] = TOKEN
    with JiraSimulator(ds, credentials=credentials()) as sim:
        dihub.write_config(config(sim))
        first = dihub.run("sync", "jira", "--all", check_code=0)
        store = dihub.store()

        # exact counts and content
        assert store.count("issues", "jira") == 5000
        assert store.count("sprints", "jira") == 50
        assert store.count("users", "jira") == len(ds.users)
        assert issue_mismatches(store, ds) == []
        assert sprint_mismatches(store, ds) == []
        assert user_mismatches(store, ds) == []
        long = {str(i.id): len(i.histories) for i in ds.issues if len(i.histories) > 40}
        assert long and max(long.values()) > 200        # changelogs of several pages
        assert summary_counts(first.stderr)["inserted"] == 5000 + 50 + len(ds.users)

        # one search request per 100 issues, asking only for what the records need
        searches = _queries(sim, SEARCH)
        assert len(searches) == math.ceil(5000 / 100)
        for q in searches:
            assert q["maxResults"] == ["100"] and q["expand"] == ["changelog"]
            fields = set(q["fields"][0].split(","))
            assert {"status", "updated", "customfield_10016", "customfield_10028",
                    "customfield_10020"} <= fields
            assert "customfield_10111" not in fields and "*all" not in fields
        # the truncated changelogs, and only they, completed with the bulk endpoint: each
        # issue in one bulk read (its first request; the others page on with the same
        # list), asking only for the fields the records read; fewer bulk requests than
        # searches, where a changelog page per truncated issue took 307
        assert _queries(sim, CHANGELOG) == []
        reads = [body for path, body in sim.posted if path.endswith("/changelog/bulkfetch")]
        asked = [i for b in reads if not b.get("nextPageToken") for i in b["issueIdsOrKeys"]]
        assert sorted(asked) == sorted(long)
        assert all(b["fieldIds"] == ["status", "customfield_10020"] for b in reads)
        assert all(len(b["issueIdsOrKeys"]) <= 1000 for b in reads)
        assert len(reads) < len(searches) < sum(math.ceil((n - 40) / 100)
                                                for n in long.values())

        # incremental: 20 issues change just after the cursor
        cursor = store.get_state("jira", "issues", "*").cursor
        assert cursor == max(ds.expected(i)["updated_at"] for i in ds.issues)
        ds.now = parse(cursor) + timedelta(minutes=1)
        changed = ds.issues[::250][:20]
        for n, issue in enumerate(changed):
            ds.change(issue.key, status="Done" if issue.status != "Done" else "To Do",
                      story_points=13 if n % 2 else ..., summary=f"changed {n}")
        overlap = parse(cursor) - timedelta(minutes=10)
        in_window = {i.key for i in ds.issues if i.updated >= overlap.replace(second=0)}
        sim.stats.reset()

        second = dihub.run("sync", "jira", "issues", check_code=0)
        counts = summary_counts(second.stderr)
        assert counts["updated"] == 20 and counts["inserted"] == 0
        assert counts["records"] == len(in_window) < 40
        assert len(_queries(sim, SEARCH)) == 1
        assert issue_mismatches(store, ds) == []
        assert store.count("issues", "jira") == 5000
