"""DORA metrics over the hand-built dataset of tests/support/hub_fixture.py: every expected
value is worked out by hand in that module's docstring."""

from __future__ import annotations

import pytest

from dihub.config import MetricsSettings
from dihub.hub.dora import compute_dora
from dihub.hub.facts import load_facts
from dihub.hub.flow import make_scope
from dihub.store.sqlite import SQLiteStore
from tests.support import hub_fixture as fx


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "hub.db")
    fx.fill(s)
    yield s
    s.close()


def _dora(store, settings=None, cache=None, **filters):
    settings = settings or MetricsSettings()
    facts = load_facts(store, cache, use_cache=cache is not None)
    scope = make_scope(settings, fx.SINCE, fx.UNTIL, store=store, **filters)
    result = compute_dora(facts, settings, scope)
    facts.save()
    return result, facts


def test_dora_summary_by_hand(store):
    result, _ = _dora(store)
    assert result["summary"] == {
        "deployments": 4,                       # D1..D4; failed, branch and CI runs are not
        "deployments_per_week": 2.0,            # 4 in 2 weeks
        "commits_deployed": 6,                  # c2 c3 c4 c5 c7 c9 (m6 merge, c8 negative)
        "lead_time_median_hours": 16.0,         # 4 6 6 26 27 28 -> (6 + 26) / 2
        "lead_time_p75_hours": 26.75,           # rank 3.75: 26 + 0.75 * (27 - 26)
        "failed_deployments": 2,                # D2 (OPS-1), D3 (GitHub #20, OPS-3)
        "change_failure_rate": 0.5,
        "incidents": 3,
        "incidents_unresolved": 1,              # OPS-3
        "time_to_restore_median_hours": 5.0,    # 4 h and 6 h
        "deployments_with_unknown_head": 0,
    }


def test_dora_weekly_series_by_hand(store):
    result, _ = _dora(store)
    assert result["weekly"] == [
        {"week": "2026-W10", "deployments": 2, "failed_deployments": 1,
         "lead_time_median_hours": 16.5,        # 4 6 27 28
         "time_to_restore_median_hours": 4.0, "change_failure_rate": 0.5},
        {"week": "2026-W11", "deployments": 2, "failed_deployments": 1,
         "lead_time_median_hours": 16.0,        # 6 26
         "time_to_restore_median_hours": 6.0, "change_failure_rate": 0.5},
    ]


def test_team_selects_the_commits_by_author(store):
    settings = MetricsSettings(teams={"web": ["alice@example.com"]})
    result, _ = _dora(store, settings, team="web")
    assert result["summary"]["commits_deployed"] == 3               # c2 c4 c7
    assert result["summary"]["lead_time_median_hours"] == 26.0      # 6 26 28
    assert result["summary"]["deployments"] == 4                    # not per team


def test_configured_workflows_and_labels(store):
    only_ci = MetricsSettings(deployments={"workflows": ["CI"], "branches": ["main"]},
                              incidents={"labels": [], "issue_types": []})
    result, _ = _dora(store, only_ci)
    assert result["summary"]["deployments"] == 1        # run 107, head c4 (c2 c3 c4 before)
    assert result["summary"]["commits_deployed"] == 4   # c1..c4: the first deployment
    assert result["summary"]["incidents"] == 0
    assert result["summary"]["change_failure_rate"] == 0.0


def test_a_later_window_and_the_project_filter(store):
    settings = MetricsSettings()
    facts = load_facts(store, use_cache=False)
    scope = make_scope(settings, "2026-03-09", "2026-03-16", store=store, project="shop")
    summary = compute_dora(facts, settings, scope)["summary"]
    assert (summary["deployments"], summary["lead_time_median_hours"]) == (2, 16.0)
    scope = make_scope(settings, fx.SINCE, fx.UNTIL, store=store, project="other")
    assert compute_dora(facts, settings, scope)["summary"]["deployments"] == 0


def test_incremental_recompute_reads_and_walks_only_what_changed(store, tmp_path):
    cache = tmp_path / "facts.pickle"
    first, facts = _dora(store, cache=cache)
    assert first["walked_deployments"] == 5                       # D0..D4
    assert sum(facts.last_read.values()) == store.count("commits") + sum(
        store.count(e) for e in ("builds", "issues", "sprints", "pull_requests", "reviews",
                                 "users"))
    # a new commit and its deployment arrive
    fx.fill(store, [fx._commit("ca", "03-14 10:00", ["c9"], "alice", "SHOP-9 more"),
                    fx._build("108", "03-14 12:00", "ca")])
    second, facts = _dora(store, cache=cache)
    assert facts.last_read == {"commits": 1, "builds": 1, "issues": 0, "sprints": 0,
                               "pull_requests": 0, "reviews": 0, "users": 0}
    assert second["walked_deployments"] == 1                      # only the new one
    assert second["summary"]["deployments"] == 5
    assert second["summary"]["commits_deployed"] == 7             # + ca, 2 h
    assert second["summary"]["lead_time_median_hours"] == 6.0     # 2 4 6 6 26 27 28
    full, _ = _dora(store)                                        # no cache: the same
    assert full["summary"] == second["summary"]


def test_a_deployment_whose_commits_arrive_later_is_walked_again(store, tmp_path):
    cache = tmp_path / "facts.pickle"
    fx.fill(store, [fx._build("109", "03-15 12:00", "cz")])
    before, _ = _dora(store, cache=cache)
    assert before["summary"]["deployments_with_unknown_head"] == 1
    fx.fill(store, [fx._commit("cz", "03-15 09:00", ["c9"], "bob", "late")])
    after, _ = _dora(store, cache=cache)
    assert after["walked_deployments"] == 1
    assert after["summary"]["deployments_with_unknown_head"] == 0
    assert after["summary"]["commits_deployed"] == 7              # + cz, 3 h
