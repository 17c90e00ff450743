"""`dihub sync jira` against a Data Center site: REST v2, startAt paging, a personal
access token, users by key, Sprint@...[...] field strings."""

from __future__ import annotations

from urllib.parse import parse_qs

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


def test_data_center_sync_is_exact_even_when_issues_change_while_paging(dihub):
    # 150 issues edited in the same minute: more than a page, so the restart at the
    # newest minute must fall back to startAt inside that minute.
    ds = Dataset.generate(700, sprints=9, boards=3, seed=21, deployment="datacenter",
                          bulk_edit=150, zone="Australia/Sydney")
    oldest = sorted(ds.issues, key=lambda i: i.updated)[:5]
    searches = []

    def edit_after_second_page(rec):
        if rec.path == "/rest/api/2/search" and rec.status == 200:
            searches.append(parse_qs(rec.query))
            if len(searches) == 2:      # five issues already read move to the end
                for issue in oldest:
                    ds.change(issue.key, status="In Progress" if issue.status != "In Progress"
                              else "To Do")

    with JiraSimulator(ds, credentials=credentials(cloud=False)) as sim:
        sim.after_request = edit_after_second_page
        dihub.env[TOKEN_ENV] = TOKEN
        dihub.write_config(config(sim))
        dihub.run("sync", "jira", "--all", check_code=0)
        auth = {r.headers.get("authorization") for r in sim.stats.log}
        changelog_calls = [r for r in sim.stats.log if r.path.endswith("/changelog")]
    assert auth == {f"Bearer {TOKEN}"}
    store = dihub.store()
    assert store.count("issues", "jira") == 700
    assert issue_mismatches(store, ds) == []
    assert sprint_mismatches(store, ds) == []
    assert user_mismatches(store, ds) == []
    assert changelog_calls == []            # Data Center embeds the whole changelog
    starts = [int(q["startAt"][0]) for q in searches]
    assert starts[0] == 0 and max(starts) >= 100            # paged the bulk-edited minute
    assert len(searches) <= 700 // 100 + 4                 # restarts cost a few requests
    jqls = [q["jql"][0] for q in searches]
    assert all("updated >= " in j and j.endswith("ORDER BY updated ASC, key ASC")
               for j in jqls)
