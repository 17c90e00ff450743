"""`dihub fetch jira issues|sprints|users` after a sync: the normalized records, as JSON."""

from __future__ import annotations

import json

from tests.simulators.jira import Dataset, JiraSimulator
from tests.simulators.jira.testing import TOKEN, TOKEN_ENV, config, credentials


def test_fetch_issues_since_sprints_and_users_as_json(dihub):
    ds = Dataset.generate(300, sprints=15, seed=13, start="2025-10-01T00:00:00Z", days=120)
    with JiraSimulator(ds, credentials=credentials()) as sim:
        dihub.env[TOKEN_ENV] = TOKEN
        dihub.write_config(config(sim))
        dihub.run("sync", "jira", "--all", check_code=0)

    out = dihub.run("fetch", "jira", "issues", "--since", "2026-01-01", "--format", "json",
                    check_code=0).stdout
    issues = json.loads(out)
    want = {i.key: ds.expected(i) for i in ds.issues
            if ds.expected(i)["updated_at"] >= "2026-01-01T00:00:00Z"}
    assert 0 < len(want) < len(ds.issues)
    assert {r["issue_id"] for r in issues} == set(want)
    for r in issues:
        assert r["source"] == "jira" and r["entity"] == "issues"
        assert r["updated_at"] >= "2026-01-01T00:00:00Z"
        assert r["story_points"] == want[r["issue_id"]]["story_points"]
        assert sorted(r["sprint_ids"]) == want[r["issue_id"]]["sprint_ids"]
        assert len(r["transitions"]) == len(want[r["issue_id"]]["transitions"])
    assert [r["updated_at"] for r in issues] == sorted(r["updated_at"] for r in issues)

    sprints = json.loads(dihub.run("fetch", "jira", "sprints", "--format", "json",
                                   check_code=0).stdout)
    assert {s["sprint_id"] for s in sprints} == {str(s) for s in ds.sprints}
    assert {s["state"] for s in sprints} == {"closed", "active", "future"}

    users = json.loads(dihub.run("fetch", "jira", "users", "--format", "json",
                                 check_code=0).stdout)
    assert {u["user_id"] for u in users} == {u["accountId"] for u in ds.users}
    hidden = [u for u in users if u["email"] is None]
    assert hidden and len(hidden) < len(users)          # email only where Jira shows it
